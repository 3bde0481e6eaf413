"""The telemetry the NOC dashboards read, written by the real agent in a short lab scenario.

``produce(server, database, root)`` brings up a lab, runs ``borderpath agent run`` in
its branch with the lab's own agent config (``borderpath lab agent-config``, at lab
speed) while the scenario cuts and spoils paths, then ships the agent's store to a real
influxd with storage's Exporter, the agent's own export code. The export runs from
this process after the agent stopped because the branch namespace cannot reach an
influxd on the host's loopback.

What the scenario guarantees (the dashboards' tests rely on it):

- every uplink x PoP x protocol has results, most of them answered;
- once the agent has chosen an uplink for hkg, that path (``cut_uplink`` -> hkg) is
  blackholed: it goes down and hkg's traffic moves away from it (a ``decision`` event);
- cu -> nrt gets injected RSTs on TCP, cm -> sin loses 30 %;
- an ``alert.firing`` event for the cut, added to the agent's store afterwards: the
  alerts package does not exist yet;
- a second site, ``STALE_SITE``, whose agent last reported ``STALE_AGE_S`` ago
  (written through a Store directly: there is no second lab).

Not there yet: route labels (the agent does not trace), so the ``route`` tag is absent
and the route-label annotation has nothing to show (``NOT_WRITTEN_YET``).
"""

import dataclasses
import signal
import subprocess
import time
from pathlib import Path

from borderpath.agent.config import AgentConfig, load_config
from borderpath.agent.matrix import fetch_status
from borderpath.core.errors import BorderpathError
from borderpath.core.events import EventKind, EventRecord
from borderpath.core.results import ProbeResult
from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config, borderpath_argv
from borderpath.lab.lab import Lab
from borderpath.selector import Selector
from borderpath.storage import Exporter, InfluxConfig, Store
from tests.conftest import unique_lab_name
from tests.influxd import InfluxServer

AFTER_CUT_S = 10.0
"""How long the agent runs after the cut (the whole scenario takes ~25 s)."""
CHOICE_TIMEOUT_S = 15.0
"""Longest wait for the agent to answer and steer hkg."""
STOP_TIMEOUT_S = 15.0
STALE_SITE = "lab-stale"
STALE_AGE_S = 1800
"""The stale site's agent stopped reporting half an hour ago."""
NOT_WRITTEN_YET = {"annotation Route label changes": "the agent does not trace route labels yet"}
"""Queries the scenario cannot fill yet, and why."""
_NS = 1_000_000_000
_LAB_SPEED = ['timeout = "1s"', 'intervals = { quic = "1s", http = "1s" }']
"""Handshakes every second, so 10 s after the cut its QUIC and HTTPS have failed too."""


@dataclasses.dataclass(frozen=True, slots=True)
class Telemetry:
    """What was written: the server and database, and the names in the series."""

    server: InfluxServer
    database: str
    site: str
    uplinks: tuple[str, ...]
    pops: tuple[str, ...]
    cut_uplink: str
    """hkg was steered to this uplink when its path to hkg was cut."""
    cut_carrier: str


def produce(server: InfluxServer, database: str, root: Path) -> Telemetry:
    """Run the scenario and export everything the agent stored to ``database``."""
    lab = Lab.up(unique_lab_name())
    try:
        config_path = _write_config(lab, root)
        config = load_config(config_path)
        cut = _run_agent(lab, config, config_path, root / "agent.log")
    finally:
        lab.down()
    database_path = config.storage.database_path(config.agent.data_dir)
    _add_cut_alert(database_path, config, cut)
    _export(database_path, server, database)
    _stale_site(root / "stale.db", config, server, database)
    return Telemetry(
        server,
        database,
        config.agent.site,
        tuple(u.name for u in config.uplinks),
        tuple(p.name for p in config.pops),
        cut,
        config.uplink(cut).carrier,
    )


