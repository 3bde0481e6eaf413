"""Fixtures of the storage tests: a real influxd, a database per test, sample results."""

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from borderpath.core.events import EventKind, EventRecord
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ErrorKind, ProbeResult
from tests.influxd import InfluxServer, running_influxd

_databases = itertools.count()

START_NS = 1_700_000_000_000_000_000
"""2023-11-14 22:13:20 UTC: sample results start here (on a 10 s boundary)."""


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One influxd for the session; tests that stop it start their own (``own_influxd``)."""
    with running_influxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture
def own_influxd(tmp_path: Path) -> Iterator[InfluxServer]:
    """An influxd for this test alone: it may stop and restart it."""
    with running_influxd(tmp_path / "influxd") as server:
        yield server


@pytest.fixture
def new_database() -> Callable[[InfluxServer], str]:
    """``new_database(server)`` -> the name of a fresh, empty database on it."""

    def make(server: InfluxServer) -> str:
        name = f"test{next(_databases)}"
        server.create_database(name)
        return name

    return make


def sample_results(
    count: int, start_ns: int = START_NS, step_ns: int = 10_000_000
) -> list[ProbeResult]:
    """A varied stream: every protocol, answers, timeouts, forged replies, extras."""
    protocols = ("icmp", "tcp", "udp", "http", "quic")
    results = []
    for index in range(count):
        protocol = protocols[index % 5]
        ok = index % 7 != 3
        extras: dict[str, float | int | str] = {}
        if protocol == "http":
            extras = {
                "status": 200,
                "connect_ms": 30.5,
                "tls_ms": 40.25,
                "ttfb_ms": 80.0,
                "total_ms": 151.5,
                "content_length": 2,
            }
        elif protocol == "quic":
            extras = {"alpn": "h3", "retry": 0, "version": "1", "handshake_ms": 90.25}
        elif protocol == "tcp":
            extras = {"port": 443}
        results.append(
            ProbeResult(
                time_ns=start_ns + index * step_ns,
                uplink=("ct", "cu", "cm")[index % 3],
                pop=("hkg", "nrt")[index % 2],
                protocol=protocol,
                ok=ok,
                rtt_ms=30.0 + index % 11 + 0.125 if ok else None,
                error=None if ok else (ErrorKind.FORGED if index % 2 else ErrorKind.TIMEOUT),
                forged=0 if ok or not index % 2 else 1,
                ttl=63 if ok else None,
                extras=extras,
            )
        )
    return results


def sample_snapshot(time_ns: int = START_NS, uplink: str = "ct", pop: str = "hkg") -> PathSnapshot:
    return PathSnapshot(
        time_ns=time_ns,
        uplink=uplink,
        pop=pop,
        state="degraded",
        loss=0.02,
        loss_upper=0.05,
        rtt_p50_ms=41.5,
        rtt_p95_ms=60.0,
        jitter_ms=3.25,
        mos=4.1,
        score=52.0,
        selected=True,
        sla={"voice": False, "bulk": True},
    )


def sample_event(time_ns: int = START_NS, **values: float | int | str | bool) -> EventRecord:
    return EventRecord(
        time_ns=time_ns,
        kind=EventKind.DECISION,
        text="hkg: ct -> cu, ct lost 12 % in the last minute",
        labels={"uplink": "cu", "pop": "hkg", "fingerprint": "abc123"},
        values={"score_ct": 80.5, "score_cu": 40.0, **values},
    )
