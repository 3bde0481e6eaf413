"""``borderpath agent run`` and ``borderpath status``."""

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    agent = commands.add_parser("agent", help="the headless agent of a branch router")
    actions = agent.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="probe, store, steer and alert until stopped")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.set_defaults(run=_run)

    status = commands.add_parser("status", help="the uplink x PoP matrix from the running agent")
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true", help="the agent's /status document")
    status.set_defaults(run=_status)


def _run(arguments: argparse.Namespace) -> int:
    from borderpath.agent import logs, runner
    from borderpath.agent.config import load_config

    config = load_config(arguments.config)
    logs.setup(arguments.log_format)
    return asyncio.run(runner.run(arguments.config, config))


def _status(arguments: argparse.Namespace) -> int:
    from borderpath.agent.config import load_config
    from borderpath.agent.matrix import fetch_status, matrix

    document = fetch_status(load_config(arguments.config).status.listen)
    print(json.dumps(document, indent=1) if arguments.json else matrix(document))
    return 0
