"""``borderpath routes`` in the lab's branch and ``borderpath replay`` over a real store."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from bench.synthetic import BLACKHOLE, Event, Link, probe_stream, scheduled
from borderpath.agent.cli import main
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.storage.store import Store
from tests.selector.support import T0, pop, uplinks
from tests.selector.test_routes import lab_config, lan_leaves_by

CONFIG = """
[agent]
site = "test"
data_dir = "{data}"

[[uplinks]]
name = "ct"
carrier = "lab"
interface = "ct"
gateway = "100.64.1.1"

[[uplinks]]
name = "cu"
carrier = "lab"
interface = "cu"
gateway = "100.64.2.1"

[[uplinks]]
name = "cm"
carrier = "lab"
interface = "cm"
gateway = "100.64.3.1"

[[pops]]
name = "hkg"
address = "203.0.113.10"
prefixes = ["198.19.1.0/24"]
protocols = ["icmp"]
"""


def borderpath_in(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    command = netns.exec_argv(
        lab.namespace("branch"), [sys.executable, "-m", "borderpath.agent.cli", *argv]
    )
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.lab
def test_routes_plan_apply_show_and_flush_in_the_branch(shared_lab: Lab, tmp_path: Path) -> None:
    lab_config(shared_lab, tmp_path)
    config = tmp_path / "agent.toml"
    try:
        plan = borderpath_in(
            shared_lab, "routes", "plan", "--config", str(config), "--via", "hkg=cu"
        )
        assert plan.returncode == 0, plan.stderr
        assert plan.stdout.splitlines()[0].startswith("replace 198.19.1.0/24 via 100.64.2.1 dev cu")
        assert lan_leaves_by(shared_lab) == "ct"  # plan changed nothing
        applied = borderpath_in(
            shared_lab, "routes", "apply", "--config", str(config), "--via", "hkg=cu"
        )
        assert applied.returncode == 0, applied.stderr
        assert lan_leaves_by(shared_lab) == "cu"
        shown = borderpath_in(shared_lab, "routes", "show", "--config", str(config))
        assert "hkg: cu*1" in shown.stdout
        document = json.loads(
            borderpath_in(shared_lab, "routes", "show", "--config", str(config), "--json").stdout
        )
        assert document["choices"] == {"hkg": [{"uplink": "cu", "weight": 1}]}
        (route,) = document["routes"]
        assert (route["prefix"], route["rule"], route["hops"][0]["device"]) == (
            "198.19.1.0/24",
            True,
            "cu",
        )
        again = borderpath_in(shared_lab, "routes", "plan", "--config", str(config))
        assert again.stdout.strip() == "nothing to change"
        moved = borderpath_in(
            shared_lab, "routes", "plan", "--config", str(config), "--via", "hkg=cm", "--json"
        )
        (change,) = json.loads(moved.stdout)["changes"]
        assert (change["action"], change["prefix"], change["hops"][0]["device"]) == (
            "replace",
            "198.19.1.0/24",
            "cm",
        )
        assert change["text"].startswith("replace 198.19.1.0/24 via")
    finally:
        flushed = borderpath_in(shared_lab, "routes", "flush", "--config", str(config))
    assert flushed.returncode == 0, flushed.stderr
    assert lan_leaves_by(shared_lab) == "ct"


def test_routes_via_names_a_wrong_uplink_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG.format(data=tmp_path), encoding="utf-8")
    assert main(["routes", "plan", "--config", str(config), "--via", "hkg=zz"]) == 2
    assert capsys.readouterr().err.startswith("borderpath: --via 'hkg=zz'")


def replay_arguments(tmp_path: Path) -> list[str]:
    """``replay`` over a store of two minutes: cu best, then blackholed at 60 s."""
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG.format(data=tmp_path), encoding="utf-8")
    db = tmp_path / "store.db"
    store = Store.open(db, site="test", uplinks=uplinks(), pops=[pop()])
    conditions = scheduled(
        lambda u, _p: Link(30 if u == "cu" else 45, 2), [Event(60, 1e9, "cu", "hkg", BLACKHOLE)]
    )
    series = [(u, "hkg", "icmp") for u in ("ct", "cu", "cm")]
    for _, batch in probe_stream(series, conditions, start=T0, duration=120, interval=0.2):
        store.write_results(batch)
    store.close()
    window = ["--since", "2023-11-14T22:13:00", "--until", "2023-11-14T22:16:00"]
    return ["replay", "--config", str(config), "--db", str(db), *window, "--tick", "200ms"]


def test_replay_reads_the_store_and_prints_decisions_and_time_per_uplink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(replay_arguments(tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    assert "initial        hkg: cu is best score" in out
    assert "failover       hkg: cu is down; moving to" in out
    assert "hkg: " in out and "cu 1m (50%)" in out


def test_replay_json_says_the_same_and_progress_goes_only_to_a_terminal(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "borderpath.agent.cli", *replay_arguments(tmp_path)]
    leader, follower = pty.openpty()
    try:
        on_terminal = subprocess.run(
            [*command, "--json"],
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
            check=False,
        )
        os.close(follower)
        shown = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
    piped = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert on_terminal.returncode == piped.returncode == 0
    report = json.loads(on_terminal.stdout)
    assert [(d["action"], d["uplink"]) for d in report["decisions"]][:2] == [
        ("initial", "cu"),
        ("failover", report["decisions"][1]["uplink"]),
    ]
    assert report["decisions"][1]["previous"] == "cu" and report["switches"] >= 1
    assert report["time_on"]["hkg"]["cu"] == pytest.approx(60, abs=2)
    assert report["start"].startswith("2023-11-14T22:1") and report["start"].endswith("Z")
    assert "replaying 2023-11-14 22:13 UTC (0%)" in shown
    assert piped.stderr == "" and "failover" in piped.stdout


def test_replay_without_a_store_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG.format(data=tmp_path), encoding="utf-8")
    assert main(["replay", "--config", str(config), "--db", str(tmp_path / "none.db")]) == 2
    assert "no such store" in capsys.readouterr().err
