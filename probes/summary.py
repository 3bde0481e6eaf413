"""One line per series from a batch of results: what ``borderpath probe`` prints."""

import collections
import dataclasses
import itertools
import math
import statistics
from collections.abc import Iterable

from borderpath.probes.result import ProbeResult


@dataclasses.dataclass(frozen=True)
class SeriesSummary:
    series: str
    sent: int
    received: int
    loss: float
    """Fraction of probes without a genuine answer."""
    rtt_min_ms: float | None
    rtt_p50_ms: float | None
    rtt_p95_ms: float | None
    jitter_ms: float | None
    """Mean difference between consecutive RTTs (RFC 3550's spirit, without smoothing)."""
    forged: int
    errors: dict[str, int]


def summarize(results: Iterable[ProbeResult]) -> list[SeriesSummary]:
    """Summaries in series order (uplink, PoP, protocol)."""
    by_series: dict[tuple[str, str, str], list[ProbeResult]] = collections.defaultdict(list)
    for result in results:
        by_series[result.series].append(result)
    return [_summary(key, rows) for key, rows in sorted(by_series.items())]


def _summary(key: tuple[str, str, str], rows: list[ProbeResult]) -> SeriesSummary:
    rows = sorted(rows, key=lambda r: r.time_ns)
    rtts = [r.rtt_ms for r in rows if r.ok and r.rtt_ms is not None]
    ordered = sorted(rtts)
    errors = collections.Counter(str(r.error) for r in rows if r.error is not None)
    return SeriesSummary(
        series="/".join(key),
        sent=len(rows),
        received=len(rtts),
        loss=1 - len(rtts) / len(rows),
        rtt_min_ms=ordered[0] if ordered else None,
        rtt_p50_ms=statistics.median(ordered) if ordered else None,
        rtt_p95_ms=percentile(ordered, 0.95) if ordered else None,
        jitter_ms=(
            statistics.fmean(abs(b - a) for a, b in itertools.pairwise(rtts))
            if len(rtts) > 1
            else None
        ),
        forged=sum(r.forged for r in rows),
        errors=dict(errors),
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def table(summaries: list[SeriesSummary]) -> str:
    """A plain text table, one series per line."""
    header = (
        f"{'series':<18} {'sent':>5} {'recv':>5} {'loss':>6} {'min':>8} {'p50':>8} "
        f"{'p95':>8} {'jitter':>7} {'forged':>6}  errors"
    )
    lines = [header]
    for s in summaries:
        errors = ", ".join(f"{kind} {count}" for kind, count in sorted(s.errors.items()))
        lines.append(
            f"{s.series:<18} {s.sent:>5} {s.received:>5} {s.loss:>6.1%} {_ms(s.rtt_min_ms):>8} "
            f"{_ms(s.rtt_p50_ms):>8} {_ms(s.rtt_p95_ms):>8} {_ms(s.jitter_ms):>7} "
            f"{s.forged:>6}  {errors}"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
