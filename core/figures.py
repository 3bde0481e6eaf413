"""The figures every part reports, defined once: percentiles, median, the Wilson
interval of a loss, the two jitters and the summary of a run of probes.

- Percentiles interpolate linearly between closest ranks (numpy's default, 'linear'):
  the p95 of 40, 41, 42 ms is 41.9 ms wherever it is printed.
- Jitter is RFC 3550's interarrival jitter, ``J += (|D| - J) / 16`` over consecutive
  answered probes; it is the one SLA classes are judged on. ``mean_step`` (the plain
  mean of the same ``|D|``) is another figure and is always shown under its own name.
- A pair of probes is consecutive only if neither was lost: a loss breaks the pair.

Plain Python over a few hundred values; selector/metrics.py computes the same figures
for every series at once with numpy, and tests hold the two to agree.
"""

import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence

WILSON_Z = 1.959964
"""Two-sided 95 % normal quantile."""

RFC3550_GAIN = 1 / 16
"""RFC 3550 section 6.4.1: each new |D| moves the jitter by a sixteenth of the gap."""

Sample = tuple[int, bool, float | None, int]
"""One probe: (send time ns, ok, rtt ms, forged answers)."""


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


def wilson(lost: int, sent: int) -> tuple[float, float]:
    """Lower and upper bounds of the Wilson 95 % interval of lost/sent: 1 lost of 3 is
    "between 6 % and 79 %", not "33 %". NaN for both when nothing was sent."""
    if sent == 0:
        return math.nan, math.nan
    p = lost / sent
    z2 = WILSON_Z * WILSON_Z
    centre = (p + z2 / (2 * sent)) / (1 + z2 / sent)
    half = WILSON_Z * math.sqrt(p * (1 - p) / sent + z2 / (4 * sent * sent)) / (1 + z2 / sent)
    return max(0.0, centre - half), min(1.0, centre + half)


def steps(rtts: Iterable[float | None]) -> list[float]:
    """|D| of each pair of consecutive probes in send order; None (lost, or answered
    without an RTT) breaks the pair."""
    return [abs(b - a) for a, b in itertools.pairwise(rtts) if a is not None and b is not None]


def next_jitter(jitter: float | None, step: float) -> float:
    """RFC 3550 jitter after one more |D|. The first |D| seeds it: starting from 0, as
    the RFC does, reads low for the first few dozen pairs, longer than a window lasts."""
    return step if jitter is None else jitter + (step - jitter) * RFC3550_GAIN


def rfc3550_jitter(rtts: Iterable[float | None]) -> float | None:
    """RFC 3550 interarrival jitter of RTTs in send order; None without a single pair."""
    jitter: float | None = None
    for step in steps(rtts):
        jitter = next_jitter(jitter, step)
    return jitter


def mean_step(rtts: Iterable[float | None]) -> float | None:
    """Mean |D| of consecutive RTTs in send order (unsmoothed, unlike RFC 3550's
    jitter, so a short run is not dominated by its first pair); None without a pair."""
    found = steps(rtts)
    return sum(found) / len(found) if found else None


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
    """RFC 3550 interarrival jitter (``rfc3550_jitter``)."""
    forged: int


def summarize(
    uplink: str, pop: str, protocol: str, start_ns: int, samples: Iterable[Sample]
) -> Summary:
    """The summary of ``samples`` (in any order)."""
    ordered = sorted(samples, key=lambda sample: sample[0])
    rtts = [rtt if ok else None for _, ok, rtt, _ in ordered]
    ranked = sorted(rtt for rtt in rtts if rtt is not None)
    sent = len(ordered)
    received = sum(1 for _, ok, _, _ in ordered if ok)
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
        jitter_ms=rfc3550_jitter(rtts),
        forged=sum(count for *_, count in ordered),
    )
