"""The steering policy: for one PoP, which uplink(s) carry its traffic now, and why.

One function, ``decide``, read top to bottom: every step is one comment. It is pure:
everything it knows comes in as arguments (the candidates with their state, SLA
verdict and score, the PoP's memory, the knobs, ``now``), so tests step a fake clock.
"""

import dataclasses
import math
from collections.abc import Sequence

from borderpath.selector.config import AntiFlapConfig, Strategy
from borderpath.selector.health import State
from borderpath.selector.sla import confident_gain

Choice = tuple[tuple[str, int], ...]
"""(uplink, weight) pairs in uplink order; one pair unless the strategy is balance."""

BALANCE_MAX_WEIGHT = 4
"""Weight of the cheapest uplink under 'balance'; costlier ones get less, at least 1.
Weights follow cost, not score, so RTT noise never reshuffles flows between uplinks."""


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One uplink's path to the PoP, as the policy sees it."""

    uplink: str
    cost: float
    rank: int
    """Position in the priority order (0 first)."""
    state: State
    meets: bool
    """Within the SLA of the PoP's class."""
    why: str
    """Why not within it (empty when it is)."""
    score: float
    """Quality score in ms-equivalents, lower is better (inf: cannot be scored)."""
    loss_ms: tuple[float, float]
    """The loss term of the score at the lower and upper bound of the loss's 95 %
    interval (the score has the upper one)."""
    good_for: float
    """Seconds the path has been up and within the SLA without a break (0 if not now)."""


@dataclasses.dataclass(slots=True)
class PopMemory:
    """What the policy remembers about one PoP between ticks."""

    chosen: Choice = ()
    since: float = -math.inf
    """When the current choice was made."""
    penalty: float = 0.0
    """Flap penalty, decaying with the half-life, as of ``penalty_at``."""
    penalty_at: float = 0.0
    suppressed: bool = False
    """Voluntary moves are held until the penalty decays below ``reuse_at``."""
    note: str = ""
    """The reason behind the current choice, or why a wanted move is held."""


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    action: str
    """initial, failover, sla, improve, best-effort, keep-last-good, stay or held."""
    chosen: Choice
    reason: str


def decide(
    pop: str,
    strategy: Strategy,
    candidates: Sequence[Candidate],
    memory: PopMemory,
    *,
    knobs: AntiFlapConfig,
    now: float,
) -> Outcome:
    """Choose the PoP's uplink(s); updates ``memory`` when the choice changes."""
    by_name = {c.uplink: c for c in candidates}
    current = [by_name[u] for u, _ in memory.chosen if u in by_name]

    # 1. Decay the flap penalty; lift the suppression once it is below reuse_at.
    _decay(memory, knobs, now)

    # 2. Paths that can carry traffic at all: measured and not down.
    alive = [c for c in candidates if c.state not in (State.DOWN, State.UNKNOWN)]

    # 3. Every path down (or none measured yet): keep the last good route, never remove it.
    if not alive:
        if not memory.chosen:
            return Outcome("stay", (), f"{pop}: no path measured yet")
        reason = f"{pop}: no path is up; keeping the last good route via {_names(current)}"
        return _hold(memory, "keep-last-good", reason)

    # 4. Those within the SLA; when none is, the best available by score.
    within = [c for c in alive if c.meets]
    best_effort = not within
    eligible = within or alive

    # 5. The strategy's pick among them.
    target = _pick("quality" if best_effort else strategy, eligible)
    picked = [by_name[u] for u, _ in target]

    # 6. The first choice is taken as soon as something is measured (see _switch).
    if not memory.chosen:
        reason = _why_pick(pop, strategy, picked)
        return _switch(memory, knobs, now, action="initial", target=target, reason=reason)

    # 7. A current path that went down is left at once, whatever dwell or dampening say.
    if not current or any(c.state == State.DOWN for c in current):
        reason = f"{pop}: {_names(current) or 'the route'} is down; moving to {_names(picked)}"
        return _switch(memory, knobs, now, action="failover", target=target, reason=reason)

    # 8. Nothing to change.
    if target == memory.chosen:
        return Outcome("stay", memory.chosen, memory.note)

    # 9. Why move: the current choice breaks the SLA that the target meets (sla), or
    #    the target is merely better (improve), or every path breaks it (best-effort).
    action, reason = _why_move(pop, strategy, best_effort, current, picked)

    # 10. Margin: a move for score alone must win by margin_percent and margin_ms.
    #     Example: ct 36 ms and cu 38 ms, each with 4 ms of jitter, swap places every
    #     minute; 15 % and 10 ms keep traffic where it is until one is clearly better.
    #     Loss counts only by the gap between the two paths' intervals (confident_gain).
    if action != "sla" and _by_score(strategy, best_effort, current, picked):
        now_score, new_score = current[0].score, picked[0].score
        gain = confident_gain(_bounds(current[0]), _bounds(picked[0]))
        needed = max(knobs.margin_ms, knobs.margin_percent / 100 * now_score)
        if not gain >= needed:
            return _held(
                memory,
                f"{pop}: {picked[0].uplink} better by {gain:.1f} ms, margin needs {needed:.1f} ms",
            )
        reason += f" (score {new_score:.1f} vs {current[0].uplink} {now_score:.1f})"

    # 11. Dwell: a voluntary move waits until the current choice is min_dwell old. A
    #     brownout (the current path losing confidently in the short window: 15 % loss
    #     is not noise) does not wait; the failback delay keeps traffic from coming
    #     straight back and the flap budget still holds.
    dwelt = now - memory.since
    brownout = action == "sla" and any(c.state == State.DEGRADED for c in current)
    if dwelt < knobs.min_dwell and not brownout:
        return _held(memory, f"{reason}; held: on it for {dwelt:.0f} s of {knobs.min_dwell:.0f} s")

    # 12. Failback: moving onto a path needs it up and within the SLA for failback_delay.
    if action == "improve":
        fresh = [c for c in picked if c.good_for < knobs.failback_delay and c not in current]
        if fresh:
            return _held(
                memory,
                f"{reason}; held: {fresh[0].uplink} good for only "
                f"{fresh[0].good_for:.0f} s of {knobs.failback_delay:.0f} s",
            )

    # 13. Dampening: a PoP over its flap budget stays put (only a down path moves it).
    if memory.suppressed:
        return _held(
            memory,
            f"{reason}; held: flap penalty {memory.penalty:.1f} "
            f"(moves again below {knobs.reuse_at:.1f})",
        )

    # 14. Move, and charge the flap budget.
    return _switch(memory, knobs, now, action=action, target=target, reason=reason)


