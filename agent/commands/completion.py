"""``borderpath completion bash|zsh``: the shell's completion script, made by shtab from
the command's own parser, so it never lags behind a new option."""

import argparse
from pathlib import Path
from typing import Any

SHELLS = ("bash", "zsh")


def add_commands(commands: Any) -> None:
    """Register this module's sub-command on the top-level parser's subparsers."""
    completion = commands.add_parser(
        "completion",
        help="print the shell completion script (bash or zsh)",
        description="Print the completion script of every sub-command and option. "
        "bash: borderpath completion bash > /etc/bash_completion.d/borderpath; "
        'zsh: borderpath completion zsh > "${fpath[1]}/_borderpath".',
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(run=_run)


def _run(arguments: argparse.Namespace) -> int:
    import shtab

    from borderpath.agent.cli import build_parser

    parser = build_parser()
    _complete_files(parser, shtab.FILE)
    print(shtab.complete(parser, shell=arguments.shell), end="")
    return 0


def _complete_files(parser: argparse.ArgumentParser, files: Any) -> None:
    """Every option that takes a path (type=Path) completes file names."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _complete_files(subparser, files)
        elif action.type is Path:
            action.complete = files  # type: ignore[attr-defined]
