"""The engine: pacing, batches and every protocol, on loopback and across the lab."""

import asyncio
import itertools
import statistics
from pathlib import Path

import pytest

from borderpath.core.protocols import ProtocolName
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.core.topology import PopConfig
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine
from borderpath.probes.config import ProbingConfig
from borderpath.probes.engine import _next_step
from tests.probes.conftest import (
    LOOPBACK,
    against_responder,
    fast_probing,
    ground_truth_ms,
    in_namespace,
    probe_lab,
)


def test_a_late_loop_skips_missed_steps_instead_of_bursting() -> None:
    assert _next_step(10.0, 1.0, now=10.5) == 11.0
    assert _next_step(10.0, 1.0, now=13.2) == 14.0


def _icmp_rounds(namespace: str, address: str, rounds: int, **probing: object) -> list[ProbeResult]:
    pop = PopConfig(name="self", address=address, protocols=["icmp"])
    batches: list[list[ProbeResult]] = []

    async def main() -> None:
        settings = {"interval": 0.02, "batch_interval": 0.02, **probing}
        config = ProbingConfig.model_validate(settings)
        engine = Engine([LOOPBACK], [pop], config, batches.append, rounds=rounds)
        await engine.start()
        await engine.finished()
        await engine.stop()
        assert engine.stats()["lo", "self", "icmp"].received == len(
            [r for batch in batches for r in batch if r.ok]
        )

    in_namespace(namespace, main)
    assert batches, "results arrive in batches"
    return [result for batch in batches for result in batch]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def test_icmp_answers_on_loopback_in_both_families(scratch_namespace: str, address: str) -> None:
    results = _icmp_rounds(scratch_namespace, address, rounds=20)
    assert len(results) == 20
    assert all(r.ok and r.error is None for r in results)
    assert all(r.ttl == 64 for r in results)  # learnt from the replies, never assumed
    assert statistics.median(r.rtt_ms or 0 for r in results) < 1.0


def test_bursts_send_several_probes_per_step(scratch_namespace: str) -> None:
    results = _icmp_rounds(scratch_namespace, "127.0.0.1", rounds=3, burst=4, interval=0.1)
    assert len(results) == 12
    starts = sorted(r.time_ns for r in results)
    gaps_ms = [(b - a) / 1e6 for a, b in itertools.pairwise(starts)]
    assert statistics.median(gaps_ms) >= 4.0  # burst_spacing 5 ms, not all at once


def test_a_target_without_route_is_unreachable_each_round(scratch_namespace: str) -> None:
    # 192.0.2.99 has no route in an empty namespace: the send itself fails, no timeout.
    results = _icmp_rounds(scratch_namespace, "192.0.2.99", rounds=2, timeout=0.2)
    assert [r.error for r in results] == [ErrorKind.UNREACHABLE] * 2


@pytest.mark.parametrize("protocol", ["icmp", "tcp", "udp", "quic", "http"])
def test_every_protocol_answers_over_ipv6(
    scratch_namespace: str, tmp_path: Path, protocol: ProtocolName
) -> None:
    results = against_responder(scratch_namespace, tmp_path, protocol, rounds=3, address="::1")
    assert [r.ok for r in results] == [True] * 3, [r.error for r in results]
    if protocol in ("icmp", "tcp", "udp"):
        assert {r.ttl for r in results} == {64}  # the hop limit, learnt from the replies


ALL: list[ProtocolName] = ["icmp", "tcp", "udp", "quic", "http"]


@pytest.mark.lab
def test_every_protocol_measures_every_path_like_the_lab_says(shared_lab: Lab) -> None:
    def run(protocols: set[str], rounds: int, interval: float) -> list[ProbeResult]:
        probing = fast_probing(intervals={"quic": interval, "http": interval})
        return probe_lab(
            shared_lab,
            ALL,
            rounds=rounds,
            only_protocols=protocols,
            probing=probing,
        )

    # The p50 of n samples with 1.4 ms of path jitter wanders by about 1.8 / sqrt(n) ms:
    # 60 samples keep a 1 ms bound over 60 series honest (30 HTTP samples once missed
    # it by 0.03 ms in CI: a 3-sigma draw, expected now and then over 60 series).
    results = run({"icmp", "tcp", "udp"}, rounds=60, interval=0.05)
    results += run({"http"}, rounds=60, interval=0.1)
    results += run({"quic"}, rounds=5, interval=0.3)
    by_series: dict[tuple[str, str, str], list[float]] = {}
    for result in results:
        if result.ok and result.rtt_ms is not None:
            by_series.setdefault(result.series, []).append(result.rtt_ms)
    paths = {
        (u["name"], p["name"])
        for u in shared_lab.status()["uplinks"]
        for p in shared_lab.status()["pops"]
    }
    assert {k for k in by_series} == {(u, p, x) for u, p in paths for x in ALL}
    errors = {
        key: statistics.median(rtts) - ground_truth_ms(shared_lab, *key)
        for key, rtts in by_series.items()
    }
    off = {
        "/".join(key): round(error, 2)
        for key, error in errors.items()
        if not -1.0 < error < TOLERANCE_MS.get(key[2], 1.0)
    }
    assert not off, f"p50 further from the lab's delay than allowed: {off}"


