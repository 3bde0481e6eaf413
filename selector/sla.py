"""SLA classes: each path's figures as a class sees them, its verdict, and its score.

A class is judged only by the protocols that speak for it (voice by UDP, web by TCP,
QUIC and HTTP); when a PoP probes none of them, by every protocol it probes. Figures
of a path for a class: loss pooled over those protocols, RTT and jitter of the worst
of those that time one round trip (QUIC times a whole handshake: see TIMES_ONE_RTT).
The loss limit is checked against the lower 95 % bound: a path fails only
when it is confidently worse than the limit, so three clean probes never "fail" 1 %.
"""

import dataclasses
import enum
from typing import TypeVar

import numpy as np

from borderpath.core.protocols import DEFINITIONS, PROTOCOLS
from borderpath.selector.config import SelectorConfig, SlaClass
from borderpath.selector.health import SeriesSignals, State
from borderpath.selector.metrics import WindowFigures, mos_g711, wilson
from borderpath.selector.windows import Bools, Floats, Ints, Layout

T = TypeVar("T", float, Floats)

TIMES_ONE_RTT = np.array([protocol.one_round_trip for protocol in DEFINITIONS])
"""Protocols whose RTT is one round trip of the path. A QUIC probe's is not (its handshake
has the PoP's key exchange in it, more when the PoP is busy): counted in the RTT p95, it
made a 188 ms path fail a 250 ms limit and swung jitter by tens of ms. QUIC still speaks
for loss and blocking."""


class Verdict(enum.IntEnum):
    """Why a path fails a class; the first that applies, in this order."""

    MEETS = 0
    UNKNOWN = 1
    DOWN = 2
    BLOCKED = 3
    BROWNOUT = 4
    LOSS = 5
    RTT = 6
    JITTER = 7
    PEAK = 8


@dataclasses.dataclass(frozen=True)
class ClassFigures:
    """One class's view of every path (arrays of one value per path)."""

    sent: Ints
    loss: Floats
    loss_lower: Floats
    loss_upper: Floats
    short_loss_lower: Floats
    rtt_min: Floats
    rtt_p50: Floats
    rtt_p95: Floats
    rtt_max: Floats
    jitter: Floats
    step_p95: Floats
    mos: Floats
    blocked: Bools
    """A protocol that speaks for the class is failing on this path."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """A class's limits at every path (its PoP's overrides applied)."""

    rtt_p95_ms: Floats
    loss: Floats
    jitter_ms: Floats


@dataclasses.dataclass(frozen=True)
class ClassTable:
    """What every class means at every path: who speaks for it, and its limits there."""

    names: tuple[str, ...]
    speaks: tuple[Bools, ...]
    """Per class, [paths, protocols]."""
    limits: tuple[Limits, ...]
    own: Ints
    """Index of the class of each path's PoP (the one that steers it)."""

    @classmethod
    def of(cls, config: SelectorConfig, layout: Layout) -> "ClassTable":
        names = tuple(config.classes)
        pops = [layout.path_names(path)[1] for path in range(layout.paths)]
        speaks = []
        for name in names:
            wanted = np.array([p in config.classes[name].protocols for p in PROTOCOLS])
            mask = layout.probed & wanted
            speaks.append(np.where(mask.any(axis=1)[:, None], mask, layout.probed))
        limits = [[config.limits(pop, name) for pop in pops] for name in names]

        def column(row: list[SlaClass], field: str) -> Floats:
            return np.array([getattr(x, field) for x in row], dtype=np.float32)

        own = [names.index(config.pop_policy(pop).sla_class or config.sla_class) for pop in pops]
        return cls(
            names=names,
            speaks=tuple(speaks),
            limits=tuple(
                Limits(column(row, "rtt_p95_ms"), column(row, "loss"), column(row, "jitter_ms"))
                for row in limits
            ),
            own=np.array(own, dtype=np.int64),
        )


