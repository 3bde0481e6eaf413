"""Summaries of a step of probe results: the numbers a rollup row keeps.

Pure code over ``(time_ns, ok, rtt_ms, forged)`` samples: the store feeds it rows
from SQLite and keeps what it returns.
"""

import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence

STEPS_S = (10, 60)
"""Rollup steps in seconds: 10 s (kept 14 days by default) and 1 min (400 days)."""

Sample = tuple[int, bool, float | None, int]
"""(time_ns, ok, rtt_ms, forged)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    """One series (protocol given) or one path (protocol ``*``) over one window."""

    uplink: str
    pop: str
    protocol: str
    start_ns: int
    sent: int
    received: int
    loss: float
    """Lost fraction of sent probes, 0..1."""
    rtt_min_ms: float | None
    rtt_p50_ms: float | None
    rtt_p95_ms: float | None
    rtt_max_ms: float | None
    rtt_mean_ms: float | None
    jitter_ms: float | None
    """Mean absolute difference of consecutive RTTs (RFC 3550's idea, unsmoothed)."""
    forged: int


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks of an ascending, non-empty sequence."""
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None; None when there are none."""
    present = sorted(value for value in values if value is not None)
    return percentile(present, 0.5) if present else None


def summarize(
    uplink: str, pop: str, protocol: str, start_ns: int, samples: Iterable[Sample]
) -> Summary:
    """The summary of ``samples`` (in any order) as one rollup row."""
    ordered = sorted(samples, key=lambda sample: sample[0])
    rtts = [rtt for _, ok, rtt, _ in ordered if ok and rtt is not None]
    sent = len(ordered)
    received = sum(1 for _, ok, _, _ in ordered if ok)
    forged = sum(count for *_, count in ordered)
    ranked = sorted(rtts)
    jitter = (
        sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)
        if len(rtts) > 1
        else None
    )
    return Summary(
        uplink=uplink,
        pop=pop,
        protocol=protocol,
        start_ns=start_ns,
        sent=sent,
        received=received,
        loss=(sent - received) / sent if sent else 0.0,
        rtt_min_ms=ranked[0] if ranked else None,
        rtt_p50_ms=percentile(ranked, 0.5) if ranked else None,
        rtt_p95_ms=percentile(ranked, 0.95) if ranked else None,
        rtt_max_ms=ranked[-1] if ranked else None,
        rtt_mean_ms=sum(ranked) / len(ranked) if ranked else None,
        jitter_ms=jitter,
        forged=forged,
    )


def merge(uplink: str, pop: str, protocol: str, start_ns: int, rows: Sequence[Summary]) -> Summary:
    """Rollup rows of one series (or path) merged into one summary over their span:
    counts, loss, extremes and mean are exact; p50, p95 and jitter are the medians of
    the rows' values (the raw samples are no longer there)."""
    sent = sum(row.sent for row in rows)
    received = sum(row.received for row in rows)
    means = [(row.rtt_mean_ms, row.received) for row in rows if row.rtt_mean_ms is not None]
    weight = sum(count for _, count in means)
    return Summary(
        uplink=uplink,
        pop=pop,
        protocol=protocol,
        start_ns=start_ns,
        sent=sent,
        received=received,
        loss=(sent - received) / sent if sent else 0.0,
        rtt_min_ms=min((r.rtt_min_ms for r in rows if r.rtt_min_ms is not None), default=None),
        rtt_p50_ms=median(row.rtt_p50_ms for row in rows),
        rtt_p95_ms=median(row.rtt_p95_ms for row in rows),
        rtt_max_ms=max((r.rtt_max_ms for r in rows if r.rtt_max_ms is not None), default=None),
        rtt_mean_ms=sum(mean * count for mean, count in means) / weight if weight else None,
        jitter_ms=median(row.jitter_ms for row in rows),
        forged=sum(row.forged for row in rows),
    )
