"""The telemetry the NOC dashboards read, produced by a short lab scenario.

``produce(server, database, root)`` fills a real influxd with what borderpath writes:
the lab's own agent config (``borderpath lab agent-config``), the real probe engine in
the branch of a real lab (its responders on every PoP), the real selector judging the
results, a real Store keeping results, snapshots and events, and storage's Exporter
shipping them. These are the parts ``borderpath agent run`` wires; running the agent
itself is the next step (it cannot reach a loopback influxd from the branch namespace,
so its store would be exported from here afterwards, and it does not trace route
labels yet). Only ``produce`` changes then.

What the scenario guarantees (the dashboards' tests rely on it):

- every uplink x PoP x protocol has results, most of them answered;
- ct -> hkg is blackholed after ``CUT_AT_S``: that path goes down and hkg's traffic
  is steered elsewhere (a ``decision`` event);
- cu -> nrt gets injected RSTs on TCP: forged answers are counted;
- every path carries a route label (the lab's backbone, what tracing finds there);
- an ``alert.firing`` event for the cut (the alerts package is not written yet);
- a second site, ``STALE_SITE``, whose agent last reported ``STALE_AGE_S`` ago.
"""

import asyncio
import dataclasses
import time
from pathlib import Path

from borderpath.agent.config import AgentConfig, load_config
from borderpath.core.records import EventRecord
from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing, ProbeResult
from borderpath.selector import Selector
from borderpath.storage import Exporter, InfluxConfig, StorageConfig, Store
from tests.conftest import unique_lab_name
from tests.influxd import InfluxServer

RUN_S = 14.0
"""How long the probes run (the whole scenario, lab up and export included, ~25 s)."""
CUT_AT_S = 4.0
"""When ct -> hkg is blackholed, counted from the first probe."""
TICK_S = 0.2
SNAPSHOT_S = 1.0
STALE_SITE = "lab-stale"
STALE_AGE_S = 1800
"""The stale site's agent stopped reporting half an hour ago."""
_NS = 1_000_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Telemetry:
    """What was written: the server and database, and the names in the series."""

    server: InfluxServer
    database: str
    site: str
    uplinks: tuple[str, ...]
    pops: tuple[str, ...]


def produce(server: InfluxServer, database: str, root: Path) -> Telemetry:
    """Run the scenario and export everything it stored to ``database`` on ``server``."""
    name = unique_lab_name()
    lab = Lab.up(name)
    try:
        config = _agent_config(lab, root)
        store = _open_store(root / "live.db", config, server, database)
        labels = _route_labels(lab)
        store.set_path_labels(labels)
        store.add_events(_label_events(labels))
        _impair(lab)
        _probe(lab, store, config)
    finally:
        lab.down()
    store.add_events([_cut_alert(config.agent.site)])
    store.close()
    _export(root / "live.db", server, database)
    _stale_site(root / "stale.db", config, server, database)
    return Telemetry(
        server,
        database,
        config.agent.site,
        tuple(u.name for u in config.uplinks),
        tuple(p.name for p in config.pops),
    )


def _agent_config(lab: Lab, root: Path) -> AgentConfig:
    """The config ``borderpath lab agent-config`` gives the lab's branch, with handshakes
    every second and a 1 s timeout so a 14 s scenario sees a cut path go down."""
    path = root / "agent.toml"
    path.write_text(agent_config(lab.status()), encoding="utf-8")
    config = load_config(path)
    probing = config.probing.model_copy(
        update={"intervals": {"quic": 1.0, "http": 1.0}, "timeout": 1.0}
    )
    return config.model_copy(update={"probing": probing})


def _open_store(path: Path, config: AgentConfig, server: InfluxServer, database: str) -> Store:
    return Store.open(
        path,
        site=config.agent.site,
        config=StorageConfig(influxdb=_influx(server, database)),
        uplinks=config.uplinks,
        pops=config.pops,
    )


def _influx(server: InfluxServer, database: str) -> InfluxConfig:
    return InfluxConfig(url=server.url, api="v1", database=database)


