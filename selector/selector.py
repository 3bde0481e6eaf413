"""The selector: probe results in, per-PoP decisions and per-path snapshots out.

    selector = Selector(config, uplinks, pops)
    selector.ingest(batch)            # every batch of ProbeResult, as it arrives
    decisions = selector.tick(now)    # every probing interval or so
    snapshots = selector.snapshots(now)

Each tick: windows -> figures per series -> state per path -> figures, verdict and
score per path and class -> the policy per PoP (selector/policy.py).
"""

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from borderpath.core.errors import ConfigError
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector.config import SelectorConfig, Strategy
from borderpath.selector.decision import Decision
from borderpath.selector.health import PathStates, State, series_signals
from borderpath.selector.metrics import StaggeredFigures, window_counts
from borderpath.selector.policy import Candidate, Choice, PopMemory, decide
from borderpath.selector.sla import (
    ClassFigures,
    ClassTable,
    Scores,
    Verdict,
    class_figures,
    confident_gain,
    explain,
    quality_scores,
    verdicts,
)
from borderpath.selector.time_of_day import HourlyHistory
from borderpath.selector.windows import Bools, Floats, Ints, Layout, RingWindows

_Judged = tuple[ClassFigures, Ints, Scores]
"""A class's figures, verdicts and scores of every path."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Facts:
    """This tick's per-path values as Python lists, for the per-PoP policy loop."""

    state: list[int]
    verdict: list[int]
    score: list[float]
    loss_low: list[float]
    loss_high: list[float]
    good_since: list[float]


class _Tick:
    """What one tick saw. Class figures and verdicts are computed when first asked for:
    a tick needs only the classes that steer some PoP, snapshots need them all."""

    def __init__(self, now: float, peak: Floats, judge: Callable[[int], _Judged]) -> None:
        self.now = now
        self.peak = peak
        self._judge = judge
        self._judged: dict[int, _Judged] = {}

    def figures(self, c: int) -> ClassFigures:
        return self._get(c)[0]

    def verdicts(self, c: int) -> Ints:
        return self._get(c)[1]

    def scores(self, c: int) -> Scores:
        return self._get(c)[2]

    def _get(self, c: int) -> _Judged:
        if c not in self._judged:
            self._judged[c] = self._judge(c)
        return self._judged[c]


_STATES = tuple(State)
"""State by its value (faster than calling State(value) for every path every tick)."""