def class_figures(
    speaks: Bools, long: WindowFigures, jitter: Floats, signals: SeriesSignals
) -> ClassFigures:
    """Pool the series of each path that speak for one class."""
    shape = speaks.shape
    timed = speaks & TIMES_ONE_RTT[None, :]
    timed = np.where(timed.any(axis=1)[:, None], timed, speaks)  # QUIC alone: it is all there is

    def worst(values: Floats) -> Floats:
        masked = np.where(timed & signals.measured, values.reshape(shape), np.float32(np.nan))
        reduced: Floats = np.fmax.reduce(masked, axis=1).astype(np.float32)
        return reduced

    def pooled(counts: Ints) -> Ints:
        summed: Ints = (counts.reshape(shape) * speaks).sum(axis=1)
        return summed

    sent, lost = pooled(long.sent), pooled(long.lost)
    lower, upper = wilson(lost, sent)
    short_lower, _ = wilson(
        (signals.short_lost * speaks).sum(axis=1), (signals.short_sent * speaks).sum(axis=1)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = (lost / sent).astype(np.float32)
    rtt_p50, path_jitter = worst(long.rtt_p50), worst(jitter)
    return ClassFigures(
        sent=sent,
        loss=loss,
        loss_lower=lower,
        loss_upper=upper,
        short_loss_lower=short_lower,
        rtt_min=np.fmin.reduce(
            np.where(timed, long.rtt_min.reshape(shape), np.float32(np.nan)), axis=1
        ).astype(np.float32),
        rtt_p50=rtt_p50,
        rtt_p95=worst(long.rtt_p95),
        rtt_max=worst(long.rtt_max),
        jitter=path_jitter,
        step_p95=worst(long.step_p95),
        mos=mos_g711(rtt_p50, path_jitter, np.nan_to_num(loss)),
        blocked=np.asarray((signals.failing & speaks).any(axis=1), dtype=np.bool_),
    )


def verdicts(
    figures: ClassFigures, state: Ints, limits: Limits, brownout_loss: float, peak_loss: Floats
) -> Ints:
    """The Verdict of every path for one class (MEETS or the first reason it fails)."""
    rtt_limit, loss_limit, jitter_limit = limits.rtt_p95_ms, limits.loss, limits.jitter_ms
    failures = [
        (state == State.UNKNOWN, Verdict.UNKNOWN),
        (state == State.DOWN, Verdict.DOWN),
        (figures.blocked, Verdict.BLOCKED),
        (figures.short_loss_lower > np.maximum(loss_limit, brownout_loss), Verdict.BROWNOUT),
        (figures.loss_lower > loss_limit, Verdict.LOSS),
        (figures.rtt_p95 > rtt_limit, Verdict.RTT),
        (figures.jitter > jitter_limit, Verdict.JITTER),
        (peak_loss > loss_limit, Verdict.PEAK),
    ]
    verdict = np.full(state.shape, Verdict.MEETS, dtype=np.int64)
    for failed, reason in reversed(failures):
        verdict = np.where(failed, reason, verdict)
    return verdict


@dataclasses.dataclass(frozen=True)
class Scores:
    """Quality of every path for one class, in ms-equivalents (lower is better)."""

    score: Floats
    """RTT p95 + the loss term at its upper bound + jitter; inf when unmeasurable."""
    loss_low: Floats
    """The loss term at the lower bound of the loss's 95 % interval."""
    loss_high: Floats
    """The loss term at the upper bound (the one in ``score``)."""


def quality_scores(
    figures: ClassFigures, peak_loss: Floats, ms_per_percent: float, jitter_weight: float
) -> Scores:
    """RTT p95 + loss (95 % upper bound, or the predicted peak loss if higher) + jitter.
    The loss term is kept as an interval too, for ``confident_gain``."""
    low = ms_per_percent * 100 * np.fmax(np.nan_to_num(figures.loss_lower, nan=0.0), peak_loss)
    high = ms_per_percent * 100 * np.fmax(np.nan_to_num(figures.loss_upper, nan=1.0), peak_loss)
    score = figures.rtt_p95 + high + jitter_weight * np.nan_to_num(figures.jitter)
    return Scores(
        score=np.where(np.isnan(score), np.float32(np.inf), score).astype(np.float32),
        loss_low=low.astype(np.float32),
        loss_high=high.astype(np.float32),
    )


Bounds = tuple[T, T, T]
"""(score, loss term at the lower bound, loss term at the upper bound) of one path, or
of every path as arrays."""


def confident_gain(now: Bounds[T], target: Bounds[T]) -> T:
    """How much better ``target`` scores than ``now``, counting a difference in loss only
    by the gap between the two 95 % intervals: loss the probes cannot tell apart (6 of
    300 lost against 0 of 300, say) is noise and never moves traffic on its own."""
    now_score, now_low, now_high = now
    target_score, target_low, target_high = target
    apart = np.maximum(now_low - target_high, 0) - np.maximum(target_low - now_high, 0)
    gain: T = (now_score - now_high) - (target_score - target_high) + apart
    return gain


def explain(verdict: Verdict, figures: ClassFigures, path: int, limits: Limits) -> str:
    """Why a path fails a class, in words and the numbers behind them."""
    loss_limit = float(limits.loss[path])
    if verdict == Verdict.UNKNOWN:
        return "is not measured yet"
    if verdict == Verdict.DOWN:
        return "is down (its last probes were lost on every protocol)"
    if verdict == Verdict.BLOCKED:
        return "is blocked on a protocol of the class while others answer"
    if verdict == Verdict.BROWNOUT:
        return (
            f"lost at least {figures.short_loss_lower[path]:.1%} (95 % lower bound) in the "
            f"short window, above {loss_limit:.1%}"
        )
    if verdict == Verdict.LOSS:
        return (
            f"loss {figures.loss[path]:.1%} (at least {figures.loss_lower[path]:.1%}) "
            f"above {loss_limit:.1%}"
        )
    if verdict == Verdict.RTT:
        return f"RTT p95 {figures.rtt_p95[path]:.1f} ms above {limits.rtt_p95_ms[path]:g} ms"
    if verdict == Verdict.JITTER:
        return f"jitter {figures.jitter[path]:.1f} ms above {limits.jitter_ms[path]:g} ms"
    if verdict == Verdict.PEAK:
        return f"its daily peak is due: loss above {loss_limit:.1%} predicted"
    return ""
