"""Per-series facts for the rules, read from the same ProbeResult batches the selector gets.

The rules keep their own facts rather than rely on the selector's state alone: a path
is down when nothing has genuinely answered on any protocol for a while, whatever the
protocols' intervals (quic every 5 s, http every 10 s must not delay it), and a
protocol is failing from its own recent results. Results are kept in send-time order
(a loss arrives a timeout after later answers) over the longest window a rule reads.
"""

import bisect
import dataclasses
from collections.abc import Iterable

from borderpath.alerts.alert import Path
from borderpath.core.figures import Summary, summarize
from borderpath.core.results import ProbeResult

_NS = 1_000_000_000

Sample = tuple[int, bool, bool, float | None, int]
"""(send time ns, ok, answered, rtt ms, forged)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """One series over a window."""

    summary: Summary
    """Sent, loss, RTT percentiles, jitter and forged answers in the window."""
    rtts: list[float]
    run_lost: int
    """Probes lost in a row at the end of the series (whole kept history)."""


@dataclasses.dataclass(slots=True)
class _Series:
    samples: list[Sample] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class _PathLife:
    last_answer_ns: int | None = None
    first_seen_ns: int | None = None
    recovered_ns: int = 0
    """Arrival time of the first answer after the last outage (0: none seen)."""


class Facts:
    """Recent results of every series and when each path last answered."""

    def __init__(self, keep: float, outage: float) -> None:
        self.keep_ns = int(keep * _NS)
        self.outage_ns = int(outage * _NS)
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._paths: dict[Path, _PathLife] = {}
        self._of_path: dict[Path, list[_Series]] = {}

    def add(self, batch: Iterable[ProbeResult]) -> None:
        for result in batch:
            answered = result.answered
            sample = (result.time_ns, result.ok, answered, result.rtt_ms, result.forged)
            series = self._series.get(result.series)
            if series is None:
                series = self._series[result.series] = _Series()
                self._of_path.setdefault(result.path, []).append(series)
            bisect.insort(series.samples, sample, key=_time)
            life = self._paths.setdefault(result.path, _PathLife())
            if life.first_seen_ns is None:
                life.first_seen_ns = result.time_ns
            if answered and (life.last_answer_ns or 0) < result.time_ns:
                if result.time_ns - (life.last_answer_ns or life.first_seen_ns) >= self.outage_ns:
                    life.recovered_ns = _arrival_ns(result)
                life.last_answer_ns = result.time_ns

    def trim(self) -> None:
        """Forget samples older than ``keep`` before each series' newest one."""
        for series in self._series.values():
            if series.samples:
                cut = series.samples[-1][0] - self.keep_ns
                index = bisect.bisect_left(series.samples, cut, key=_time)
                if index:
                    del series.samples[:index]

    def paths(self) -> list[Path]:
        return list(self._paths)

    def silence(self, path: Path) -> tuple[float, int]:
        """(seconds between the last genuine answer and the newest lost probe, probes lost
        since that answer) on every protocol of the path; (0, 0) while it answers."""
        life = self._paths.get(path)
        if life is None:
            return 0.0, 0
        since = life.last_answer_ns if life.last_answer_ns is not None else life.first_seen_ns
        assert since is not None
        newest_lost, lost = since, 0
        for series in self._of_path.get(path, ()):
            for time_ns, _, answered, _, _ in reversed(series.samples):
                if answered or time_ns <= since:
                    break
                lost += 1
                newest_lost = max(newest_lost, time_ns)
        return (newest_lost - since) / _NS, lost

    def window(
        self, path: Path, protocol: str, since_ns: int, until_ns: int | None = None
    ) -> Window | None:
        """A series over ``[since_ns, until_ns]``; None when it has no probe there."""
        series = self._series.get((*path, protocol))
        if series is None:
            return None
        first = bisect.bisect_left(series.samples, since_ns, key=_time)
        last = len(series.samples)
        if until_ns is not None:
            last = bisect.bisect_right(series.samples, until_ns, key=_time)
        recent = series.samples[first:last]
        if not recent:
            return None
        run = 0
        for sample in reversed(series.samples):
            if sample[2]:
                break
            run += 1
        samples = [(t, ok, rtt, forged) for t, ok, _, rtt, forged in recent]
        return Window(
            summary=summarize(*path, protocol, since_ns, samples),
            rtts=[rtt for _, ok, rtt, _ in samples if ok and rtt is not None],
            run_lost=run,
        )

    def last_answer_ns(self, path: Path) -> int | None:
        """Send time of the path's newest genuine answer on any protocol."""
        life = self._paths.get(path)
        return None if life is None else life.last_answer_ns

    def recovered_ns(self, path: Path) -> int:
        """Arrival time of the first answer after the path's last outage (a silence of at
        least ``outage``), 0 if it had none: windows start there, so an outage's losses
        do not make a recovered path look degraded or interfered with."""
        life = self._paths.get(path)
        return 0 if life is None else life.recovered_ns


def _arrival_ns(result: ProbeResult) -> int:
    """When an answer came back. A handshake sent during an outage (QUIC, or HTTP over
    the kernel's TCP) can retransmit its way through once the path is back; its send
    time lies inside the outage, and windows starting there counted the outage's last
    losses as a brownout (path_degraded fired as a PoP fault cleared)."""
    return result.time_ns + int((result.rtt_ms or 0.0) * 1e6)


def _time(sample: Sample) -> int:
    return sample[0]
