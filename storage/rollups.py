"""Rollups: the summary of each step of probe results (core/figures.py computes it),
and rows of several steps merged into one summary over their span."""

from collections.abc import Sequence

from borderpath.core.figures import Summary, median

STEPS_S = (10, 60)
"""Rollup steps in seconds: 10 s (kept 14 days by default) and 1 min (400 days)."""


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
