"""The ``borderpath`` command: one sub-command per job, each error one line.

The product's packages add their sub-commands from ``agent/commands/``; tools built on
the product (the lab, the demo) add theirs through the ``borderpath.commands`` entry
point group, so the product never imports them.
"""

import argparse
import importlib.metadata
import sys
from typing import NoReturn

from borderpath.agent.commands import agent, alerts, completion, probes, selector, storage
from borderpath.core.errors import BorderpathError

TOOLS_GROUP = "borderpath.commands"

DESCRIPTION = """\
Path selection and telemetry for SD-WAN across the China border, one sub-command
per job: 'borderpath COMMAND --help' tells more."""
EXIT_CODES = """\
exit codes:
  0    done, and everything it looked at answered
  1    done, but something failed: a target never answered (probe, trace), the
       kernel refused a route (routes apply), a receiver refused (alerts test)
  2    a config file or an option is wrong (one line says which)
  3    could not do the job: no agent answers, the store, the lab, a capability
  130  interrupted (Ctrl-C)"""


class OneLineParser(argparse.ArgumentParser):
    """A usage error in one line (exit 2), like every other error of borderpath; its
    sub-command parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every sub-command of every package."""
    parser = OneLineParser(
        prog="borderpath",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"borderpath {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (agent, probes, storage, selector, alerts, completion):
        module.add_commands(commands)
    for tool in importlib.metadata.entry_points(group=TOOLS_GROUP):
        tool.load()(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error the parser has said
        return int(exit.code or 0)
    try:
        result: int = arguments.run(arguments)
    except BorderpathError as exc:
        print(f"borderpath: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        return 0
    return result


def _version() -> str:
    try:
        return importlib.metadata.version("borderpath")
    except importlib.metadata.PackageNotFoundError:  # run from a tree that is not installed
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
