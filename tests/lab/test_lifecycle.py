"""Labs come and go cleanly, side by side, and the CLI speaks one line per mistake."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from borderpath.agent.config import load_config
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.lab.layout import LabFiles
from tests.conftest import FileWriter, LabFactory, unique_lab_name

pytestmark = pytest.mark.lab

BORDERPATH = [sys.executable, "-m", "borderpath.agent.cli"]


def borderpath(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BORDERPATH, *args], capture_output=True, text=True, timeout=120, check=False
    )


def namespaces_of(name: str) -> list[str]:
    return [ns for ns in netns.existing() if ns.startswith(f"{name}-")]


def test_down_removes_every_namespace_process_and_file_and_can_run_twice() -> None:
    name = unique_lab_name()
    lab = Lab.up(name)
    engine_pid = lab.status()["engine"]["pid"]
    assert len(namespaces_of(name)) == 11
    lab.down()
    assert namespaces_of(name) == []
    assert not Path(f"/proc/{engine_pid}").exists()
    assert not lab.files.directory.exists()
    assert (
        "veth"
        not in subprocess.run(
            ["ip", "-o", "link"], capture_output=True, text=True, check=False
        ).stdout
    )
    lab.down()


def test_two_labs_run_side_by_side(make_lab: LabFactory) -> None:
    first, second = make_lab(), make_lab()
    assert set(first.plan.namespaces).isdisjoint(second.plan.namespaces)
    for lab in (first, second):
        assert lab.exec("hkg", ["fping", "-q", "-r", "3", "100.64.1.2"]) == 0


def test_a_failing_test_still_takes_its_lab_down(tmp_path: Path) -> None:
    test_file = tmp_path / "test_crash.py"
    test_file.write_text(
        textwrap.dedent(
            """
            def test_crashes(make_lab):
                lab = make_lab()
                print("LAB", lab.name)
                raise RuntimeError("the test broke")
            """
        )
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-s", "-q", str(test_file)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
        check=False,
    )
    assert "the test broke" in done.stdout
    name = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("LAB "))
    assert namespaces_of(name) == []


def test_status_json_is_the_documented_contract(make_lab: LabFactory) -> None:
    lab = make_lab()
    done = borderpath("lab", "status", "--name", lab.name, "--json")
    status = json.loads(done.stdout)
    assert set(status) >= {"namespaces", "uplinks", "pops", "lan", "scenario", "conditions"}
    assert status["namespaces"]["pops"]["hkg"] == f"{lab.name}-hkg"
    assert status["uplinks"][0] == {
        "name": "ct",
        "carrier": "china-telecom",
        "backbone": "ct-163",
        "interface": "ct",
        "address": "100.64.1.2",
        "prefix": "100.64.1.0/30",
        "gateway": "100.64.1.1",
    }
    assert status["lan"] == {
        "host": "192.0.2.10",
        "prefix": "192.0.2.0/24",
        "router": "192.0.2.1",
        "branch_interface": "lan",
    }
    assert isinstance(status["scenario"]["started_unix"], float)
    assert len(status["conditions"]) == 15 * 2 * 4


def test_agent_config_is_a_valid_agent_config(make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab()
    config_file = tmp_path / "agent.toml"
    config_file.write_text(borderpath("lab", "agent-config", "--name", lab.name).stdout)
    config = load_config(config_file)
    assert [u.name for u in config.uplinks] == ["ct", "cu", "cm"]
    assert str(config.pop("hkg").address) == "203.0.113.10"
    # Each lab's agent has its own store, so none warm-starts from another lab's history.
    assert config.agent.data_dir == LabFiles.of(lab.name).agent_data
    chosen = borderpath("lab", "agent-config", "--name", lab.name, "--data-dir", "store")
    config_file.write_text(chosen.stdout)
    assert load_config(config_file).agent.data_dir == Path.cwd() / "store"


def test_lan_host_reaches_every_service_through_the_branch(make_lab: LabFactory) -> None:
    lab = make_lab()
    services = [pop["service_address"] for pop in lab.status()["pops"]]
    assert lab.exec("lan", ["fping", "-q", "-r", "3", *services]) == 0


def test_exec_runs_in_the_named_namespace(make_lab: LabFactory) -> None:
    lab = make_lab()
    done = borderpath("lab", "exec", "--name", lab.name, "--ns", "hkg", "--", "ip", "-o", "addr")
    assert "203.0.113.10" in done.stdout
    wrong = borderpath("lab", "exec", "--name", lab.name, "--ns", "ams", "--", "true")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1


def test_bad_scenario_builds_nothing_and_says_one_line(
    scenario_file: FileWriter,
) -> None:
    name = unique_lab_name()
    bad = scenario_file("[[events]]\nat = '5s'\nuplink = 'ct'\nloss = 2\n")
    done = borderpath("lab", "up", "--name", name, "--scenario", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"borderpath: {bad}:4: events[0].loss: Input should be less than or equal to 1 (got 2)"
    )
    assert namespaces_of(name) == []


def test_bad_name_is_refused() -> None:
    done = borderpath("lab", "up", "--name", "Bad-Name")
    assert done.returncode == 2 and "a lab name is 1 to 12" in done.stderr
