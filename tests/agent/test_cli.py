"""The ``borderpath`` command line as a user meets it: help, usage errors, durations and
shell completion, run in a subprocess."""

import argparse
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderpath.agent.cli import build_parser
from borderpath.core.durations import duration_option

COMMANDS = {"agent", "status", "probe", "trace", "responder", "query", "routes", "replay"}
COMMANDS |= {"alerts", "demo", "lab", "completion", "export"}
DURATION_OPTIONS = {
    ("probe", "--duration"),
    ("replay", "--tick"),
    ("query", "--since"),
    ("status", "--watch"),
}
"""Every option of the CLI that takes a duration (replay --since/--until also take an
ISO time, through the same parser)."""


def borderpath(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "borderpath.agent.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


def options(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.Action]]:
    """(sub-command path, action) for every option of every sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from options(subparser, f"{path} {name}".strip())
        else:
            yield path, action


def test_top_level_help_is_plain_text_with_every_command_and_the_exit_codes() -> None:
    done = borderpath("--help")
    assert done.returncode == 0
    assert "``" not in done.stdout and ":func:" not in done.stdout
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("    ")}
    assert listed >= COMMANDS
    codes = done.stdout.split("exit codes:")[1]
    assert [line.split()[0] for line in codes.splitlines() if line[:3].strip()] == [
        "0",
        "1",
        "2",
        "3",
        "130",
    ]


def test_a_usage_error_is_one_line_and_exit_2() -> None:
    done = borderpath("routes", "bogus", "--config", "agent.toml")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "borderpath routes: argument action: invalid choice: 'bogus' (choose from 'show', "
        "'plan', 'apply', 'flush') (see 'borderpath routes --help')"
    ]


def test_every_duration_option_reads_durations_with_the_one_parser() -> None:
    found = {
        (path, action.option_strings[-1])
        for path, action in options(build_parser())
        if action.type is duration_option
    }
    assert found == DURATION_OPTIONS
    floats = [
        (path, action.dest) for path, action in options(build_parser()) if action.type is float
    ]
    assert floats == [], "a number of seconds must be a duration option"


@pytest.mark.parametrize(("command", "option"), sorted(DURATION_OPTIONS))
def test_a_duration_option_takes_1m_and_refuses_1x(command: str, option: str) -> None:
    needed = {"query": ["paths"]}.get(command, [])
    argv = [command, *needed, "--config", "none.toml", option]
    parsed = build_parser().parse_args([*argv, "1m"])
    assert getattr(parsed, option.lstrip("-")) == 60.0
    done = borderpath(*argv, "1x")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"borderpath {command}: argument {option}: '1x' is not a duration (write e.g. '500ms', "
        f"'90s', '1m30s', '2h') (see 'borderpath {command} --help')"
    ]


def complete(script: str, line: str, cwd: Path) -> list[str]:
    """What bash offers at the end of ``line``, in ``cwd``, with the script loaded."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    program = f"""
source /dev/stdin <<'COMPLETION'
{script}
COMPLETION
COMP_WORDS=({" ".join(shlex.quote(word) for word in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={shlex.quote(line)}
COMP_POINT={len(line)}
_shtab_borderpath
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, cwd=cwd
    )
    return done.stdout.split()


def test_bash_completes_commands_actions_options_and_files(tmp_path: Path) -> None:
    done = borderpath("completion", "bash")
    assert done.returncode == 0, done.stderr
    (tmp_path / "agent.toml").touch()
    script = done.stdout
    assert complete(script, "borderpath ro", tmp_path) == ["routes"]
    assert complete(script, "borderpath routes ", tmp_path) == ["show", "plan", "apply", "flush"]
    assert "--watch" in complete(script, "borderpath status --", tmp_path)
    assert complete(script, "borderpath completion ", tmp_path) == ["bash", "zsh"]
    assert complete(script, "borderpath replay --config ag", tmp_path) == ["agent.toml"]


def test_zsh_completion_is_a_compdef_of_every_command() -> None:
    done = borderpath("completion", "zsh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#compdef borderpath")
    assert all(f"\n    {command}:'" in done.stdout for command in COMMANDS)
