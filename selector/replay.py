"""Replay: run the selector offline over stored (or synthetic) results.

Prints every decision it would have made, the switches per hour and the time each PoP
spent on each choice: the way to tune a policy before deploying it.
"""

import collections
import dataclasses
import datetime
from collections.abc import Iterable
from typing import Any

from borderpath.core.durations import format_duration
from borderpath.core.results import ProbeResult
from borderpath.selector.decision import Decision
from borderpath.selector.selector import Selector

HOUR_S = 3600


@dataclasses.dataclass
class ReplayReport:
    """What a replay found."""

    decisions: list[Decision] = dataclasses.field(default_factory=list)
    start: float | None = None
    end: float | None = None
    switches_per_hour: collections.Counter[int] = dataclasses.field(
        default_factory=collections.Counter
    )
    """Hour (Unix seconds at its start) -> switches (every decision but the initial one)."""
    time_on: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    """PoP -> choice (e.g. ``cu`` or ``ct*4+cu*2``) -> seconds."""

    @property
    def switches(self) -> int:
        return sum(self.switches_per_hour.values())

    def render(self) -> str:
        """The report as text: decisions, switches per hour, time per PoP and choice."""
        lines = ["decisions:"]
        lines += [f"  {_when(d.time_ns / 1e9)}  {d.action:<14} {d.reason}" for d in self.decisions]
        lines.append("switches per hour:")
        lines += [f"  {_when(h)}  {n}" for h, n in sorted(self.switches_per_hour.items())]
        lines.append("time on each choice:")
        for pop, counter in sorted(self.time_on.items()):
            total = sum(counter.values()) or 1.0
            shares = ", ".join(
                f"{choice} {format_duration(round(seconds))} ({seconds / total:.0%})"
                for choice, seconds in sorted(counter.items(), key=lambda item: -item[1])
            )
            lines.append(f"  {pop}: {shares}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The report as one JSON document: times in ISO 8601 UTC, durations in seconds."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "switches": self.switches,
            "decisions": [
                {"time": _iso(d.time_ns / 1e9), "pop": d.pop, "action": d.action}
                | {key: d.to_event().labels[key] for key in ("uplink", "previous")}
                | {"reason": d.reason}
                for d in self.decisions
            ],
            "switches_per_hour": [
                {"hour": _iso(hour), "switches": n}
                for hour, n in sorted(self.switches_per_hour.items())
            ],
            "time_on": {pop: dict(counter) for pop, counter in sorted(self.time_on.items())},
        }


def run(
    selector: Selector, timed: Iterable[tuple[float, list[ProbeResult]]], tick_every: float
) -> ReplayReport:
    """Feed (now, batch) pairs in order, ticking every ``tick_every`` seconds of their time."""
    report = ReplayReport()
    since: dict[str, tuple[str, float]] = {}
    next_tick: float | None = None
    for now, batch in timed:
        selector.ingest(batch)
        if next_tick is None:
            next_tick = report.start = now
        while next_tick <= now:
            for decision in selector.tick(next_tick):
                _account(report, since, decision)
            next_tick += tick_every
        report.end = now
    for pop, (choice, start) in since.items():
        _spend(report, pop, choice, (report.end or start) - start)
    return report


def replay(
    selector: Selector, batches: Iterable[list[ProbeResult]], tick_every: float = 1.0
) -> ReplayReport:
    """Replay stored batches: each batch's time is the newest send time in it."""
    return run(
        selector,
        ((max(r.time_ns for r in batch) / 1e9, batch) for batch in batches if batch),
        tick_every,
    )


def _account(report: ReplayReport, since: dict[str, tuple[str, float]], decision: Decision) -> None:
    now = decision.time_ns / 1e9
    report.decisions.append(decision)
    if decision.action != "initial" and decision.chosen != decision.previous:
        report.switches_per_hour[int(now // HOUR_S) * HOUR_S] += 1
    if decision.pop in since:
        choice, start = since[decision.pop]
        _spend(report, decision.pop, choice, now - start)
    since[decision.pop] = (decision.to_event().labels["uplink"], now)


def _spend(report: ReplayReport, pop: str, choice: str, seconds: float) -> None:
    spent = report.time_on.setdefault(pop, {})
    spent[choice] = spent.get(choice, 0.0) + seconds


def _when(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _iso(unix: float | None) -> str | None:
    if unix is None:
        return None
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).isoformat().replace("+00:00", "Z")
