"""``borderpath probe``, ``trace`` and ``responder`` as a user runs them."""

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config, borderpath_argv
from borderpath.lab.lab import Lab

VOID_POP = """
[[pops]]
name = "void"
address = "198.51.100.99"
"""
"""A PoP at an address nothing in the lab answers for."""
QUICK_TRACE = "[trace]\nmax_hops = 16\n"  # hop_timeout: the lab config's 500 ms


def _command(lab: Lab, tmp_path: Path, *arguments: str, extra: str = "") -> list[str]:
    """``borderpath COMMAND --config <the lab's agent config + extra> ...`` in the branch."""
    config = tmp_path / "agent.toml"
    text = agent_config(lab.status()).replace("[trace]\n", QUICK_TRACE) + extra
    config.write_text(text, encoding="utf-8")
    argv = borderpath_argv(arguments[0], "--config", str(config))
    return netns.exec_argv(lab.namespace("branch"), [*argv, *arguments[1:]])


def _borderpath(
    lab: Lab, tmp_path: Path, *arguments: str, extra: str = ""
) -> subprocess.CompletedProcess[str]:
    command = _command(lab, tmp_path, *arguments, extra=extra)
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.lab
def test_probe_once_prints_one_json_line_per_series(shared_lab: Lab, tmp_path: Path) -> None:
    done = _borderpath(shared_lab, tmp_path, "probe", "--once", "--pop", "hkg", "--json")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    # One probe per series: a lost one is a series with no answer, exit 1 (as fping).
    assert done.returncode == (1 if any(row["received"] == 0 for row in rows) else 0), done.stderr
    assert len(rows) == 3 * 5  # three uplinks, five protocols
    assert {row["series"].split("/")[2] for row in rows} == {"icmp", "tcp", "udp", "quic", "http"}
    # Off-peak, ct and cm lose about 1 % each way: two of fifteen lost happens (a TCP
    # probe whose SYN-ACK is lost is a loss since tcp waits 1 s); three almost never.
    assert sum(row["received"] for row in rows) >= 12


@pytest.mark.lab
def test_probe_exits_1_and_names_the_series_that_never_answered(
    shared_lab: Lab, tmp_path: Path
) -> None:
    done = _borderpath(
        shared_lab,
        tmp_path,
        *("probe", "--duration", "3s", "--pop", "hkg", "--pop", "void", "--protocol", "icmp"),
        extra=VOID_POP,
    )
    assert done.returncode == 1
    (said,) = done.stderr.splitlines()
    prefix = "borderpath: no answer on 3 of 6 series: "
    assert said.startswith(prefix)
    assert set(said.removeprefix(prefix).split(", ")) == {
        f"{u}/void/icmp" for u in ("ct", "cu", "cm")
    }
    assert len(done.stdout.splitlines()) == 1 + 6  # the table is there all the same


@pytest.mark.lab
def test_probe_shows_its_progress_on_a_terminal_and_erases_it(
    shared_lab: Lab, tmp_path: Path
) -> None:
    command = _command(shared_lab, tmp_path, "probe", "--duration", "2s", "--pop", "hkg")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, check=False)
        os.close(follower)
        shown = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
    assert "probing 15 series (2s): 1 s, " in shown
    # Erased at the end, so the table stands alone; only a silent series is said after it.
    after = shown.rsplit("\r\x1b[K", 1)[1]
    assert after == "" if done.returncode == 0 else after.startswith("borderpath: no answer on ")


@pytest.mark.lab
def test_trace_exits_1_when_it_does_not_reach_the_pop(shared_lab: Lab, tmp_path: Path) -> None:
    done = _borderpath(
        shared_lab, tmp_path, "trace", "--uplink", "ct", "--pop", "void", extra=VOID_POP
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["borderpath: the trace did not reach 198.51.100.99"]


@pytest.mark.lab
def test_trace_prints_the_hops_and_the_backbone(shared_lab: Lab, tmp_path: Path) -> None:
    done = _borderpath(shared_lab, tmp_path, "trace", "--uplink", "cu", "--pop", "nrt")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "backbone: cu-9929"


@pytest.mark.lab
def test_an_unknown_uplink_is_one_line_and_exit_2(shared_lab: Lab, tmp_path: Path) -> None:
    done = _borderpath(shared_lab, tmp_path, "probe", "--once", "--uplink", "xx")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "borderpath: --uplink 'xx': not in the config (known: ct, cu, cm)"
    ]


def test_the_responder_refuses_a_bad_config_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "responder.toml"
    config.write_text('listen = ["203.0.113.10"]\nudp_port = 0\n', encoding="utf-8")
    done = subprocess.run(
        borderpath_argv("responder", "--config", str(config)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "udp_port" in done.stderr
