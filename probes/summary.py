"""One line per series from a batch of results: what ``borderpath probe`` prints."""

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any

from borderpath.core import figures
from borderpath.core.results import ProbeResult


@dataclasses.dataclass(frozen=True)
class SeriesSummary:
    """One series' figures (``summary.jitter_ms`` is RFC 3550's, the one SLAs are judged
    on) with what only a run of probes shows."""

    summary: figures.Summary
    mean_step_ms: float | None
    """Mean |difference| of consecutive RTTs: a steadier read than the smoothed RFC 3550
    jitter over the few probes of one run; never what an SLA is judged on."""
    errors: dict[str, int]

    @property
    def series(self) -> str:
        return "/".join((self.summary.uplink, self.summary.pop, self.summary.protocol))

    def document(self) -> dict[str, Any]:
        """The JSON object ``borderpath probe --json`` prints for the series."""
        numbers = dataclasses.asdict(self.summary)
        for key in ("uplink", "pop", "protocol", "start_ns"):
            del numbers[key]
        return {
            "series": self.series,
            **numbers,
            "mean_step_ms": self.mean_step_ms,
            "errors": self.errors,
        }


def summarize(results: Iterable[ProbeResult]) -> list[SeriesSummary]:
    """Summaries in series order (uplink, PoP, protocol)."""
    by_series: dict[tuple[str, str, str], list[ProbeResult]] = collections.defaultdict(list)
    for result in results:
        by_series[result.series].append(result)
    return [_summary(key, rows) for key, rows in sorted(by_series.items())]


def _summary(key: tuple[str, str, str], rows: list[ProbeResult]) -> SeriesSummary:
    rows = sorted(rows, key=lambda r: r.time_ns)
    samples = [(r.time_ns, r.ok and r.rtt_ms is not None, r.rtt_ms, r.forged) for r in rows]
    errors = collections.Counter(str(r.error) for r in rows if r.error is not None)
    return SeriesSummary(
        summary=figures.summarize(*key, rows[0].time_ns, samples),
        mean_step_ms=figures.mean_step(rtt if ok else None for _, ok, rtt, _ in samples),
        errors=dict(errors),
    )


def table(summaries: list[SeriesSummary]) -> str:
    """A plain text table, one series per line; jitter is RFC 3550's, mean-step the mean
    |difference| of consecutive RTTs."""
    header = (
        f"{'series':<18} {'sent':>5} {'recv':>5} {'loss':>6} {'min':>8} {'p50':>8} "
        f"{'p95':>8} {'jitter':>7} {'mean-step':>9} {'forged':>6}  errors"
    )
    lines = [header]
    for line in summaries:
        s = line.summary
        errors = ", ".join(f"{kind} {count}" for kind, count in sorted(line.errors.items()))
        lines.append(
            f"{line.series:<18} {s.sent:>5} {s.received:>5} {s.loss:>6.1%} "
            f"{_ms(s.rtt_min_ms):>8} {_ms(s.rtt_p50_ms):>8} {_ms(s.rtt_p95_ms):>8} "
            f"{_ms(s.jitter_ms):>7} {_ms(line.mean_step_ms):>9} {s.forged:>6}  {errors}"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
