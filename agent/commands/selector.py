"""``borderpath`` sub-commands of the selector: ``routes show|plan|apply|flush`` and ``replay``.

``routes`` works in the network namespace it runs in (run it with ``ip netns exec NS``
for a lab's branch). ``replay`` reads the local store read-only: safe while the agent runs.
"""

import argparse
import dataclasses
import datetime
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from borderpath.agent.commands import add_config_option
from borderpath.core.durations import duration_option, parse_duration
from borderpath.core.errors import ConfigError
from borderpath.core.events import EventKind
from borderpath.core.progress import Progress

if TYPE_CHECKING:
    from borderpath.agent.config import AgentConfig
    from borderpath.core.results import ProbeResult
    from borderpath.selector.policy import Choice
    from borderpath.selector.routes import RouteChange, RouteWriter

STRATEGIES = ("quality", "cheapest", "priority", "balance")
REPLAY_CHUNK_S = 3600
"""Stored results are read an hour at a time, so a long replay never holds them all."""


def add_commands(commands: Any) -> None:
    """Register this module's sub-commands on the top-level parser's subparsers."""
    routes = commands.add_parser(
        "routes",
        help="show, plan, apply or flush borderpath's routes",
        description="borderpath's own routing table, rules and routes (marked with its "
        "proto number) in this network namespace; nothing else is ever touched.",
    )
    routes.add_argument("action", choices=("show", "plan", "apply", "flush"))
    add_config_option(routes)
    routes.add_argument(
        "--via",
        action="append",
        default=[],
        metavar="POP=UPLINK[,UPLINK]",
        help="steer a PoP by these uplinks (plan/apply; several = equal multipath); "
        "PoPs not named keep the route they have",
    )
    routes.add_argument("--json", action="store_true", help="one JSON document")
    routes.set_defaults(run=run_routes)

    replay = commands.add_parser(
        "replay",
        help="run the selector offline over stored results",
        description="Every decision the selector would have made over the stored results, "
        "the switches per hour and the time each PoP spent on each uplink.",
    )
    add_config_option(replay)
    replay.add_argument("--db", type=Path, help="the store (default: the config's)")
    replay.add_argument(
        "--since", default="24h", help="how far back: a duration (6h, 2d) or an ISO time; 24h"
    )
    replay.add_argument("--until", help="end: a duration ago or an ISO time (default: now)")
    replay.add_argument("--strategy", choices=STRATEGIES, help="override [selector] strategy")
    replay.add_argument(
        "--tick", type=duration_option, default=1.0, help="selector tick interval (default 1s)"
    )
    replay.add_argument("--json", action="store_true", help="one JSON document")
    replay.set_defaults(run=run_replay)


