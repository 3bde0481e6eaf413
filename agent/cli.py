"""The ``borderpath`` command: one sub-command per job, each error one line.

The product's packages add their sub-commands from ``agent/commands/``; tools built on
the product (the lab, the demo) add theirs through the ``borderpath.commands`` entry
point group, so the product never imports them.
"""

import argparse
import importlib.metadata
import sys

from borderpath.agent.commands import agent, alerts, probes, selector, storage
from borderpath.core.errors import BorderpathError

TOOLS_GROUP = "borderpath.commands"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borderpath", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (agent, probes, storage, selector, alerts):
        module.add_commands(commands)
    for tool in importlib.metadata.entry_points(group=TOOLS_GROUP):
        tool.load()(commands)
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


if __name__ == "__main__":
    sys.exit(main())
