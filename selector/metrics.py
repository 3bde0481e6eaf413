"""Figures of a window, computed for every series (or path) at once with numpy.

The figures are defined in core/figures.py; these are its numpy kernels, held to agree
with it by tests/selector/test_metrics.py:
- loss with a Wilson 95 % interval: 1 lost of 3 is "between 6 % and 79 %", not "33 %";
- RTT min / p50 / p95 / max over answered probes (linear interpolation, as numpy);
- jitter: RFC 3550 interarrival (kept by the windows) and the p95 of the differences
  between consecutive answered probes (``step_p95``);
- MOS from the ITU-T G.107 E-model for G.711 with packet loss concealment.
Forged answers never count: a probe with only forged answers is lost.
"""

import dataclasses

import numpy as np

from borderpath.core.figures import WILSON_Z
from borderpath.selector.windows import Bools, Floats, Ints, RingWindows

# E-model (ITU-T G.107) constants for G.711 with packet loss concealment (G.113 App. I).
E_MODEL_R0 = 93.2
"""Basic signal-to-noise ratio with default settings."""
G711_IE = 0.0
"""Equipment impairment of G.711: none."""
G711_BPL = 25.1
"""Packet-loss robustness of G.711 with PLC."""
G711_FRAME_MS = 20.0
"""Packetisation delay of a 20 ms G.711 frame, added to the one-way delay."""
JITTER_BUFFER_FACTOR = 2.0
"""A de-jitter buffer holds about twice the jitter: that much is added to the delay."""
DELAY_KNEE_MS = 177.3
"""One-way delay above which the E-model's delay impairment grows steeply."""


@dataclasses.dataclass(frozen=True)
class WindowFigures:
    """Figures of one window; arrays of one value per series (or path)."""

    sent: Ints
    lost: Ints
    rtt_min: Floats
    rtt_p50: Floats
    rtt_p95: Floats
    rtt_max: Floats
    step_p95: Floats
    """p95 of |difference| between consecutive answered probes, ms."""

    @property
    def loss(self) -> Floats:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.lost / self.sent).astype(np.float32)


def wilson(lost: Ints, sent: Ints) -> tuple[Floats, Floats]:
    """``core.figures.wilson`` of every lost/sent pair (NaN when sent = 0)."""
    n = sent.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = lost / n
        z2 = WILSON_Z * WILSON_Z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = WILSON_Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lower = np.clip(centre - half, 0.0, 1.0)
    upper = np.clip(centre + half, 0.0, 1.0)
    return lower.astype(np.float32), upper.astype(np.float32)


def percentile_of_sorted(ordered: Floats, counts: Ints, q: float) -> Floats:
    """``core.figures.percentile`` of each row's first ``counts`` values (rows sorted,
    NaN last)."""
    position = q * np.maximum(counts - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(counts - 1, 0))
    low = np.take_along_axis(ordered, below[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, above[:, None], axis=1)[:, 0]
    value = low + (high - low) * (position - below).astype(np.float32)
    return np.where(counts > 0, value, np.float32(np.nan)).astype(np.float32)


QUALITY_ROWS_PER_TICK = 1024
"""Series whose long-window figures one tick recomputes. Sorting a minute of probes of
10,000 series takes longer than a tick may; percentiles over a minute do not change
in a second, so large sites refresh them in slices (each series every few ticks) while
detection (short window, runs of losses) still covers every series every tick."""


def _count(mask: Bools) -> Ints:
    counts: Ints = np.add.reduce(mask.view(np.uint8), axis=1, dtype=np.int64)
    return counts


def window_counts(
    windows: RingWindows, since_ns: int, rows: slice = slice(None)
) -> tuple[Bools, Ints, Ints]:
    """(slots inside, probes sent, probes lost) of the series in ``rows`` since ``since_ns``."""
    inside = windows.time_ns[rows] >= since_ns
    return inside, _count(inside), _count(inside & windows.lost[rows])


def window_figures(windows: RingWindows, since_ns: int, rows: slice = slice(None)) -> WindowFigures:
    """Every figure of the series in ``rows`` over the probes sent since ``since_ns``."""
    inside, sent, lost = window_counts(windows, since_ns, rows)
    rtt = np.where(inside, windows.rtt_ms[rows], np.float32(np.nan))
    rtt.sort(axis=1)
    answered = _count(~np.isnan(rtt))
    steps = np.where(inside, windows.step_ms[rows], np.float32(np.nan))
    steps.sort(axis=1)
    stepped = _count(~np.isnan(steps))
    return WindowFigures(
        sent=sent,
        lost=lost,
        rtt_min=percentile_of_sorted(rtt, answered, 0.0),
        rtt_p50=percentile_of_sorted(rtt, answered, 0.5),
        rtt_p95=percentile_of_sorted(rtt, answered, 0.95),
        rtt_max=percentile_of_sorted(rtt, answered, 1.0),
        step_p95=percentile_of_sorted(steps, stepped, 0.95),
    )


def mos_g711(rtt_ms: Floats, jitter_ms: Floats, loss: Floats) -> Floats:
    """Mean opinion score (1 to 4.5) of a G.711 call over paths with these figures."""
    jitter = np.nan_to_num(jitter_ms, nan=0.0)
    delay = rtt_ms / 2 + JITTER_BUFFER_FACTOR * jitter + G711_FRAME_MS
    delay_impairment = 0.024 * delay + 0.11 * np.maximum(delay - DELAY_KNEE_MS, 0.0)
    loss_percent = 100 * loss
    loss_impairment = G711_IE + (95 - G711_IE) * loss_percent / (loss_percent + G711_BPL)
    r = E_MODEL_R0 - delay_impairment - loss_impairment
    mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6
    mos = np.where(r <= 0, 1.0, np.where(r >= 100, 4.5, mos))
    return mos.astype(np.float32)


class StaggeredFigures:
    """Long-window figures of every series, refreshed QUALITY_ROWS_PER_TICK rows a tick."""

    def __init__(self, windows: RingWindows) -> None:
        self.windows = windows
        self.figures: WindowFigures | None = None
        self._next = 0

    def refresh(self, since_ns: int) -> WindowFigures:
        rows = self.windows.time_ns.shape[0]
        if self.figures is None or rows <= QUALITY_ROWS_PER_TICK:
            self.figures = window_figures(self.windows, since_ns)
            return self.figures
        start = self._next
        part = slice(start, min(rows, start + QUALITY_ROWS_PER_TICK))
        fresh = window_figures(self.windows, since_ns, part)
        for field in dataclasses.fields(WindowFigures):
            getattr(self.figures, field.name)[part] = getattr(fresh, field.name)
        self._next = part.stop % rows
        return self.figures
