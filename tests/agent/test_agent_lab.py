"""The agent end to end in the lab: it probes, stores, steers the LAN host's traffic,
answers /status, stops cleanly leaving its routes, and restarts without a change."""

import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from borderpath.lab import netns
from borderpath.lab.agent_config import borderpath_argv
from borderpath.lab.lab import Lab
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
        metrics = agent.get("/metrics").text
        assert "borderpath_path_loss_ratio{" in metrics
        assert 'borderpath_job_overruns_total{job="trace"} ' in metrics

        lab.apply([{"uplink": start_uplink, "pop": "hkg", "blackhole": True}])
        moved_after = wait_for(lambda: lan_uplink(lab, "hkg") != start_uplink, timeout=10)
        assert moved_after < 5
        routes_before_stop = our_routes(lab.namespace("branch"))
        assert agent.stop() == 0
    finally:
        agent.stop(signal.SIGKILL)
    assert our_routes(lab.namespace("branch")) == routes_before_stop
    assert "stopping" in agent.output() and "Traceback" not in agent.output()
    assert "Execution of job" not in agent.output()  # APScheduler's words at every skip

    with contextlib.closing(Store.open_read_only(tmp_path / "data" / "borderpath.db")) as store:
        kinds = [event.kind for event in store.query_events(0)]
        assert store.query_results(0, pop="hkg")
    assert "decision" in kinds and "route.replaced" in kinds and kinds[-1] == "agent.stop"


def ip(lab: Lab, *argv: str) -> str:
    return netns.run(["ip", "-n", lab.namespace("branch"), *argv])


def probe_plumbing(lab: Lab) -> tuple[list[str], str]:
    """The probe rules (priorities 1000-1005) and routes (proto 249) in the branch."""
    rules = [line for line in ip(lab, "rule").splitlines() if line.startswith("100")]
    return rules, ip(lab, "route", "show", "table", "all", "proto", "249")


def decisions(agent: AgentProcess) -> int:
    return agent.output().count(" action=")


def quiet_for(agent: AgentProcess, seconds: float) -> bool:
    """No decision for ``seconds`` (so what repairs the kernel next is the reconcile)."""
    before = decisions(agent)
    time.sleep(seconds)
    return decisions(agent) == before


