"""ICMP echo: forged echo replies never count as the PoP answering."""

from typing import Any

import pytest

from borderpath.core.results import ErrorKind
from borderpath.lab.lab import Lab
from tests.probes.conftest import fast_probing, probe_lab

PATH: dict[str, Any] = {"only_uplinks": {"cm"}, "only_pops": {"sin"}}


@pytest.mark.lab
def test_injected_echo_replies_are_counted_as_forged_and_the_real_reply_wins(
    shared_lab: Lab,
) -> None:
    shared_lab.apply([{"uplink": "cm", "pop": "sin", "inject": "echo"}])
    try:
        results = probe_lab(shared_lab, ["icmp"], rounds=5, **PATH)
    finally:
        shared_lab.apply([{"uplink": "cm", "pop": "sin", "inject": "none"}])
    answered = [r for r in results if r.ok]
    assert answered, "the PoP's own replies still arrive"
    assert all(r.forged >= 1 for r in results)
    assert all(r.rtt_ms is not None and r.rtt_ms > 100 for r in answered)  # not the forgery's
    assert len({r.ttl for r in answered}) == 1  # the PoP's TTL (learnt), not the forger's
    assert 113 not in {r.ttl for r in answered}


@pytest.mark.lab
def test_only_forged_echoes_is_a_failure_never_a_success(shared_lab: Lab) -> None:
    shared_lab.apply(
        [
            {"uplink": "cm", "pop": "sin", "inject": "echo"},
            {"uplink": "cm", "pop": "sin", "direction": "in", "blackhole": True},
        ]
    )
    try:
        results = probe_lab(
            shared_lab,
            ["icmp"],
            rounds=3,
            probing=fast_probing(timeout=0.5),
            **PATH,
        )
    finally:
        shared_lab.apply(
            [
                {"uplink": "cm", "pop": "sin", "inject": "none"},
                {"uplink": "cm", "pop": "sin", "direction": "in", "blackhole": False},
            ]
        )
    assert [r.ok for r in results] == [False] * 3
    assert {r.error for r in results} == {ErrorKind.FORGED}
    assert all(r.forged >= 1 for r in results)
