"""The agent end to end in the lab: it probes, stores, steers the LAN host's traffic,
answers /status, stops cleanly leaving its routes, and restarts without a change."""

import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from borderpath.lab import netns
from borderpath.lab.agent_config import borderpath_argv
from borderpath.storage import Store
from tests.agent.agent_process import AgentProcess, lan_uplink, write_config
from tests.conftest import LabFactory

pytestmark = pytest.mark.lab


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Seconds until ``condition()`` held (an agent restarting counts as not yet)."""
    start = time.monotonic()
    while not _holds(condition):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except (httpx.HTTPError, OSError):
        return False


def all_steered(agent: AgentProcess) -> bool:
    pops = agent.status()["pops"]
    return len(pops) == 5 and all(pop["uplinks"] for pop in pops.values())


def our_routes(lab_namespace: str) -> str:
    return netns.run(["ip", "-n", lab_namespace, "route", "show", "table", "all", "proto", "211"])


def test_agent_steers_stores_answers_and_stops_leaving_routes(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    agent = AgentProcess(lab, write_config(lab, tmp_path))
    try:
        wait_for(lambda: all_steered(agent), timeout=10)
        status = agent.status()
        assert len(status["paths"]) == 15
        start_uplink = lan_uplink(lab, "hkg")
        assert start_uplink == status["pops"]["hkg"]["uplinks"][0]["uplink"]
        assert agent.get("/healthz").text == "ok\n"
        assert "borderpath_path_loss{" in agent.get("/metrics").text

        lab.apply([{"uplink": start_uplink, "pop": "hkg", "blackhole": True}])
        moved_after = wait_for(lambda: lan_uplink(lab, "hkg") != start_uplink, timeout=10)
        assert moved_after < 5
        routes_before_stop = our_routes(lab.namespace("branch"))
        assert agent.stop() == 0
    finally:
        agent.stop(signal.SIGKILL)
    assert our_routes(lab.namespace("branch")) == routes_before_stop
    assert "stopping" in agent.output() and "Traceback" not in agent.output()

    with contextlib.closing(Store.open_read_only(tmp_path / "data" / "borderpath.db")) as store:
        kinds = [event.kind for event in store.query_events(0)]
        assert store.query_results(0, pop="hkg")
    assert "decision" in kinds and "route.replaced" in kinds and kinds[-1] == "agent.stop"


def test_a_missing_interface_is_one_line_and_changes_nothing(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    config.write_text(config.read_text().replace('interface = "cu"', 'interface = "eth9"'))
    rules = netns.run(["ip", "-n", lab.namespace("branch"), "rule"])
    argv = borderpath_argv("agent", "run", "--config", str(config))
    done = subprocess.run(
        netns.exec_argv(lab.namespace("branch"), argv), capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"borderpath: {config}: uplinks[cu].interface: this router has no interface named 'eth9' "
        "(see 'ip link')\n"
    )
    assert netns.run(["ip", "-n", lab.namespace("branch"), "rule"]) == rules


def test_restarted_agent_reconciles_without_a_change(make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    first = AgentProcess(lab, config)
    try:
        wait_for(lambda: all_steered(first), timeout=10)
        time.sleep(1)
    finally:
        assert first.stop() == 0
    routes = our_routes(lab.namespace("branch"))
    restarted_at = time.time_ns()
    second = AgentProcess(lab, config)
    try:
        time.sleep(3)
        assert our_routes(lab.namespace("branch")) == routes
    finally:
        assert second.stop() == 0
    with contextlib.closing(Store.open_read_only(tmp_path / "data" / "borderpath.db")) as store:
        changes = [e for e in store.query_events(restarted_at) if e.kind.startswith("route.")]
    assert changes == []


def test_sighup_takes_a_good_config_and_refuses_a_bad_one(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    agent = AgentProcess(lab, config)
    try:
        wait_for(lambda: all_steered(agent), timeout=10)
        good = config.read_text()
        config.write_text(good.replace('site = "lab-', 'site = "renamed-'))
        agent.process.send_signal(signal.SIGHUP)
        wait_for(lambda: agent.status()["site"].startswith("renamed-"), timeout=10)
        config.write_text(good.replace('gateway = "100.64.2.1"', 'gateway = "nowhere"'))
        agent.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in agent.output(), timeout=5)
        assert agent.status()["site"].startswith("renamed-")
        assert agent.process.poll() is None
    finally:
        assert agent.stop() == 0
    assert f"{config}:" in agent.output() and "Traceback" not in agent.output()


def test_kill_9_then_restart_keeps_the_store_whole_and_the_routes(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    agent = AgentProcess(lab, config)
    wait_for(lambda: all_steered(agent), timeout=10)
    time.sleep(1)
    agent.stop(signal.SIGKILL)
    routes = our_routes(lab.namespace("branch"))
    database = tmp_path / "data" / "borderpath.db"
    with contextlib.closing(Store.open_read_only(database)) as store:
        assert store.integrity_check() == "ok"
        stored = len(store.query_results(0))
    restarted = AgentProcess(lab, config)
    try:
        time.sleep(2)
        assert our_routes(lab.namespace("branch")) == routes
    finally:
        assert restarted.stop() == 0
    with contextlib.closing(Store.open_read_only(database)) as store:
        assert store.integrity_check() == "ok"
        assert len(store.query_results(0)) > stored


def unprivileged(capabilities: str) -> list[str]:
    """setpriv as the systemd unit runs the agent: user nobody, these capabilities only."""
    return [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps=-all{capabilities}",
        f"--ambient-caps=-all{capabilities}",
    ]


def test_runs_with_net_raw_and_net_admin_alone_and_names_what_is_missing(
    make_lab: LabFactory, installed_venv: Path
) -> None:
    """Run from the wheel's venv, which nobody can read wherever the checkout lies."""
    lab = make_lab()
    borderpath = str(installed_venv / "bin" / "borderpath")
    with tempfile.TemporaryDirectory() as directory:
        Path(directory).chmod(0o777)
        config = write_config(lab, Path(directory))
        bare = subprocess.run(
            netns.exec_argv(
                lab.namespace("branch"),
                [*unprivileged(""), borderpath, "agent", "run", "--config", str(config)],
            ),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert bare.returncode == 3
        assert "the agent needs CAP_NET_ADMIN and CAP_NET_RAW" in bare.stderr
        assert "Traceback" not in bare.stderr
        agent = AgentProcess(
            lab, config, borderpath=[*unprivileged(",+net_raw,+net_admin"), borderpath]
        )
        try:
            wait_for(lambda: all_steered(agent), timeout=10)
            assert lan_uplink(lab, "hkg") == agent.status()["pops"]["hkg"]["uplinks"][0]["uplink"]
        finally:
            assert agent.stop() == 0