def _write_config(lab: Lab, root: Path) -> Path:
    """The lab's agent config with a data dir, a status socket, snapshots every second."""
    text = agent_config(
        lab.status(), root / "data", agent=['snapshot_interval = "1s"'], probing=_LAB_SPEED
    )
    path = root / "agent.toml"
    path.write_text(text + f'\n[status]\nlisten = "{root / "status.sock"}"\n', encoding="utf-8")
    return path


def _run_agent(lab: Lab, config: AgentConfig, path: Path, log: Path) -> str:
    """``borderpath agent run`` in the branch; cut hkg's chosen path once there is one,
    spoil two others, and stop the agent AFTER_CUT_S later. Returns the cut uplink."""
    argv = borderpath_argv("agent", "run", "--config", str(path))
    with log.open("wb") as output:
        agent = subprocess.Popen(
            netns.exec_argv(lab.namespace("branch"), argv),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        cut = _steered_uplink(config.status.listen, "hkg")
        lab.apply(
            [
                {"uplink": cut, "pop": "hkg", "blackhole": True},
                {"uplink": "cu", "pop": "nrt", "protocol": "tcp", "inject": "rst"},
                {"uplink": "cm", "pop": "sin", "loss": 0.3},
            ]
        )
        time.sleep(AFTER_CUT_S)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            code = agent.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
            raise
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the agent exited with {code}:\n{tail}")
    return cut


def _steered_uplink(listen: str, pop: str) -> str:
    """The uplink the agent steers ``pop`` to, from its status API, once it has one."""
    deadline = time.monotonic() + CHOICE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            choice = fetch_status(listen)["pops"].get(pop, {}).get("uplinks", [])
        except BorderpathError:
            choice = []  # not listening yet
        if choice:
            return str(choice[0]["uplink"])
        time.sleep(0.2)
    raise RuntimeError(f"the agent did not steer {pop} within {CHOICE_TIMEOUT_S:.0f} s")


def _add_cut_alert(path: Path, config: AgentConfig, cut: str) -> None:
    """The alert the alerts package will raise for the cut (it does not exist yet)."""
    store = Store.open(path, site=config.agent.site, uplinks=config.uplinks, pops=config.pops)
    try:
        store.add_events(
            [
                EventRecord(
                    time_ns=time.time_ns(),
                    kind=EventKind.ALERT_FIRING,
                    text=f"{config.agent.site}: {cut} -> hkg is down, every probe lost",
                    labels={
                        "uplink": cut,
                        "pop": "hkg",
                        "severity": "critical",
                        "fingerprint": f"{cut}-hkg",
                    },
                    values={"loss": 1.0},
                )
            ]
        )
    finally:
        store.close()


def _export(path: Path, server: InfluxServer, database: str) -> None:
    exporter = Exporter(path, InfluxConfig(url=server.url, api="v1", database=database))
    try:
        report = exporter.drain(max_seconds=30)
    finally:
        exporter.close()
    if not report.caught_up or report.dead_letters:
        raise RuntimeError(f"the export did not finish cleanly: {report}")


def _stale_site(path: Path, live: AgentConfig, server: InfluxServer, database: str) -> None:
    """A second branch whose agent stopped: one minute of results and snapshots that
    ended STALE_AGE_S ago."""
    end_ns = time.time_ns() - STALE_AGE_S * _NS
    results = [
        ProbeResult(end_ns - (60 - second) * _NS, u.name, p.name, "icmp", True, 40.0 + second % 7)
        for second in range(60)
        for u in live.uplinks
        for p in live.pops
    ]
    selector = Selector(live.selector, live.uplinks, live.pops)
    selector.ingest(results)
    store = Store.open(path, site=STALE_SITE, uplinks=live.uplinks, pops=live.pops)
    try:
        store.write_results(results)
        store.add_snapshots(selector.snapshots(end_ns / _NS))
    finally:
        store.close()
    _export(path, server, database)