class Selector:
    """Scores every path and steers each PoP; see the module docstring."""

    def __init__(
        self,
        config: SelectorConfig,
        uplinks: Sequence[UplinkConfig],
        pops: Sequence[PopConfig],
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            config.check_names({u.name for u in uplinks}, {p.name for p in pops})
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.config = config
        self.clock = clock
        self.layout = Layout.of([u.name for u in uplinks], [(p.name, p.protocols) for p in pops])
        self.windows = RingWindows(self.layout, config.windows.samples)
        self.history = HourlyHistory(self.layout.paths, config.time_of_day)
        self.states = PathStates(self.layout.paths, config.health)
        self.classes = ClassTable.of(config, self.layout)
        self._long = StaggeredFigures(self.windows)
        self._uplinks = list(uplinks)
        self._column = {u.name: i for i, u in enumerate(uplinks)}
        self._paths = np.arange(self.layout.paths)
        self._good_since = np.full(self.layout.paths, -np.inf)
        """Since when each path is up and within its SLA: -inf if it never was otherwise,
        NaN while it is not (failback waits only for paths that were bad)."""
        self._memory = {pop.name: PopMemory() for pop in pops}
        self._announced = {pop.name: "" for pop in pops}
        self._ranks = {pop.name: self._rank(pop.name) for pop in pops}
        self._strategies = {pop.name: self._strategy(pop.name) for pop in pops}
        self._seen_state = np.full(self.layout.paths, -1, dtype=np.int64)
        self._seen_verdict = np.full(self.layout.paths, -1, dtype=np.int64)
        self._settled = np.zeros(len(pops), dtype=np.bool_)
        self._current = np.full(len(pops), -1, dtype=np.int64)
        self.skip_settled = True
        """Leave PoPs whose inputs did not change in a way the policy reads (see _unsettled)."""
        self._last: _Tick | None = None

    def ingest(self, batch: Sequence[ProbeResult]) -> None:
        """Take a batch of results (any series, any order); unknown series are counted."""
        self.history.add(*self.windows.ingest(batch))

    def warm_history(self, counts: Iterable[tuple[str, str, int, int, int]]) -> int:
        """Take (uplink, pop, time_ns, sent, lost) counts into the daily peak history, e.g.
        the store's hourly counts at start; paths the config does not have are skipped.
        How many counts were taken."""
        uplinks, pops = set(self.layout.uplinks), set(self.layout.pops)
        taken = [c for c in counts if c[0] in uplinks and c[1] in pops]
        self.history.add_counts(
            [self.layout.path(uplink, pop) for uplink, pop, *_ in taken],
            [c[2] for c in taken],
            [c[3] for c in taken],
            [c[4] for c in taken],
        )
        return len(taken)

    def tick(self, now: float | None = None) -> list[Decision]:
        """Re-judge every path and every PoP at ``now``; the decisions that changed a choice."""
        now = self.clock() if now is None else now
        seen = self._observe(now)
        own = self.classes.own
        bounds = np.zeros((3, self.layout.paths), dtype=np.float32)
        verdict = np.zeros(self.layout.paths, dtype=np.int64)
        for c in np.unique(own).tolist():
            mine = own == c
            scores = seen.scores(c)
            bounds[:, mine] = np.stack([scores.score, scores.loss_low, scores.loss_high])[:, mine]
            verdict[mine] = seen.verdicts(c)[mine]
        state = self.states.state
        good = (state == State.UP) & (verdict == Verdict.MEETS)
        bad = ~good & (state != State.UNKNOWN)
        since = np.where(np.isnan(self._good_since), now, self._good_since)
        self._good_since = np.where(bad, np.nan, np.where(good, since, self._good_since))
        facts = _Facts(
            state=self.states.state.tolist(),
            verdict=verdict.tolist(),
            score=bounds[0].tolist(),
            loss_low=bounds[1].tolist(),
            loss_high=bounds[2].tolist(),
            good_since=self._good_since.tolist(),
        )
        decisions = []
        for index in np.flatnonzero(self._unsettled(verdict, bounds)).tolist():
            decision = self._decide(index, seen, facts, now)
            if decision is not None:
                decisions.append(decision)
        self._seen_state = self.states.state.astype(np.int64)
        self._seen_verdict = verdict
        return decisions

    def choices(self) -> dict[str, Choice]:
        """The current (uplink, weight) choice of every PoP (empty before the first)."""
        return {pop: memory.chosen for pop, memory in self._memory.items()}

    def reason(self, pop: str) -> str:
        """Why the PoP is where it is, or why a wanted move is held."""
        return self._memory[pop].note

    def adopt(self, pop: str, chosen: Choice, now: float, reason: str) -> None:
        """Align a PoP with what the kernel really has (at start, or after a failed write),
        so the next tick decides from the truth and retries the move if still wanted."""
        memory = self._memory[pop]
        memory.chosen, memory.since, memory.note = chosen, now, reason
        self._announced[pop] = ""
        self._settled[self.layout.pops.index(pop)] = False

    def snapshots(self, now: float | None = None) -> list[PathSnapshot]:
        """Every path as the last tick saw it (observing first if none has run, without
        deciding: a decision made here would never reach the route writer)."""
        seen = self._last
        if seen is None:
            seen = self._observe(self.clock() if now is None else now)
        time_ns = int(seen.now * 1e9)
        own = self.classes.own
        snapshots = []
        for path in range(self.layout.paths):
            uplink, pop = self.layout.path_names(path)
            figures = seen.figures(own[path])
            snapshots.append(
                PathSnapshot(
                    time_ns=time_ns,
                    uplink=uplink,
                    pop=pop,
                    state=_STATES[self.states.state[path]].label,
                    loss=_number(figures.loss[path]),
                    loss_upper=_number(figures.loss_upper[path]),
                    rtt_p50_ms=_number(figures.rtt_p50[path]),
                    rtt_p95_ms=_number(figures.rtt_p95[path]),
                    jitter_ms=_number(figures.jitter[path]),
                    mos=_number(figures.mos[path]),
                    score=_number(seen.scores(own[path]).score[path]),
                    selected=uplink in dict(self._memory[pop].chosen),
                    sla={
                        name: bool(seen.verdicts(c)[path] == Verdict.MEETS)
                        for c, name in enumerate(self.classes.names)
                    },
                )
            )
        return snapshots

    def _observe(self, now: float) -> _Tick:
        """Windows -> figures per series -> state per path; classes judged on demand."""
        windows, config = self.config.windows, self.config
        now_ns = int(now * 1e9)
        long = self._long.refresh(now_ns - int(windows.long * 1e9))
        _, short_sent, short_lost = window_counts(self.windows, now_ns - int(windows.short * 1e9))
        signals = series_signals(
            self.windows, long.sent, short_sent, short_lost, config.health.down_after_lost
        )
        self.states.update(self.windows, signals, now_ns)
        state = self.states.state.astype(np.int64)
        # RFC 3550 jitter counts only while the series still answers inside the window.
        jitter = np.where(np.isnan(long.rtt_p50), np.float32(np.nan), self.windows.jitter_ms)
        peak = self.history.predicted_loss(now)
        table = self.classes

        def judge(c: int) -> _Judged:
            figures = class_figures(table.speaks[c], long, jitter, signals)
            judged = verdicts(figures, state, table.limits[c], config.health.degraded_loss, peak)
            scores = quality_scores(
                figures, peak, config.score.loss_ms_per_percent, config.score.jitter_weight
            )
            return figures, judged, scores

        self._last = _Tick(now, peak, judge)
        return self._last

    def _unsettled(self, verdict: Ints, bounds: Floats) -> Bools:
        """PoPs the policy must see this tick. A PoP whose last outcome was 'stay' stays
        put while none of its paths changes state or verdict and no path beats the
        current one by the switch margin (``bounds``: score, loss_low, loss_high of every
        path, as confident_gain reads them): decide() would say 'stay' or 'held'
        again, so it is not asked (this keeps a 10,000-series tick within 10 ms)."""
        if not self.skip_settled:
            return np.ones(len(self.layout.pops), dtype=np.bool_)
        shape = (len(self.layout.pops), len(self.layout.uplinks))
        changed = (self.states.state != self._seen_state) | (verdict != self._seen_verdict)
        knobs = self.config.antiflap
        current = np.where(self._current >= 0, self._current, 0)
        here = bounds[:, current, None]  # each PoP's current path, against all of its paths
        there = bounds.reshape(3, *shape)
        now, others = (here[0], here[1], here[2]), (there[0], there[1], there[2])
        needed = np.maximum(knobs.margin_ms, knobs.margin_percent / 100 * here[0])
        with np.errstate(invalid="ignore"):
            tempting = (confident_gain(now, others) >= needed).any(axis=1)
        unsettled: Bools = ~self._settled | changed.reshape(shape).any(axis=1) | tempting
        return unsettled

    def _decide(self, index: int, seen: _Tick, facts: _Facts, now: float) -> Decision | None:
        pop = self.layout.pops[index]
        first = index * len(self.layout.uplinks)
        paths = range(first, first + len(self.layout.uplinks))
        ranks = self._ranks[pop]
        candidates = [
            Candidate(
                uplink=uplink.name,
                cost=uplink.cost,
                rank=ranks[uplink.name],
                state=_STATES[facts.state[path]],
                meets=facts.verdict[path] == Verdict.MEETS,
                why=self._why(path, seen, facts.verdict[path]),
                score=facts.score[path],
                loss_ms=(facts.loss_low[path], facts.loss_high[path]),
                good_for=0.0
                if math.isnan(facts.good_since[path])
                else now - facts.good_since[path],
            )
            for path, uplink in zip(paths, self._uplinks, strict=True)
        ]
        memory = self._memory[pop]
        previous = memory.chosen
        strategy = self._strategies[pop]
        outcome = decide(pop, strategy, candidates, memory, knobs=self.config.antiflap, now=now)
        self._settled[index] = outcome.action == "stay"
        single = len(outcome.chosen) == 1
        self._current[index] = first + self._column[outcome.chosen[0][0]] if single else -1
        changed = outcome.chosen != previous
        stuck = outcome.action == "keep-last-good"
        newly_stuck = stuck and self._announced[pop] != "keep-last-good"
        if outcome.action not in ("stay", "held"):
            self._announced[pop] = outcome.action
        if not (changed or newly_stuck):
            return None
        return Decision(
            time_ns=int(now * 1e9),
            pop=pop,
            sla_class=self.classes.names[self.classes.own[first]],
            strategy=strategy,
            action=outcome.action,
            chosen=outcome.chosen,
            previous=previous,
            reason=outcome.reason,
            numbers=self._numbers(paths, seen),
        )

    def _why(self, path: int, seen: _Tick, verdict: int) -> str:
        if verdict == Verdict.MEETS:
            return ""
        c = int(self.classes.own[path])
        return explain(Verdict(verdict), seen.figures(c), path, self.classes.limits[c])

    def _numbers(self, paths: range, seen: _Tick) -> dict[str, float]:
        numbers: dict[str, float] = {}
        for path in paths:
            uplink, _ = self.layout.path_names(path)
            c = int(self.classes.own[path])
            figures = seen.figures(c)
            numbers |= {
                f"{uplink}.score": float(seen.scores(c).score[path]),
                f"{uplink}.loss": float(figures.loss[path]),
                f"{uplink}.loss_upper": float(figures.loss_upper[path]),
                f"{uplink}.rtt_p95_ms": float(figures.rtt_p95[path]),
                f"{uplink}.jitter_ms": float(figures.jitter[path]),
                f"{uplink}.peak_loss": float(seen.peak[path]),
            }
        return numbers

    def _strategy(self, pop: str) -> Strategy:
        return self.config.pop_policy(pop).strategy or self.config.strategy

    def _rank(self, pop: str) -> dict[str, int]:
        order = self.config.pop_policy(pop).priority or self.config.priority
        names = [u.name for u in self._uplinks]
        ranked = list(order) + [name for name in names if name not in order]
        return {name: ranked.index(name) for name in names}


def _number(value: float) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number
