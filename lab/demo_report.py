"""What the demo shows at the end: a summary of the decisions and a chart per path."""

import contextlib
import time
from collections import Counter, defaultdict
from pathlib import Path

from borderpath.core.events import EventKind, EventRecord
from borderpath.storage import Store

ROLLUP_STEP_S = 10
SECONDS_PER_NS = 1e-9


def summary(database: Path, started: float) -> str:
    """Switches per PoP, time on each uplink per PoP, and the alerts of the run."""
    with contextlib.closing(Store.open_read_only(database)) as store:
        events = store.query_events(int(started * 1e9))
    decisions = [e for e in events if e.kind == EventKind.DECISION]
    ended = max((e.time_ns for e in events), default=int(time.time() * 1e9)) * SECONDS_PER_NS
    lines = ["", "Summary", "", f"{'PoP':<5} {'switches':>8}   time on each uplink"]
    for pop, timeline in _timelines(decisions).items():
        shares = _time_on(timeline, ended)
        total = sum(shares.values()) or 1.0
        spent = ", ".join(
            f"{uplink} {seconds:.0f} s ({seconds / total:.0%})"
            for uplink, seconds in shares.items()
        )
        lines.append(f"{pop:<5} {len(timeline) - 1:>8}   {spent}")
    lines += ["", "Decisions:"]
    lines += [f"  {e.time_ns * SECONDS_PER_NS - started:6.1f} s  {e.text}" for e in decisions]
    alerts = Counter(
        e.labels.get("alert", e.text) for e in events if e.kind == EventKind.ALERT_FIRING
    )
    lines += ["", "Alerts fired:" if alerts else "Alerts fired: none"]
    lines += [f"  {count} x {name}" for name, count in alerts.items()]
    return "\n".join(lines)


def _timelines(decisions: list[EventRecord]) -> dict[str, list[tuple[float, str]]]:
    timelines: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for event in decisions:
        timelines[event.labels["pop"]].append(
            (event.time_ns * SECONDS_PER_NS, event.labels["uplink"])
        )
    return dict(sorted(timelines.items()))


def _time_on(timeline: list[tuple[float, str]], ended: float) -> dict[str, float]:
    shares: dict[str, float] = defaultdict(float)
    for (since, uplink), (until, _) in zip(timeline, [*timeline[1:], (ended, "")], strict=True):
        shares[uplink] += max(0.0, until - since)
    return dict(shares)


def draw_chart(database: Path, started: float, output: Path) -> None:
    """RTT p50 and loss of every path in 10 s steps, one column per PoP, switches marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with contextlib.closing(Store.open(database, site="demo")) as store:
        store.rollup(int(time.time() * 1e9) + 60 * 10**9)
        rows = store.query_rollups(ROLLUP_STEP_S, int(started * 1e9), protocol="*")
        decisions = [
            e for e in store.query_events(int(started * 1e9)) if e.kind == EventKind.DECISION
        ]
    pops = list(dict.fromkeys(row.pop for row in rows))
    uplinks = list(dict.fromkeys(row.uplink for row in rows))
    figure, axes = plt.subplots(
        2, len(pops), figsize=(4 * len(pops), 6), sharex=True, squeeze=False
    )
    for column, pop in enumerate(pops):
        rtt_axis, loss_axis = axes[0][column], axes[1][column]
        for uplink in uplinks:
            series = [r for r in rows if r.pop == pop and r.uplink == uplink]
            times = [r.start_ns * SECONDS_PER_NS - started for r in series]
            rtt_axis.plot(times, [r.rtt_p50_ms for r in series], label=uplink)
            loss_axis.plot(times, [100 * r.loss for r in series], label=uplink)
        for event in (e for e in decisions if e.labels["pop"] == pop):
            for axis in (rtt_axis, loss_axis):
                axis.axvline(event.time_ns * SECONDS_PER_NS - started, color="grey", linestyle=":")
            rtt_axis.annotate(
                f"→{event.labels['uplink']}",
                (event.time_ns * SECONDS_PER_NS - started, 0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
            )
        rtt_axis.set_title(pop)
        loss_axis.set_xlabel("seconds into the scenario")
    axes[0][0].set_ylabel("RTT p50 (ms)")
    axes[1][0].set_ylabel("loss (%)")
    axes[0][0].legend(title="uplink")
    figure.suptitle("borderpath demo: every path, and where each PoP's traffic went (dotted)")
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    plt.close(figure)
