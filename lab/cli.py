"""``borderpath lab ...``: build, drive, inspect and remove an emulated China border."""

import argparse
import json
from pathlib import Path
from typing import Any

from borderpath.lab.layout import DEFAULT_NAME


def add_commands(commands: Any) -> None:
    add_demo_command(commands)
    lab = commands.add_parser("lab", help="the emulated China border (network namespaces)")
    actions = lab.add_subparsers(dest="action", required=True, metavar="ACTION")

    up = actions.add_parser("up", help="build the lab and start its scenario")
    _name(up)
    up.add_argument("--topology", type=Path, help="topology TOML (default: the Shanghai branch)")
    up.add_argument(
        "--scenario", type=Path, help="scenario TOML (default: the topology's conditions)"
    )
    _json(up)
    up.set_defaults(run=_up)

    down = actions.add_parser("down", help="remove every namespace, process and file of the lab")
    _name(down)
    down.set_defaults(run=_down)

    status = actions.add_parser("status", help="namespaces, addresses, scenario and conditions")
    _name(status)
    _json(status)
    status.set_defaults(run=_status)

    apply = actions.add_parser("apply", help="play a scenario file's paths and events from now on")
    _name(apply)
    apply.add_argument("scenario", type=Path)
    apply.set_defaults(run=_apply)

    run = actions.add_parser("exec", help="run a command in a lab namespace")
    _name(run)
    run.add_argument("--ns", default="branch", help="branch, lan, border, a carrier or a PoP")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    run.set_defaults(run=_exec)

    config = actions.add_parser("agent-config", help="print an agent config for the lab's branch")
    _name(config)
    config.add_argument(
        "--data-dir", type=Path, help="where the agent keeps its store (default: the lab's own)"
    )
    config.set_defaults(run=_agent_config)


def add_demo_command(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="three minutes of a branch's evening with the real agent, in the lab"
    )
    demo.add_argument("--scenario", type=Path, help="scenario TOML to play instead of the default")
    demo.add_argument(
        "--chart", type=Path, default=Path("borderpath-demo.png"), help="where to write the chart"
    )
    demo.set_defaults(run=_demo)


def _demo(arguments: argparse.Namespace) -> int:
    from borderpath.lab.demo import run_demo

    return run_demo(arguments.scenario, arguments.chart)


def _name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help=f"lab name, prefixes its namespaces (default {DEFAULT_NAME})",
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the documented JSON contract")


def _up(arguments: argparse.Namespace) -> int:
    from borderpath.lab.lab import Lab

    lab = Lab.up(arguments.name, arguments.topology, arguments.scenario)
    _print_status(lab.status(), arguments.json)
    return 0


def _down(arguments: argparse.Namespace) -> int:
    from borderpath.lab.lab import Lab

    Lab(arguments.name).down()
    return 0


def _status(arguments: argparse.Namespace) -> int:
    from borderpath.lab.lab import Lab

    _print_status(Lab(arguments.name).status(), arguments.json)
    return 0


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    from borderpath.lab.report import describe

    print(json.dumps(status, indent=2) if as_json else describe(status))


def _apply(arguments: argparse.Namespace) -> int:
    from borderpath.lab.lab import Lab
    from borderpath.lab.scenario import load_scenario

    lab = Lab(arguments.name)
    scenario = load_scenario(arguments.scenario, lab.plan.topology)
    changes = [change.model_dump(exclude_none=True) for change in scenario.paths]
    changes += [event.model_dump(exclude_none=True) for event in scenario.events]
    lab.apply(changes)
    return 0


def _exec(arguments: argparse.Namespace) -> int:
    from borderpath.core.errors import ConfigError
    from borderpath.lab.lab import Lab

    argv = arguments.argv[1:] if arguments.argv[:1] == ["--"] else arguments.argv
    if not argv:
        raise ConfigError(
            "lab exec: give the command after '--', e.g. lab exec --ns hkg -- ping 100.64.1.2"
        )
    return Lab(arguments.name).exec(arguments.ns, argv)


def _agent_config(arguments: argparse.Namespace) -> int:
    from borderpath.lab.agent_config import agent_config
    from borderpath.lab.lab import Lab

    print(agent_config(Lab(arguments.name).status(), arguments.data_dir), end="")
    return 0
