"""The ``borderpath`` command: one sub-command per job, each error one line."""

import argparse
import importlib.metadata
import sys

from borderpath.agent.commands import agent, alerts, probes, selector, storage
from borderpath.core.errors import BorderpathError
from borderpath.lab import cli as lab_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borderpath", description=__doc__)
    parser.add_argument("--version", action="version", version=f"borderpath {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (agent, probes, storage, selector, alerts, lab_cli):
        module.add_commands(commands)
    arguments = parser.parse_args(argv)
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