def run_routes(args: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.selector.routes import RouteWriter

    config = load_config(args.config)
    routes = config.selector.routes
    with RouteWriter(routes, config.uplinks, config.pops) as writer:
        if args.action == "show":
            shown = _shown(writer)
            print(json.dumps(shown, indent=1) if args.json else _show_text(shown))
            return 0
        state = writer.read()
        if args.action == "flush":
            changes = writer.flush_plan(state)
        else:
            choices = writer.installed_choices(state) | _via(args.via, config)
            changes = writer.plan(choices, state)
        if not args.json:
            print("\n".join(c.describe(routes) for c in changes) or "nothing to change")
        failed = []
        if args.action != "plan":
            result = writer.apply(changes, time.time_ns())
            failed = [e.text for e in result.events if e.kind == EventKind.ROUTE_FAILED]
    if args.json:
        listed = [_change(change, routes) for change in changes]
        print(json.dumps({"action": args.action, "changes": listed, "failed": failed}, indent=1))
    else:
        for text in failed:
            print(f"failed: {text}")
    return 1 if failed else 0


def _change(change: "RouteChange", routes: Any) -> dict[str, Any]:
    hops = [{"gateway": g, "device": d, "weight": w} for g, d, w in change.hops]
    return dataclasses.asdict(change) | {"hops": hops, "text": change.describe(routes)}


def _shown(writer: "RouteWriter") -> dict[str, Any]:
    """What ``routes show`` prints: our table, rules and routes, and the choices they make."""
    routes = writer.routes
    state = writer.read()
    return {
        "table": routes.table,
        "rule_priority": routes.rule_priority,
        "proto": routes.proto,
        "routes": [
            {
                "prefix": prefix,
                "rule": prefix in state.rules,
                "hops": [{"gateway": g, "device": d, "weight": w} for g, d, w in hops],
            }
            for prefix, hops in sorted(state.routes.items())
        ],
        "rules_without_route": sorted(state.rules - set(state.routes)),
        "foreign": [{"prefix": p, "proto": proto} for p, proto in sorted(state.foreign.items())],
        "choices": {
            pop: [{"uplink": uplink, "weight": weight} for uplink, weight in choice]
            for pop, choice in sorted(writer.installed_choices(state).items())
        },
    }


def _show_text(shown: dict[str, Any]) -> str:
    lines = [
        f"table {shown['table']}, rules at priority {shown['rule_priority']}, "
        f"proto {shown['proto']}"
    ]
    for route in shown["routes"]:
        rule = "rule" if route["rule"] else "NO RULE"
        via = ", ".join(
            f"{h['gateway']} dev {h['device']} weight {h['weight']}" for h in route["hops"]
        )
        lines.append(f"  {route['prefix']:<20} {rule:<8} via {via}")
    lines += [
        f"  {prefix:<20} rule     (no route of ours)" for prefix in shown["rules_without_route"]
    ]
    lines += [
        f"  {f['prefix']:<20} foreign route (proto {f['proto']}) in our table, left alone"
        for f in shown["foreign"]
    ]
    for pop, choice in shown["choices"].items():
        weighted = ", ".join(f"{c['uplink']}*{c['weight']}" for c in choice)
        lines.append(f"  {pop}: {weighted}")
    return "\n".join(lines)


def _via(values: Sequence[str], config: "AgentConfig") -> dict[str, "Choice"]:
    """``--via hkg=cu`` / ``--via hkg=ct,cu`` -> choices, checked against the config."""
    pops = {p.name for p in config.pops}
    uplinks = {u.name for u in config.uplinks}
    choices: dict[str, Choice] = {}
    for value in values:
        pop, _, names = value.partition("=")
        chosen = [name for name in names.split(",") if name]
        if pop not in pops or not chosen or any(name not in uplinks for name in chosen):
            raise ConfigError(
                f"--via {value!r}: write POP=UPLINK[,UPLINK] with PoPs {sorted(pops)} "
                f"and uplinks {sorted(uplinks)}"
            )
        choices[pop] = tuple(sorted((name, 1) for name in chosen))
    return choices


def run_replay(args: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.selector import Selector, replay
    from borderpath.storage.store import Store

    config = load_config(args.config)
    selector_config = config.selector
    if args.strategy:
        selector_config = selector_config.model_copy(update={"strategy": args.strategy})
    now = time.time()
    since = _moment(args.since, now, "--since")
    until = _moment(args.until, now, "--until") if args.until else now
    tick = args.tick
    path = args.db or config.storage.database_path(config.agent.data_dir)
    if not path.exists():
        raise ConfigError(f"--db {path}: no such store")
    store = Store.open_read_only(path, config.storage)
    try:
        selector = Selector(selector_config, config.uplinks, config.pops)
        with Progress() as progress:
            batches = _batches(store, since, until, tick, progress)
            report = replay(selector, batches, tick_every=tick)
    finally:
        store.close()
    print(json.dumps(report.as_dict(), indent=1) if args.json else report.render())
    return 0


def _batches(
    store: Any, since: float, until: float, tick: float, progress: Progress
) -> Iterator[list["ProbeResult"]]:
    """Stored results in time order, one batch per tick interval."""
    batch: list[ProbeResult] = []
    slot = None
    start = since
    while start < until:
        progress.show(f"replaying {_utc(start)} ({(start - since) / (until - since):.0%})")
        end = min(until, start + REPLAY_CHUNK_S)
        for result in store.query_results(int(start * 1e9), int(end * 1e9)):
            here = int(result.time_ns / 1e9 // tick)
            if slot is not None and here != slot and batch:
                yield batch
                batch = []
            slot = here
            batch.append(result)
        start = end
    if batch:
        yield batch


def _moment(value: str, now: float, option: str) -> float:
    """A duration ago ("6h") or an ISO time ("2026-11-23T20:00:00Z")."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r}: write a duration (6h) or an ISO time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _utc(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
