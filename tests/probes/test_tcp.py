"""TCP SYN probes: an injected RST is not the PoP refusing, a real refusal is."""

from typing import Any

import pytest

from borderpath.core.results import ErrorKind
from borderpath.core.topology import PopConfig
from borderpath.lab.lab import Lab
from tests.probes.conftest import LOOPBACK, fast_probing, in_namespace, probe_lab

PATH: dict[str, Any] = {"only_uplinks": {"cu"}, "only_pops": {"fra"}}


@pytest.mark.lab
def test_injected_resets_are_forged_and_the_syn_ack_still_counts(shared_lab: Lab) -> None:
    shared_lab.apply([{"uplink": "cu", "pop": "fra", "inject": "rst"}])
    try:
        # icmp first: the PoP's TTL is known before the first RST arrives.
        results = probe_lab(shared_lab, ["icmp", "tcp"], rounds=4, **PATH)
    finally:
        shared_lab.apply([{"uplink": "cu", "pop": "fra", "inject": "none"}])
    tcp = [r for r in results if r.protocol == "tcp"]
    assert all(r.ok for r in tcp), [r.error for r in tcp]
    assert all(r.forged == 3 for r in tcp)  # the injector's burst of three, each time
    assert all(r.rtt_ms is not None and r.rtt_ms > 190 for r in tcp)


@pytest.mark.lab
def test_resets_alone_never_make_a_refusal_or_a_success(shared_lab: Lab) -> None:
    changes: list[dict[str, Any]] = [
        {"uplink": "cu", "pop": "fra", "inject": "rst"},
        {"uplink": "cu", "pop": "fra", "direction": "in", "protocol": "tcp", "blackhole": True},
    ]
    shared_lab.apply(changes)
    try:
        results = probe_lab(
            shared_lab,
            ["tcp"],
            rounds=3,
            probing=fast_probing(timeout=0.5),
            **PATH,
        )
    finally:
        shared_lab.apply([{**change, "inject": "none", "blackhole": False} for change in changes])
    assert [r.error for r in results] == [ErrorKind.FORGED] * 3


def test_a_closed_port_is_a_refusal(scratch_namespace: str) -> None:
    from borderpath.core.results import ProbeResult
    from borderpath.probes import Engine

    pop = PopConfig(name="self", address="127.0.0.1", protocols=["tcp"], tcp_port=9)
    results: list[ProbeResult] = []

    async def main() -> None:
        engine = Engine([LOOPBACK], [pop], fast_probing(), results.extend, rounds=3)
        await engine.start()
        await engine.finished()
        await engine.stop()

    in_namespace(scratch_namespace, main)
    assert [r.error for r in results] == [ErrorKind.REFUSED] * 3
    assert {r.ttl for r in results} == {64}
    assert {r.extras["port"] for r in results} == {9}  # the port tag of net_response


@pytest.mark.lab
def test_a_lost_syn_ack_is_a_loss_not_a_one_second_rtt(shared_lab: Lab) -> None:
    # Hong Kong: the PoP's second SYN-ACK arrives 1 s + 40 ms after the SYN, well inside
    # a half-second batch interval (the engine's sweep of expired probes).
    near: dict[str, Any] = {"only_uplinks": {"cu"}, "only_pops": {"hkg"}}
    lossy = {"uplink": "cu", "pop": "hkg", "direction": "in", "protocol": "tcp", "loss": 0.5}
    shared_lab.apply([lossy])
    try:
        capped = probe_lab(
            shared_lab,
            ["tcp"],
            rounds=30,
            probing=fast_probing(timeout=2.0, timeouts={}, batch_interval=0.5),
            **near,
        )
        waited = probe_lab(
            shared_lab, ["tcp"], rounds=30, probing=fast_probing(timeouts={"tcp": 3.0}), **near
        )
    finally:
        shared_lab.apply([{**lossy, "loss": 0.0}])
    slowest = max(r.rtt_ms for r in capped if r.rtt_ms is not None)
    assert slowest < 1000 and any(r.error == ErrorKind.TIMEOUT for r in capped)
    # Waited for, the PoP's second SYN-ACK (1 s later) arrives and would be the "RTT".
    assert any(r.rtt_ms is not None and r.rtt_ms > 1000 for r in waited)
