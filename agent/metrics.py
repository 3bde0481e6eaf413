"""``/metrics``: the agent's state in the Prometheus text format, every name as
docs/noc.md lists it.

prometheus_client renders it (escaping, HELP/TYPE, ``_total``) from a custom collector
that reads the running agent at each scrape, so nothing is counted twice: gauges are
the selector's snapshots, counters are what the engine, the store, the dispatcher and
the agent already count. Times are in seconds and fractions are ratios (base units).
"""

import importlib.metadata
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from borderpath.alerts.config import SEVERITIES
from borderpath.core.records import PathSnapshot
from borderpath.selector.health import State

if TYPE_CHECKING:
    from borderpath.agent.service import Agent

STATES = tuple(state.label for state in State)
"""up, degraded, interfered, down, unknown (not judged yet)."""
PATH_LABELS = ["uplink", "carrier", "pop"]
MS = 1e-3
ALERT_DROPS = "dropped_alerts"
"""The store's counter of expired notifications (its other dropped_ ones are rows)."""
PATH_GAUGES: dict[str, tuple[str, str, float]] = {
    # metric name: (snapshot field, help, scale to the base unit)
    "borderpath_path_loss_ratio": ("loss", "Loss in the quality window (0-1).", 1.0),
    "borderpath_path_loss_upper_ratio": (
        "loss_upper",
        "Upper bound of the loss ratio's Wilson 95 % interval (0-1).",
        1.0,
    ),
    "borderpath_path_rtt_p50_seconds": ("rtt_p50_ms", "RTT median in the window.", MS),
    "borderpath_path_rtt_p95_seconds": ("rtt_p95_ms", "RTT 95th percentile in the window.", MS),
    "borderpath_path_jitter_seconds": ("jitter_ms", "RFC 3550 interarrival jitter.", MS),
    "borderpath_path_mos": ("mos", "Mean opinion score (E-model, 1-4.5).", 1.0),
    "borderpath_path_score": ("score", "Path score the selector ranks by; lower is better.", 1.0),
}


