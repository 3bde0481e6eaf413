"""``borderpath agent run|check`` and ``borderpath status``."""

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from borderpath.agent.commands import add_config_option
from borderpath.core.durations import duration_option, format_duration

WATCH_EVERY_S = 2.0


def add_commands(commands: Any) -> None:
    agent = commands.add_parser("agent", help="the headless agent of a branch router")
    actions = agent.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="probe, store, steer and alert until stopped",
        description="Runs 'agent check' first: a mistake is one line and exit 2, "
        "before anything is changed.",
    )
    add_config_option(run)
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.set_defaults(run=_run)

    check = actions.add_parser(
        "check",
        help="check a config on this router, changing nothing",
        description="The file (TOML, every key, the rules across sections), then this "
        "router: the uplinks' interfaces, the secret files and variables (never shown), "
        "the CA files, and the kernel's rules and routes against our tables, priorities, "
        "marks and protocol. Each mistake is one line FILE[:LINE]: key: message; exit 2 "
        "if there is any.",
    )
    add_config_option(check)
    check.add_argument("--json", action="store_true", help="the findings as one JSON document")
    check.add_argument(
        "--file-only",
        action="store_true",
        help="check the file alone, not this router (e.g. on a build machine)",
    )
    check.set_defaults(run=_check)

    status = commands.add_parser("status", help="the uplink x PoP matrix from the running agent")
    add_config_option(status)
    status.add_argument("--json", action="store_true", help="the agent's /status document")
    status.add_argument(
        "--watch",
        nargs="?",
        const=WATCH_EVERY_S,
        type=duration_option,
        metavar="INTERVAL",
        help=f"redraw every INTERVAL (default {format_duration(WATCH_EVERY_S)}) until Ctrl-C; "
        "with --json, one document per line",
    )
    status.set_defaults(run=_status)


def _run(arguments: argparse.Namespace) -> int:
    from borderpath.agent import logs, runner
    from borderpath.agent.preflight import checked

    config = checked(arguments.config)
    logs.setup(arguments.log_format)
    return asyncio.run(runner.run(arguments.config, config))


def _check(arguments: argparse.Namespace) -> int:
    from borderpath.agent.preflight import check

    config, mistakes = check(arguments.config, here=not arguments.file_only)
    if arguments.json:
        document = {
            "file": str(arguments.config),
            "ok": not mistakes,
            "mistakes": [mistake.as_dict() for mistake in mistakes],
        }
        print(json.dumps(document, indent=1))
    for mistake in [] if arguments.json else mistakes:
        print(f"borderpath: {mistake}", file=sys.stderr)
    if config is not None and not mistakes and not arguments.json:
        where = "the file" if arguments.file_only else "the file and this router"
        print(
            f"{arguments.config}: ok ({where}: {len(config.uplinks)} uplinks, "
            f"{len(config.pops)} PoPs)"
        )
    return 2 if mistakes else 0


def _status(arguments: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.agent.matrix import fetch_status, matrix

    listen = load_config(arguments.config).status.listen
    if arguments.watch is None:
        document = fetch_status(listen)
        print(json.dumps(document, indent=1) if arguments.json else matrix(document))
        return 0
    return _watch(listen, arguments.watch, arguments.json)


def _watch(listen: str, every: float, as_json: bool) -> int:
    """Redraw in place on a terminal (a new screen below the last one elsewhere) until
    Ctrl-C; an agent that stops answering is said on stderr and waited for."""
    from borderpath.agent.matrix import CLEAR, fetch_status, matrix
    from borderpath.core.errors import BorderpathError

    clear = CLEAR if sys.stdout.isatty() and not as_json else ""
    try:
        while True:
            try:
                document = fetch_status(listen)
            except BorderpathError as exc:
                print(f"borderpath: {exc}", file=sys.stderr, flush=True)
            else:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                screen = f"every {format_duration(every)}, {stamp}\n{matrix(document)}\n"
                print(json.dumps(document) if as_json else clear + screen, flush=True)
            time.sleep(every)
    except KeyboardInterrupt:  # the way out of a watch: not a failure
        return 0