def _bounds(candidate: Candidate) -> tuple[float, float, float]:
    return candidate.score, *candidate.loss_ms


def _decay(memory: PopMemory, knobs: AntiFlapConfig, now: float) -> None:
    memory.penalty *= 0.5 ** ((now - memory.penalty_at) / knobs.flap_half_life)
    memory.penalty_at = now
    if memory.suppressed and memory.penalty < knobs.reuse_at:
        memory.suppressed = False


def _why_move(
    pop: str,
    strategy: Strategy,
    best_effort: bool,
    current: Sequence[Candidate],
    picked: Sequence[Candidate],
) -> tuple[str, str]:
    """(action, reason) of a wanted move."""
    failing = [c for c in current if not c.meets]
    if best_effort or not failing:
        return ("best-effort" if best_effort else "improve"), _why_pick(pop, strategy, picked)
    why = "; ".join(f"{c.uplink} {c.why}" for c in failing)
    return "sla", f"{pop}: {why}; {_names(picked)} meets the SLA"


def _pick(strategy: Strategy, eligible: Sequence[Candidate]) -> Choice:
    if strategy == "balance" and len(eligible) > 1:
        cheapest = min(c.cost for c in eligible)
        return tuple(
            (c.uplink, _balance_weight(cheapest, c.cost))
            for c in sorted(eligible, key=lambda c: c.rank)
        )
    if strategy == "cheapest":
        best = min(eligible, key=lambda c: (c.cost, c.score, c.rank))
    elif strategy == "priority":
        best = min(eligible, key=lambda c: c.rank)
    else:
        best = min(eligible, key=lambda c: (c.score, c.rank))
    return ((best.uplink, 1),)


def _balance_weight(cheapest: float, cost: float) -> int:
    if cost <= 0:
        return BALANCE_MAX_WEIGHT
    return max(1, round(BALANCE_MAX_WEIGHT * cheapest / cost))


def _by_score(
    strategy: Strategy, best_effort: bool, current: Sequence[Candidate], picked: Sequence[Candidate]
) -> bool:
    """The target wins on score alone (not on cost or rank, which do not jitter)."""
    if len(current) != 1 or len(picked) != 1:
        return False
    if best_effort or strategy == "quality":
        return True
    return strategy == "cheapest" and current[0].cost == picked[0].cost


def _why_pick(pop: str, strategy: Strategy, picked: Sequence[Candidate]) -> str:
    first = picked[0]
    if strategy == "balance" and len(picked) > 1:
        return f"{pop}: balance over {_names(picked)}, all within the SLA"
    if not first.meets:
        return f"{pop}: no path meets the SLA; {first.uplink} is the best available ({first.why})"
    detail = {
        "quality": f"best score {first.score:.1f}",
        "cheapest": f"cheapest within the SLA (cost {first.cost:g})",
        "priority": f"first in priority order within the SLA (rank {first.rank + 1})",
        "balance": "the only path within the SLA",
    }[strategy]
    return f"{pop}: {first.uplink} is {detail}"


def _names(paths: Sequence[Candidate]) -> str:
    return "+".join(c.uplink for c in paths)


def _switch(
    memory: PopMemory,
    knobs: AntiFlapConfig,
    now: float,
    *,
    action: str,
    target: Choice,
    reason: str,
) -> Outcome:
    # The first choice rests on a second of probes: it starts no dwell and costs no
    # budget, so the first minute of data can correct it (the margin still applies).
    first = action == "initial"
    if not first:
        memory.penalty += knobs.flap_penalty
        if memory.penalty >= knobs.suppress_at:
            memory.suppressed = True
    memory.chosen, memory.since, memory.note = target, -math.inf if first else now, reason
    return Outcome(action, target, reason)


def _hold(memory: PopMemory, action: str, reason: str) -> Outcome:
    memory.note = reason
    return Outcome(action, memory.chosen, reason)


def _held(memory: PopMemory, reason: str) -> Outcome:
    return _hold(memory, "held", reason)