def render(agent: "Agent") -> tuple[str, bytes]:
    """The content type and body of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    ProcessCollector(registry=registry)
    return CONTENT_TYPE_LATEST, generate_latest(registry)


class AgentCollector(Collector):
    def __init__(self, agent: "Agent") -> None:
        self.agent = agent
        self.carriers = {uplink.name: uplink.carrier for uplink in agent.config.uplinks}

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily]:
        version = importlib.metadata.version("borderpath")
        yield InfoMetricFamily("borderpath_build", "The agent's version.", {"version": version})
        selector = self.agent.selector
        snapshots = [] if selector is None else selector.snapshots()
        yield from self._paths(snapshots)
        yield from self._probes()
        yield from self._steering()
        yield from self._export()
        yield from self._alerts()

    def _path_labels(self, snapshot: PathSnapshot) -> list[str]:
        return [snapshot.uplink, self.carriers[snapshot.uplink], snapshot.pop]

    def _paths(self, snapshots: list[PathSnapshot]) -> Iterator[GaugeMetricFamily]:
        for name, (field, help_text, scale) in PATH_GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=PATH_LABELS)
            for snapshot in snapshots:
                value = getattr(snapshot, field)
                if value is not None and math.isfinite(value):  # else no sample, never a 0
                    family.add_metric(self._path_labels(snapshot), value * scale)
            yield family
        up = GaugeMetricFamily(
            "borderpath_path_up",
            "1 while the path answers (up, degraded or interfered), else 0.",
            labels=PATH_LABELS,
        )
        state = GaugeMetricFamily(
            "borderpath_path_state",
            f"1 for the state the path is in ({', '.join(STATES)}), 0 for the others.",
            labels=[*PATH_LABELS, "state"],
        )
        selected = GaugeMetricFamily(
            "borderpath_path_selected",
            "1 when the PoP's traffic takes this path.",
            labels=PATH_LABELS,
        )
        for snapshot in snapshots:
            labels = self._path_labels(snapshot)
            up.add_metric(labels, int(State[snapshot.state.upper()] < State.DOWN))
            selected.add_metric(labels, int(snapshot.selected))
            for name in STATES:
                state.add_metric([*labels, name], int(snapshot.state == name))
        yield from (up, state, selected)

    def _probes(self) -> Iterator[CounterMetricFamily]:
        engine = self.agent.engine
        stats = {} if engine is None else engine.stats()
        labels = ["uplink", "pop", "protocol"]
        counted = {
            "sent": ("borderpath_probes_sent", "Probes sent."),
            "received": ("borderpath_probes_answered", "Probes with a genuine answer."),
            "forged": ("borderpath_probe_forged_replies", "Forged replies (injected RST ...)."),
            "duplicates": ("borderpath_probe_duplicate_replies", "Replies that came twice."),
            "reordered": ("borderpath_probe_reordered_replies", "Replies out of order."),
        }
        for field, (name, help_text) in counted.items():
            family = CounterMetricFamily(name, help_text, labels=labels)
            for key, counters in stats.items():
                family.add_metric(list(key), getattr(counters, field))
            yield family
        yield _counter(
            "borderpath_probe_malformed_packets",
            "Truncated, mis-summed or garbage packets dropped.",
            "protocol",
            {} if engine is None else engine.malformed,
        )

    def _steering(self) -> Iterator[CounterMetricFamily]:
        yield _counter(
            "borderpath_route_switches",
            "Times a PoP's traffic moved to other uplinks (or weights).",
            "pop",
            self.agent.switches,
        )
        yield _counter(
            "borderpath_route_write_failures",
            "Route writes the kernel refused (the PoP kept its route).",
            "pop",
            self.agent.route_failures,
        )
        yield _counter(
            "borderpath_part_failures",
            "Exceptions that stopped a part of the agent (restarted with backoff).",
            "part",
            self.agent.supervisor.failures,
        )
        yield _counter(
            "borderpath_job_overruns",
            "Runs of a periodic job longer than its interval.",
            "job",
            self.agent.jobs.overruns,
        )

    def _export(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        backlog = GaugeMetricFamily(
            "borderpath_export_backlog_rows", "Rows not yet exported.", labels=["table"]
        )
        for table, rows in self.agent.backlog.items():
            backlog.add_metric([table], rows)
        yield backlog
        counters = self.agent.counters
        yield _by_prefix(
            "borderpath_export_points",
            "Points the sink took (2xx).",
            "sink",
            counters,
            "shipped_",
        )
        yield _by_prefix(
            "borderpath_export_dead_letters",
            "Points the sink refused for good (kept in the dead-letter table).",
            "sink",
            counters,
            "dead_",
        )
        yield _by_prefix(
            "borderpath_export_refusals",
            "Pauses of the export on a request the sink refused (token, bucket, size).",
            "sink",
            counters,
            "refused_",
        )
        dropped = CounterMetricFamily(
            "borderpath_storage_dropped_rows",
            "Rows the local store deleted: retention (normal), spool or size (unshipped, lost).",
            labels=["reason", "table"],
        )
        for name, count in counters.items():
            if name.startswith("dropped_") and name != ALERT_DROPS:
                reason, _, table = name.removeprefix("dropped_").partition("_")
                dropped.add_metric([reason, table], count)
        yield dropped

    def _alerts(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        engine, dispatcher = self.agent.alerts, self.agent.dispatcher
        firing = GaugeMetricFamily(
            "borderpath_alerts_firing", "Alerts firing now, by severity.", labels=["severity"]
        )
        severities = [alert.condition.severity for alert in engine.firing()] if engine else []
        for severity in SEVERITIES:
            firing.add_metric([severity], severities.count(severity))
        yield firing
        yield _counter(
            "borderpath_alert_notifications",
            "Notifications the receiver took (2xx), since the agent started.",
            "receiver",
            {} if dispatcher is None else dispatcher.sent,
        )
        yield _counter(
            "borderpath_alert_notification_failures",
            "POSTs to the receiver that failed (retried), since the agent started.",
            "receiver",
            {} if dispatcher is None else dispatcher.failures,
        )
        yield _counter(
            "borderpath_alert_notifications_dead_lettered",
            "Notifications the receiver refused for good, set aside in alerts-dead.",
            "receiver",
            {} if dispatcher is None else dispatcher.dead_letters,
        )
        dropped = CounterMetricFamily(
            "borderpath_alert_notifications_dropped",
            "Queued notifications dropped after [alerts] max_age undelivered.",
        )
        dropped.add_metric([], self.agent.counters.get(ALERT_DROPS, 0))
        yield dropped


def _counter(
    name: str, help_text: str, label: str, counts: Mapping[str, int]
) -> CounterMetricFamily:
    """A counter family with one label: one sample per ``counts`` entry."""
    family = CounterMetricFamily(name, help_text, labels=[label])
    for value, count in counts.items():
        family.add_metric([value], count)
    return family


def _by_prefix(
    name: str, help_text: str, label: str, counters: Mapping[str, int], prefix: str
) -> CounterMetricFamily:
    """A counter family from the store's ``<prefix><label value>`` counters."""
    counts = {k.removeprefix(prefix): n for k, n in counters.items() if k.startswith(prefix)}
    return _counter(name, help_text, label, counts)