def _route_labels(lab: Lab) -> dict[tuple[str, str], str]:
    """Each path's backbone: the label the tracer gives the lab's hops."""
    status = lab.status()
    return {
        (uplink["name"], pop["name"]): uplink["backbone"]
        for uplink in status["uplinks"]
        for pop in status["pops"]
    }


def _label_events(labels: dict[tuple[str, str], str]) -> list[EventRecord]:
    """What the agent records when tracing first labels a path."""
    now = time.time_ns()
    return [
        EventRecord(
            now,
            "path.label",
            f"{uplink} -> {pop} crosses the border on {label}",
            labels={"uplink": uplink, "pop": pop},
            values={"label": label},
        )
        for (uplink, pop), label in labels.items()
    ]


def _impair(lab: Lab) -> None:
    lab.apply(
        [
            {"at": CUT_AT_S, "uplink": "ct", "pop": "hkg", "blackhole": True},
            {"at": CUT_AT_S, "uplink": "cu", "pop": "nrt", "protocol": "tcp", "inject": "rst"},
            {"at": CUT_AT_S, "uplink": "cm", "pop": "sin", "loss": 0.3},
        ]
    )


def _probe(lab: Lab, store: Store, config: AgentConfig) -> None:
    """Probe every series for RUN_S in the branch; the selector judges as the agent does."""
    selector = Selector(config.selector, config.uplinks, config.pops)

    def on_batch(batch: list[ProbeResult]) -> None:
        store.write_results(batch)
        selector.ingest(batch)

    async def main() -> None:
        engine = Engine(config.uplinks, config.pops, config.probing, on_batch)
        await engine.start()
        try:
            await _judge(selector, store)
        finally:
            await engine.stop()

    plumbing = Plumbing(config.uplinks, config.probing)
    with netns.entered(lab.namespace("branch")):
        plumbing.apply()
        try:
            asyncio.run(main())
        finally:
            plumbing.remove()


async def _judge(selector: Selector, store: Store) -> None:
    """Tick the selector, store its decisions as events and its snapshots every second."""
    start = time.monotonic()
    next_snapshot = start
    while (now := time.monotonic()) - start < RUN_S:
        store.add_events(decision.to_event() for decision in selector.tick())
        if now >= next_snapshot:
            store.add_snapshots(selector.snapshots())
            next_snapshot += SNAPSHOT_S
        await asyncio.sleep(TICK_S)


def _cut_alert(site: str) -> EventRecord:
    return EventRecord(
        time_ns=time.time_ns(),
        kind="alert.firing",
        text=f"{site}: ct -> hkg is down (every probe lost for {RUN_S - CUT_AT_S:.0f} s)",
        labels={"uplink": "ct", "pop": "hkg", "severity": "critical", "fingerprint": "ct-hkg"},
        values={"loss": 1.0},
    )


def _export(path: Path, server: InfluxServer, database: str) -> None:
    exporter = Exporter(path, _influx(server, database))
    try:
        report = exporter.drain(max_seconds=30)
    finally:
        exporter.close()
    if not report.caught_up or report.dead_letters:
        raise RuntimeError(f"the export did not finish cleanly: {report}")


def _stale_site(path: Path, live: AgentConfig, server: InfluxServer, database: str) -> None:
    """A second branch whose agent stopped: one minute of results and snapshots that
    ended STALE_AGE_S ago (written synthetically: there is no second lab)."""
    config = live.model_copy(update={"agent": live.agent.model_copy(update={"site": STALE_SITE})})
    end_ns = time.time_ns() - STALE_AGE_S * _NS
    results = [
        ProbeResult(end_ns - (60 - second) * _NS, u.name, p.name, "icmp", True, 40.0 + second % 7)
        for second in range(60)
        for u in config.uplinks
        for p in config.pops
    ]
    selector = Selector(config.selector, config.uplinks, config.pops)
    selector.ingest(results)
    store = _open_store(path, config, server, database)
    try:
        store.write_results(results)
        store.add_snapshots(selector.snapshots(end_ns / _NS))
    finally:
        store.close()
    _export(path, server, database)
