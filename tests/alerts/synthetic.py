"""Probe results for the alert rules without a network: a fake border on a fake clock."""

import dataclasses
import math
import zlib
from collections.abc import Callable, Iterable

from borderpath.alerts import AlertEngine, AlertsConfig, Notice
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector.config import SelectorConfig
from tests.storage.conftest import sample_snapshot

UPLINKS = [
    UplinkConfig(name="ct", carrier="china-telecom", interface="ct", gateway="100.64.1.1"),
    UplinkConfig(name="cu", carrier="china-unicom", interface="cu", gateway="100.64.2.1"),
    UplinkConfig(name="cm", carrier="china-mobile", interface="cm", gateway="100.64.3.1"),
]
POPS = [
    PopConfig(name=name, address=f"203.0.113.{10 + i}", prefixes=[f"198.19.{i + 1}.0/24"])
    for i, name in enumerate(["hkg", "nrt", "sin"])
]
INTERVALS = {"icmp": 0.2, "tcp": 0.2, "udp": 0.2, "quic": 5.0, "http": 10.0}
START = 1_800_000_000.0
BASE_CONFIG = """
[agent]
site = "sha-1"
[[uplinks]]
name = "ct"
carrier = "china-telecom"
interface = "ct"
gateway = "100.64.1.1"
[[pops]]
name = "hkg"
address = "203.0.113.10"
"""
"""The smallest agent config, for tests of [alerts] and the command."""

Fault = Callable[[str, str, str, float], ProbeResult | None]
"""(uplink, pop, protocol, time) -> the result to use instead of a good one, or None."""


def engine(config: AlertsConfig | None = None, **selector: object) -> AlertEngine:
    return AlertEngine(
        config or AlertsConfig(),
        UPLINKS,
        POPS,
        SelectorConfig.model_validate(selector),
        "lab-shanghai",
    )


def lost(uplink: str, pop: str, protocol: str, t: float) -> ProbeResult:
    return ProbeResult(int(t * 1e9), uplink, pop, protocol, False, error=ErrorKind.TIMEOUT)


def good(uplink: str, pop: str, protocol: str, t: float, rtt: float = 40.0) -> ProbeResult:
    return ProbeResult(int(t * 1e9), uplink, pop, protocol, True, rtt_ms=rtt)


def results(start: float, end: float, fault: Fault | None = None) -> list[ProbeResult]:
    """Every series of the fake border probed at its interval in [start, end), each at
    its own fixed phase (the same on every run), as the engine spreads them."""
    batch = []
    for uplink in UPLINKS:
        for pop in POPS:
            for protocol, interval in INTERVALS.items():
                name = f"{uplink.name}/{pop.name}/{protocol}".encode()
                phase = START + zlib.crc32(name) % 100 / 100 * interval
                t = phase + max(0, math.ceil((start - phase) / interval)) * interval
                while t < end:
                    changed = fault(uplink.name, pop.name, protocol, t) if fault else None
                    batch.append(changed or good(uplink.name, pop.name, protocol, t))
                    t += interval
    return sorted(batch, key=lambda r: r.time_ns)


def snapshots(t: float, failing: Iterable[tuple[str, str]] = ()) -> list[PathSnapshot]:
    """The selector's view: every path up, meeting its class unless in ``failing``."""
    bad = set(failing)
    return [
        dataclasses.replace(
            sample_snapshot(int(t * 1e9), u.name, p.name),
            state="up",
            sla={"interactive": (u.name, p.name) not in bad},
        )
        for u in UPLINKS
        for p in POPS
    ]


class Run:
    """Drives an engine second by second: results arrive a timeout after they were sent
    when lost (as the probe engine hands them on), at once when answered."""

    def __init__(self, alert_engine: AlertEngine, timeout: float = 2.0) -> None:
        self.engine = alert_engine
        self.timeout = timeout
        self.now = START
        self.notices: list[Notice] = []
        self._held: list[ProbeResult] = []

    def run(
        self,
        seconds: float,
        fault: Fault | None = None,
        failing_sla: Iterable[tuple[str, str]] = (),
    ) -> list[Notice]:
        """Advance ``seconds`` one second at a time; the notices issued meanwhile."""
        issued: list[Notice] = []
        failing = list(failing_sla)
        for _ in range(round(seconds)):
            sent = results(self.now, self.now + 1, fault)
            self._held += [r for r in sent if not r.ok]
            self.now += 1
            cut = int((self.now - self.timeout) * 1e9)
            due = [r for r in self._held if r.time_ns <= cut]
            self._held = [r for r in self._held if r.time_ns > cut]
            self.engine.observe([r for r in sent if r.ok] + due)
            self.engine.observe_snapshots(snapshots(self.now, failing))
            issued += self.engine.evaluate(self.now)
        self.notices += issued
        return issued


def names(notices: Iterable[Notice]) -> list[tuple[str, str]]:
    return [(n.status, n.name) for n in notices]


def blackhole(
    uplink: str | None = None,
    pop: str | None = None,
    protocols: tuple[str, ...] | None = None,
    rtt: float | None = None,
) -> Fault:
    """Lose (or, with ``rtt``, slow down) the matching series; None matches any."""

    def fault(u: str, p: str, proto: str, t: float) -> ProbeResult | None:
        if uplink not in (None, u) or pop not in (None, p):
            return None
        if protocols is not None and proto not in protocols:
            return None
        return lost(u, p, proto, t) if rtt is None else good(u, p, proto, t, rtt)

    return fault
