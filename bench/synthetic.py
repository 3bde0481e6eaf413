"""Synthetic probe streams on a simulated clock, for tests and benchmarks.

Each series is probed every ``interval``; a probe is lost with the link's loss and
its timeout result arrives ``timeout`` later (as from a real engine), an answered one
arrives at once with RTT = base + |gaussian jitter|. Conditions are a function of
(uplink, pop, protocol, time), so any scenario is a few lines.
"""

import dataclasses
import heapq
import random
from collections.abc import Callable, Iterator, Sequence

from borderpath.core.results import ErrorKind, ProbeResult


@dataclasses.dataclass(frozen=True)
class Link:
    """What one series sees at one moment."""

    rtt_ms: float
    jitter_ms: float = 1.0
    loss: float = 0.0


BLACKHOLE = Link(rtt_ms=0.0, loss=1.0)

Conditions = Callable[[str, str, str, float], Link]
"""(uplink, pop, protocol, seconds since the stream started) -> Link."""

Timed = Iterator[tuple[float, list[ProbeResult]]]
"""(now, the results that arrived since the previous step)."""


@dataclasses.dataclass(frozen=True)
class Event:
    """A change of one path's link (every protocol unless one is named) for a while."""

    start: float
    end: float
    uplink: str
    pop: str
    link: Link
    protocol: str | None = None

    def applies(self, uplink: str, pop: str, protocol: str, t: float) -> bool:
        return (
            self.start <= t < self.end
            and (uplink, pop) == (self.uplink, self.pop)
            and self.protocol in (None, protocol)
        )


def scheduled(base: Callable[[str, str], Link], events: Sequence[Event] = ()) -> Conditions:
    """Conditions from a per-path base link and timed events (the last that applies wins)."""

    def conditions(uplink: str, pop: str, protocol: str, t: float) -> Link:
        for event in reversed(events):
            if event.applies(uplink, pop, protocol, t):
                return event.link
        return base(uplink, pop)

    return conditions


def probe_stream(
    series: Sequence[tuple[str, str, str]],
    conditions: Conditions,
    *,
    start: float,
    duration: float,
    interval: float,
    timeout: float = 1.0,
    seed: int = 0,
) -> Timed:
    """Probe every series every ``interval`` from ``start`` for ``duration`` seconds."""
    rng = random.Random(seed)
    pending: list[tuple[float, int, ProbeResult]] = []
    order = 0
    steps = round(duration / interval)
    for step in range(steps + 1):
        now = start + step * interval
        arrived = []
        for uplink, pop, protocol in series:
            link = conditions(uplink, pop, protocol, now - start)
            time_ns = int(now * 1e9)
            if rng.random() < link.loss:
                lost = ProbeResult(time_ns, uplink, pop, protocol, False, error=ErrorKind.TIMEOUT)
                order += 1
                heapq.heappush(pending, (now + timeout, order, lost))
            else:
                rtt = link.rtt_ms + abs(rng.gauss(0.0, link.jitter_ms))
                arrived.append(ProbeResult(time_ns, uplink, pop, protocol, True, rtt_ms=rtt))
        while pending and pending[0][0] <= now:
            arrived.append(heapq.heappop(pending)[2])
        yield now, arrived