TOLERANCE_MS = {"quic": 100.0}
"""QUIC's first flight includes the responder's key exchange (aioquic, pure Python) and
both event loops: 2 to 5 ms over the path's round trip on an idle machine, tens of ms
when the machine is loaded; here it must only never beat the lab's delay. Everything
else (kernel timestamps): within 1 ms."""


@pytest.mark.lab
def test_a_blackholed_path_fails_on_every_protocol_within_the_timeout(shared_lab: Lab) -> None:
    shared_lab.apply([{"uplink": "ct", "pop": "hkg", "blackhole": True}])
    try:
        results = probe_lab(
            shared_lab,
            ALL,
            rounds=2,
            only_uplinks={"ct"},
            only_pops={"hkg"},
            probing=fast_probing(timeout=0.5),
        )
    finally:
        shared_lab.apply([{"uplink": "ct", "pop": "hkg", "blackhole": False}])
    assert len(results) == 10
    assert all(not r.ok and r.error == ErrorKind.TIMEOUT for r in results)


@pytest.mark.lab
def test_a_udp_event_fails_udp_and_quic_while_icmp_and_tcp_stay_up(shared_lab: Lab) -> None:
    shared_lab.apply([{"uplink": "cu", "pop": "nrt", "protocol": "udp", "blackhole": True}])
    try:
        results = probe_lab(
            shared_lab,
            ALL,
            rounds=2,
            only_uplinks={"cu"},
            only_pops={"nrt"},
            probing=fast_probing(timeout=0.5),
        )
    finally:
        shared_lab.apply([{"uplink": "cu", "pop": "nrt", "protocol": "udp", "blackhole": False}])
    verdict = {r.protocol: r.ok for r in results}
    assert verdict == {"icmp": True, "tcp": True, "http": True, "udp": False, "quic": False}


def test_stop_drops_probes_still_in_flight_instead_of_calling_them_lost(
    scratch_namespace: str,
) -> None:
    netns.ip_batch(
        scratch_namespace,
        [
            "link add v0 type veth peer name v1",  # v1 holds no address: nobody answers
            "addr add 198.18.255.1/24 dev v0",
            "link set v0 up",
            "link set v1 up",
        ],
    )
    silent = PopConfig(name="self", address="198.18.255.2", protocols=["icmp"])  # no neighbour
    results: list[ProbeResult] = []

    async def main() -> int:
        engine = Engine([LOOPBACK], [silent], ProbingConfig(interval=0.01), results.extend)
        await engine.start()
        await asyncio.sleep(0.3)
        await engine.stop()
        return engine.stats()["lo", "self", "icmp"].sent

    sent = in_namespace(scratch_namespace, main)
    assert sent > 5
    assert results == []  # none had reached its 2 s timeout: none was lost


def test_series_are_spread_over_their_interval(scratch_namespace: str) -> None:
    pops = [
        PopConfig(name=f"p{n}", address=f"127.0.0.{n}", protocols=["icmp"]) for n in range(1, 5)
    ]
    results: list[ProbeResult] = []

    async def main() -> None:
        probing = ProbingConfig(interval=0.4, batch_interval=0.05)
        engine = Engine([LOOPBACK], pops, probing, results.extend, rounds=1)
        await engine.start()
        await engine.finished()
        await engine.stop()

    in_namespace(scratch_namespace, main)
    starts = sorted(r.time_ns for r in results)
    gaps_ms = [(b - a) / 1e6 for a, b in itertools.pairwise(starts)]
    assert all(80 < gap < 120 for gap in gaps_ms), gaps_ms  # 400 ms / 4 series
