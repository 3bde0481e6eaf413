"""Failover, brownout and stability of borderpath's policy and the anchors' defaults.

    python -m bench.selector_policies

Every policy (bench/anchors.py) runs through the same selector harness on the same
synthetic streams with a simulated clock: three uplinks to Hong Kong (cu 32 ms, the
best and the first in priority; ct 46 ms; cm 44 ms), each probed at the anchor's own
interval and timeout. Measured from the event to the first decision that moves
traffic off cu:
- blackhole on cu, 20 repetitions (event at a random phase of the probe interval);
- 15 % loss on cu, 10 repetitions (a move within 120 s, or "never");
- switches per hour over one hour of healthy paths with 4 ms jitter and 0.5 % loss.
This is the policy alone: the in-lab run with real probes and routes comes later.
Writes bench/results/selector_policies.json.
"""

import json
import os
import random
import statistics
from pathlib import Path

from bench.anchors import ANCHORS, Anchor
from bench.synthetic import BLACKHOLE, Event, Link, probe_stream, scheduled
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector import Selector

RESULT = Path(__file__).parent / "results" / "selector_policies.json"
START = 1_700_000_000.0
LINKS = {"cu": Link(32, 2), "ct": Link(46, 2), "cm": Link(44, 2)}
JITTERY = {name: Link(link.rtt_ms, 4.0, 0.005) for name, link in LINKS.items()}
BLACKHOLES = 20
BROWNOUTS = 10
HORIZON_S = 120.0
STABILITY_S = 3600.0
UPLINKS = [
    UplinkConfig(name=name, carrier="x", interface=name, gateway=f"100.64.{i}.1")
    for i, name in enumerate(LINKS, start=1)
]
POP = PopConfig.model_validate(
    {"name": "hkg", "address": "203.0.113.10", "prefixes": ["198.19.1.0/24"], "protocols": ["icmp"]}
)


def warm_up(anchor: Anchor) -> float:
    """Long enough for every window of the anchor to fill before the event."""
    return max(60.0, 12 * anchor.interval, anchor.config.windows.long)


def run(
    anchor: Anchor, links: dict[str, Link], events: list[Event], duration: float, seed: int
) -> list[float]:
    """Times (seconds from the start) of every move after the first choice."""
    selector = Selector(anchor.config, UPLINKS, [POP])
    stream = probe_stream(
        [(u, "hkg", "icmp") for u in links],
        scheduled(lambda u, _p: links[u], events),
        start=START,
        duration=duration,
        interval=anchor.interval,
        timeout=anchor.timeout,
        seed=seed,
    )
    moves = []
    for now, batch in stream:
        selector.ingest(batch)
        for decision in selector.tick(now):
            if decision.action != "initial":
                moves.append(now - START)
    return moves


def time_to_move(anchor: Anchor, link: Link, repetitions: int) -> list[float | None]:
    rng = random.Random(7)
    times: list[float | None] = []
    for seed in range(repetitions):
        at = warm_up(anchor) + rng.uniform(0, anchor.interval)
        moves = run(anchor, LINKS, [Event(at, 1e9, "cu", "hkg", link)], at + HORIZON_S, seed)
        after = [t - at for t in moves if t >= at]
        times.append(after[0] if after else None)
    return times


def summary(times: list[float | None]) -> dict[str, float | int | None]:
    moved = sorted(t for t in times if t is not None)
    return {
        "p50_s": round(statistics.median(moved), 2) if len(moved) * 2 > len(times) else None,
        "max_s": round(max(moved), 2) if len(moved) == len(times) else None,
        "moved": len(moved),
        "runs": len(times),
    }


def stability(anchor: Anchor) -> float:
    start = warm_up(anchor)
    moves = run(anchor, JITTERY, [], start + STABILITY_S, seed=11)
    return len([t for t in moves if t >= start]) / (STABILITY_S / 3600)


def main() -> None:
    rows = {}
    for name, anchor in ANCHORS.items():
        rows[name] = {
            "interval_s": anchor.interval,
            "timeout_s": anchor.timeout,
            "blackhole": summary(time_to_move(anchor, BLACKHOLE, BLACKHOLES)),
            "brownout_15pct": summary(time_to_move(anchor, Link(32, 2, 0.15), BROWNOUTS)),
            "switches_per_hour": stability(anchor),
            "note": anchor.note,
        }
        print(f"{name}: done", flush=True)
    result = {
        "policies": rows,
        "goals": {"blackhole_p50_s": 1.0, "brownout_s": 5.0, "switches_per_hour": 0},
        "loadavg": os.getloadavg(),
        "cpus": os.cpu_count(),
        "clock": "simulated (synthetic streams; policy only, no packets or routes)",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(rows))


def table(rows: dict[str, dict[str, object]]) -> str:
    def cell(value: object) -> str:
        return "never" if value is None else str(value)

    lines = [
        f"{'policy':<17} {'probe':>6} {'blackhole p50':>14} {'max':>7} "
        f"{'15% loss p50':>13} {'max':>7} {'switches/h':>11}"
    ]
    for name, row in rows.items():
        black, brown = row["blackhole"], row["brownout_15pct"]
        assert isinstance(black, dict) and isinstance(brown, dict)
        lines.append(
            f"{name:<17} {cell(row['interval_s']):>6} {cell(black['p50_s']):>14} "
            f"{cell(black['max_s']):>7} {cell(brown['p50_s']):>13} {cell(brown['max_s']):>7} "
            f"{cell(row['switches_per_hour']):>11}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