def test_drift_is_repaired_within_one_interval_and_stop_takes_the_probe_plumbing(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    config.write_text(
        config.read_text().replace("[agent]\n", '[agent]\nreconcile_interval = "2s"\n')
    )
    agent = AgentProcess(lab, config)
    try:
        wait_for(lambda: all_steered(agent), timeout=10)
        wait_for(lambda: quiet_for(agent, 3.0), timeout=20, step=0.5)
        decided = decisions(agent)
        hkg, nrt = (str(lab.plan.pop(pop).prefix) for pop in ("hkg", "nrt"))
        # By hand: a steering route and a steering rule go.
        ip(lab, "route", "del", hkg, "table", "7211")
        ip(lab, "rule", "del", "to", nrt, "priority", "25000")
        repaired_after = wait_for(
            lambda: (
                f"to {nrt} lookup 7211" in ip(lab, "rule")
                and ip(lab, "route", "show", "table", "7211", hkg) != ""
            ),
            timeout=4,
        )
        assert repaired_after <= 2.5
        assert lan_uplink(lab, "hkg") == agent.status()["pops"]["hkg"]["uplinks"][0]["uplink"]
        if decisions(agent) == decided:  # else a decision's write may have repaired it first
            assert f"route repaired: replace {hkg}" in agent.output()
            assert f"route repaired: add rule to {nrt}" in agent.output()
        # A probe rule's mark changes, a probe table loses its default route.
        plumbing = probe_plumbing(lab)
        ip(lab, "rule", "del", "priority", "1000")
        ip(lab, "rule", "add", "priority", "1000", "fwmark", "0x9999", "lookup", "4251")
        ip(lab, "route", "del", "default", "table", "4252", "proto", "249", "via", "100.64.2.1")
        assert "fwmark 0x9999" in ip(lab, "rule")
        assert wait_for(lambda: probe_plumbing(lab) == plumbing, timeout=4) <= 2.5
        wait_for(lambda: quiet_for(agent, 2.0), timeout=20, step=0.5)
        routes_before_stop = our_routes(lab.namespace("branch"))
        assert agent.stop() == 0
    finally:
        agent.stop(signal.SIGKILL)
    assert "probe plumbing repaired: rule priority 1000 fwmark 0x4251 lookup 4251" in (
        agent.output()
    )
    assert our_routes(lab.namespace("branch")) == routes_before_stop
    assert probe_plumbing(lab) == ([], "")


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
    line = config.read_text().splitlines().index('interface = "eth9"') + 1
    assert done.returncode == 2
    assert done.stderr == (
        f"borderpath: {config}:{line}: uplinks[1].interface: this router has no interface "
        "named 'eth9' (see 'ip link')\n"
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


def refused(agent: AgentProcess, times: int) -> Callable[[], bool]:
    """Has the agent refused a reload ``times`` times?"""
    return lambda: agent.output().count("reload refused") == times


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
        branch = lab.namespace("branch")
        bad: dict[str, bytes] = {
            "a wrong value": good.replace('gateway = "100.64.2.1"', 'gateway = "nowhere"').encode(),
            "binary garbage": bytes(range(256)) * 4,
            "5,000-deep nesting": b"a = " + b"[" * 5000 + b"]" * 5000,
            "a missing interface": good.replace('interface = "cu"', 'interface = "eth9"').encode(),
            "a foreign rule on our priority": good.encode(),
        }
        for count, (what, content) in enumerate(bad.items(), start=1):
            if what == "a foreign rule on our priority":
                netns.run(["ip", "-n", branch, "rule", "add", "priority", "25000", "lookup", "100"])
            config.write_bytes(content)
            agent.process.send_signal(signal.SIGHUP)
            wait_for(refused(agent, count), timeout=10)
            assert agent.status()["site"].startswith("renamed-"), what
            assert agent.process.poll() is None, what
    finally:
        assert agent.stop() == 0
    refusals = [line for line in agent.output().splitlines() if "reload refused" in line]
    assert len(refusals) == len(bad) and all(f"{config}" in line for line in refusals)
    assert "Traceback" not in agent.output()


HOLD_PORT = """
import socket, time
held = socket.create_server(("127.0.0.1", 19108))
print("held", flush=True)
time.sleep(120)
"""


def test_a_reload_that_cannot_start_goes_back_to_the_running_config(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    """A file that passes the checks but fails at start (its status port is taken)."""
    lab = make_lab()
    config = write_config(lab, tmp_path)
    agent = AgentProcess(lab, config)
    argv = netns.exec_argv(lab.namespace("branch"), [sys.executable, "-c", HOLD_PORT])
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        wait_for(lambda: all_steered(agent), timeout=10)
        socket_line = f'listen = "{tmp_path / "status.sock"}"'
        config.write_text(config.read_text().replace(socket_line, 'listen = "127.0.0.1:19108"'))
        agent.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "going back to the running one" in agent.output(), timeout=20)
        wait_for(lambda: all_steered(agent), timeout=20)  # on its socket again
        assert agent.process.poll() is None
    finally:
        holder.kill()
        holder.wait()
        assert agent.stop() == 0
    assert "cannot listen on ('127.0.0.1', 19108)" in agent.output()
    assert "Traceback" not in agent.output()


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


def consistent_routes(lab: Lab) -> str:
    """``ip route show table 7211 proto 211``, dumped again until no route change in the
    namespace interrupted the dump (iproute2 then prints a partial table and a warning)."""
    argv = ["ip", "-n", lab.namespace("branch"), "route", "show", "table", "7211", "proto", "211"]
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
        if done.returncode == 0 and not done.stderr:
            return done.stdout


def steered_by(lab: Lab) -> dict[str, str]:
    """Per PoP, the device its prefix is routed by in our table (absent: no route)."""
    by_prefix = {str(lab.plan.pop(pop).prefix): pop for pop in lab.plan.topology.pop_names}
    found = {}
    for line in consistent_routes(lab).splitlines():
        words = line.split()
        if words[0] in by_prefix and "dev" in words:
            found[by_prefix[words[0]]] = words[words.index("dev") + 1]
    return found


def test_kill_9_in_a_burst_of_moves_converges_and_touches_nothing_foreign(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    pops = lab.plan.topology.pop_names
    # Foreign routes with another protocol, in a table of their own and in main (one in
    # our table is a mistake `agent check` reports, and the agent refuses to start on it).
    ip(
        lab,
        "route",
        "add",
        "198.19.77.0/24",
        "via",
        "100.64.1.1",
        "table",
        "100",
        "proto",
        "static",
    )
    ip(lab, "route", "add", "198.19.78.0/24", "via", "100.64.2.1", "proto", "static")
    foreign = ip(lab, "route", "show", "table", "all", "proto", "static")
    config = write_config(lab, tmp_path)
    agent = AgentProcess(lab, config)
    try:
        wait_for(lambda: all_steered(agent), timeout=10)
        wait_for(lambda: quiet_for(agent, 2.0), timeout=20, step=0.5)
        used = set(steered_by(lab).values())
        survivor = next(u for u in ("cm", "cu", "ct") if u not in used)
        # Every path but the survivor's goes dark: every PoP moves, each when its own
        # probes say so, within about a second.
        lab.apply(
            [
                {"uplink": uplink, "pop": pop, "blackhole": True}
                for uplink in ("ct", "cu", "cm")
                if uplink != survivor
                for pop in pops
            ]
        )
        wait_for(lambda: survivor in steered_by(lab).values(), timeout=10, step=0.002)
    finally:
        agent.stop(signal.SIGKILL)
    at_kill = steered_by(lab)
    # No PoP without a route, even mid-burst.
    assert sorted(at_kill) == sorted(pops), consistent_routes(lab)
    restarted = AgentProcess(lab, config)
    try:
        try:
            wait_for(lambda: set(steered_by(lab).values()) == {survivor}, timeout=10)
        except AssertionError:
            raise AssertionError(f"{steered_by(lab)}\n{restarted.output()}") from None
        assert all(lan_uplink(lab, pop) == survivor for pop in pops)
        choices = restarted.status()["pops"]
        assert {pop: choices[pop]["uplinks"][0]["uplink"] for pop in pops} == dict.fromkeys(
            pops, survivor
        )
    finally:
        assert restarted.stop() == 0
    assert ip(lab, "route", "show", "table", "all", "proto", "static") == foreign
    moved = sum(device == survivor for device in at_kill.values())
    print(f"killed with {moved} of {len(pops)} PoPs moved")  # shown with pytest -s
    with contextlib.closing(Store.open_read_only(tmp_path / "data" / "borderpath.db")) as store:
        assert store.integrity_check() == "ok"
