"""``borderpath`` sub-commands of the probes: probe, trace, responder."""

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from borderpath.agent.commands import add_config_option
from borderpath.core.durations import duration_option, format_duration
from borderpath.core.errors import ConfigError
from borderpath.core.progress import Progress

if TYPE_CHECKING:
    from borderpath.core.results import ProbeResult
    from borderpath.probes import Engine
    from borderpath.probes.summary import SeriesSummary

DEFAULT_DURATION_S = 10.0
PROGRESS_EVERY_S = 0.5


def add_commands(commands: Any) -> None:
    """Register this module's sub-commands on the top-level parser's subparsers."""
    probe = commands.add_parser(
        "probe",
        help="probe every path now (no storage, no steering) and print what was seen",
        description="Probe every series (uplink x PoP x protocol) now and print a summary "
        "of each. Exit code 1 when a series got no answer at all, like fping.",
    )
    add_config_option(probe)
    probe.add_argument("--once", action="store_true", help="one round of every series")
    probe.add_argument(
        "--duration",
        type=duration_option,
        default=DEFAULT_DURATION_S,
        help="how long to probe without --once (e.g. 30s, 2m); 10s",
    )
    probe.add_argument("--uplink", action="append", help="only this uplink (repeat)")
    probe.add_argument("--pop", action="append", help="only this PoP (repeat)")
    probe.add_argument("--protocol", action="append", help="only this protocol (repeat)")
    probe.add_argument("--json", action="store_true", help="JSON lines, one per series")
    probe.add_argument(
        "--no-plumbing",
        action="store_true",
        help="do not create the probe routing tables and rules (they already exist)",
    )
    probe.set_defaults(run=_probe)

    trace = commands.add_parser(
        "trace",
        help="traceroute one path and label its backbone",
        description="Traceroute one path (uplink to PoP) and label the backbone it crosses "
        "the border on. Exit code 1 when the trace did not reach the PoP.",
    )
    add_config_option(trace)
    trace.add_argument("--uplink", required=True)
    trace.add_argument("--pop", required=True)
    trace.add_argument("--protocol", choices=("tcp", "udp", "icmp"), help="default: [trace]")
    trace.add_argument("--json", action="store_true", help="one JSON document")
    trace.add_argument("--no-plumbing", action="store_true", help="tables and rules exist")
    trace.set_defaults(run=_trace)

    responder = commands.add_parser(
        "responder", help="run the PoP responder (udp echo, tcp, quic, https health)"
    )
    from borderpath.probes.responder import add_arguments

    add_arguments(responder)
    responder.set_defaults(run=_responder)


def _probe(arguments: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.core.results import ProbeResult
    from borderpath.probes import Engine, Plumbing
    from borderpath.probes.summary import summarize, table

    config = load_config(arguments.config)
    _check_names(arguments.uplink, [u.name for u in config.uplinks], "--uplink")
    _check_names(arguments.pop, [p.name for p in config.pops], "--pop")
    results: list[ProbeResult] = []
    engine = Engine(
        config.uplinks,
        config.pops,
        config.probing,
        on_batch=results.extend,
        only_uplinks=set(arguments.uplink or ()),
        only_pops=set(arguments.pop or ()),
        only_protocols=set(arguments.protocol or ()),
        rounds=1 if arguments.once else None,
    )
    if not engine.series:
        raise ConfigError("no series to probe: check --uplink, --pop and --protocol")

    async def run() -> None:
        await engine.start()
        with Progress() as progress:
            reporting = asyncio.create_task(_report(progress, engine, results, arguments))
            try:
                if arguments.once:
                    await engine.finished()
                else:
                    await asyncio.sleep(arguments.duration)
            finally:
                reporting.cancel()
                await engine.stop()

    plumbing = None if arguments.no_plumbing else Plumbing(config.uplinks, config.probing)
    if plumbing is not None:
        plumbing.apply()
    try:
        asyncio.run(run())
    finally:
        if plumbing is not None:
            plumbing.remove()
    summaries = summarize(results)
    if arguments.json:
        for summary in summaries:
            print(json.dumps(summary.document()))
    else:
        print(table(summaries))
    return _unanswered(summaries)


async def _report(
    progress: Progress, engine: "Engine", results: list["ProbeResult"], arguments: Any
) -> None:
    """How far the probing is, every half second, until cancelled."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    length = "one round" if arguments.once else format_duration(arguments.duration)
    while True:
        elapsed = loop.time() - started
        progress.show(
            f"probing {len(engine.series)} series ({length}): {elapsed:.0f} s, "
            f"{len(results)} results"
        )
        await asyncio.sleep(PROGRESS_EVERY_S)


def _unanswered(summaries: list["SeriesSummary"]) -> int:
    """Exit code 1, with the series named, when any series got no answer at all."""
    silent = [summary.series for summary in summaries if summary.summary.received == 0]
    if not silent:
        return 0
    print(
        f"borderpath: no answer on {len(silent)} of {len(summaries)} series: {', '.join(silent)}",
        file=sys.stderr,
    )
    return 1


def _check_names(given: list[str] | None, known: list[str], option: str) -> None:
    for name in given or ():
        if name not in known:
            raise ConfigError(f"{option} {name!r}: not in the config (known: {', '.join(known)})")


def _trace(arguments: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.probes import Classifier, Plumbing
    from borderpath.probes.series import plan
    from borderpath.probes.trace import trace_path

    config = load_config(arguments.config)
    _check_names([arguments.uplink], [u.name for u in config.uplinks], "--uplink")
    _check_names([arguments.pop], [p.name for p in config.pops], "--pop")
    trace_config = config.trace
    if arguments.protocol:
        trace_config = trace_config.model_copy(update={"protocol": arguments.protocol})
    series = plan(
        config.uplinks,
        config.pops,
        config.probing,
        only_uplinks={arguments.uplink},
        only_pops={arguments.pop},
    )[0]
    plumbing = None if arguments.no_plumbing else Plumbing(config.uplinks, config.probing)
    if plumbing is not None:
        plumbing.apply()
    try:
        result = asyncio.run(trace_path(series.target, series.mark, series.source, trace_config))
    finally:
        if plumbing is not None:
            plumbing.remove()
    label = Classifier(trace_config.extra_prefixes).label(result.addresses)
    if arguments.json:
        print(json.dumps({**result.as_dict(), "label": label}))
    else:
        print(result.text())
        print(f"backbone: {label}")
    if not result.reached:
        print(f"borderpath: the trace did not reach {result.target}", file=sys.stderr)
        return 1
    return 0


def _responder(arguments: argparse.Namespace) -> int:
    from borderpath.probes.responder import run

    return run(arguments)
