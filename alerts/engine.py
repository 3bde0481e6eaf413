"""The alert engine: observes what the agent sees, evaluates the rules, holds, fires,
repeats and resolves alerts. No I/O and no clock of its own: every call takes ``now``.

    engine.observe(batch)                 # every probe batch
    engine.observe_snapshots(snapshots)   # the selector's paths
    engine.observe_decisions(decisions)   # each tick's decisions
    engine.observe_events(events)         # route.failed, path.label ...
    engine.observe_store(backlog, counters, now)
    engine.observe_parts(failing)         # the supervisor's parts failing now
    notices = engine.evaluate(now)        # firing / resolved / repeated, to deliver
"""

from collections.abc import Iterable, Mapping, Sequence

from borderpath.alerts.alert import Alert, Condition, Notice, Path
from borderpath.alerts.config import SEVERITIES, AlertsConfig
from borderpath.alerts.facts import Facts
from borderpath.alerts.rules import Scene, Switch, evaluate
from borderpath.core.events import ALERT_KINDS, EventKind, EventRecord
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector.config import SelectorConfig
from borderpath.selector.decision import Decision

EVENT_ONLY_LABELS = ("alert", "fingerprint", "severity")
"""Labels Notice.to_event adds to an alert's own."""
DROP_COUNTERS = ("dropped_spool_", "dropped_size_")
"""Store counters that mean telemetry was lost (retention drops are normal)."""
REFUSED_COUNTERS = ("refused_",)
"""Store counters of the exporter's pauses on a refused request (storage/export.py)."""


class AlertEngine:
    def __init__(
        self,
        config: AlertsConfig,
        uplinks: Sequence[UplinkConfig],
        pops: Sequence[PopConfig],
        selector: SelectorConfig,
        site: str,
    ) -> None:
        self.config = config
        self.selector = selector
        self.site = site
        self.uplinks = [u.name for u in uplinks]
        self.carriers = {u.name: u.carrier for u in uplinks}
        self.pops = [p.name for p in pops]
        self._pop_of_prefix = {str(prefix): p.name for p in pops for prefix in p.prefixes}
        keep = max(config.interference.window, config.degraded.short) + 5
        self.facts = Facts(keep, outage=config.down.silence)
        self.alerts: dict[str, Alert] = {}
        self._snapshots: dict[Path, PathSnapshot] = {}
        self._switches: list[Switch] = []
        self._choices: dict[str, str] = {}
        self._labels: dict[Path, tuple[str, str]] = {}
        self._backlog = 0
        self._failing_parts: dict[str, str] = {}
        self._counters: dict[str, int] | None = None
        self._happenings: list[Condition] = []

    # -- what the agent sees ---------------------------------------------------------

    def observe(self, batch: Iterable[ProbeResult]) -> None:
        self.facts.add(batch)

    def observe_snapshots(self, snapshots: Iterable[PathSnapshot]) -> None:
        for snapshot in snapshots:
            self._snapshots[(snapshot.uplink, snapshot.pop)] = snapshot

    def observe_decisions(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            uplinks = "+".join(decision.uplinks)
            self._choices[decision.pop] = uplinks
            if decision.is_switch:
                self._switches.append(
                    Switch(
                        decision.time_ns / 1e9,
                        decision.pop,
                        decision.action,
                        decision.reason,
                        uplinks,
                    )
                )

    def observe_events(self, events: Iterable[EventRecord]) -> None:
        """Route write failures and path label changes, as the agent records them."""
        for event in events:
            if event.kind == EventKind.ROUTE_FAILED:
                self._route_failed(event)
            elif event.kind == EventKind.PATH_LABEL:
                self.observe_label(
                    event.labels["uplink"], event.labels["pop"], event.labels["label"]
                )

    def observe_label(self, uplink: str, pop: str, label: str) -> None:
        """A path's backbone label as the traces agree on it (first one = its usual)."""
        first, _ = self._labels.get((uplink, pop), (label, label))
        self._labels[(uplink, pop)] = (first, label)

    def observe_store(self, backlog: Mapping[str, int], counters: Mapping[str, int]) -> None:
        """Export backlog and the store's counters: new drops of unshipped rows alert, and
        so does a new pause of the export on a refused request."""
        self._backlog = sum(backlog.values())
        watched = DROP_COUNTERS + REFUSED_COUNTERS
        dropped = {k: v for k, v in counters.items() if k.startswith(watched)}
        if self._counters is not None:
            new = {k: v - self._counters.get(k, 0) for k, v in dropped.items()}
            if any(n > 0 for k, n in new.items() if k.startswith(REFUSED_COUNTERS)):
                self._happen(
                    "export_refused",
                    self._agent_labels(),
                    "InfluxDB refuses every write (token, org, bucket or database): export "
                    "is paused, nothing is dropped; see the export.refused event.",
                    {},
                )
            lost = sum(n for k, n in new.items() if n > 0 and k.startswith(DROP_COUNTERS))
            if lost:
                self._happen(
                    "storage_dropping",
                    self._agent_labels(),
                    f"The local store dropped {lost} telemetry rows (spool or size cap): "
                    "InfluxDB has been unreachable too long or the disk cap is too small.",
                    {"rows": lost},
                )
        self._counters = dropped

    def observe_parts(self, failing: Mapping[str, str]) -> None:
        """The agent's parts failing now (restarted with backoff), with their errors."""
        self._failing_parts = dict(failing)

    # -- rules -----------------------------------------------------------------------

    def evaluate(self, now: float) -> list[Notice]:
        """Run the rules at ``now``; the notifications to send, in the order they happened."""
        self.facts.trim()
        self._forget_old_switches(now)
        scene = Scene(
            now=now,
            site=self.site,
            config=self.config,
            selector=self.selector,
            uplinks=self.uplinks,
            carriers=self.carriers,
            pops=self.pops,
            facts=self.facts,
            snapshots=self._snapshots,
            switches=self._switches,
            labels=self._labels,
            backlog=self._backlog,
            failing_parts=self._failing_parts,
            happenings=self._happenings,
            choices=self._choices,
        )
        conditions = {c.fingerprint: c for c in evaluate(scene)}
        self._happenings = []
        notices = self._update(conditions, now)
        notices += self._gone(conditions, now)
        return notices + self._repeats(now)

    def restore(self, events: Iterable[EventRecord], now: float) -> int:
        """Take back the alerts still firing when the agent stopped (from its alert
        events, oldest first), so a restart or a reload resolves them when they clear
        instead of forgetting them; how many were restored."""
        last: dict[str, EventRecord] = {}
        for event in events:
            if event.kind in ALERT_KINDS:
                last[event.labels.get("fingerprint", "")] = event
        for event in last.values():
            if event.kind == EventKind.ALERT_FIRING:
                alert = _restored(event, now, self.config.clear)
                self.alerts.setdefault(alert.fingerprint, alert)
        return len(self.firing())

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    def firing_notices(self, now: float) -> list[Notice]:
        """What fires at ``now``, as notices (Alertmanager's resends)."""
        return [alert.notice(now) for alert in self.firing()]

    def pending(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.status == "pending"]

    def _update(self, conditions: Mapping[str, Condition], now: float) -> list[Notice]:
        notices = []
        for key, condition in conditions.items():
            alert = self.alerts.setdefault(key, Alert(condition, seen_first=now, seen_last=now))
            alert.condition, alert.seen_last = condition, now
            if alert.status == "pending" and now - alert.seen_first >= condition.hold:
                alert.status, alert.starts_at, alert.notified_at = "firing", now, now
                notices.append(alert.notice(now))
        return notices

    def _gone(self, conditions: Mapping[str, Condition], now: float) -> list[Notice]:
        """Pending alerts whose condition went are forgotten (never sent); firing ones
        resolve once the condition has been gone for the rule's clear time."""
        notices = []
        for key, alert in list(self.alerts.items()):
            if key in conditions:
                continue
            if alert.status == "pending":
                del self.alerts[key]
            elif now - alert.seen_last >= alert.condition.clear:
                alert.status, alert.ends_at = "resolved", now
                notices.append(alert.notice(now))
                del self.alerts[key]
        return notices

    def _repeats(self, now: float) -> list[Notice]:
        notices = []
        for alert in self.firing():
            if now - alert.notified_at >= self.config.repeat_interval:
                alert.notified_at = now
                notices.append(alert.notice(now, repeat=True))
        return notices

    def _forget_old_switches(self, now: float) -> None:
        rule = self.config.steering
        horizon = max(rule.flap_window, rule.switch_clear)
        self._switches = [s for s in self._switches if now - s.time < horizon]

    def _route_failed(self, event: EventRecord) -> None:
        pop = self._pop_of_prefix.get(event.labels.get("prefix", ""), "")
        self._happen(
            "route_write_failed",
            {"site": self.site, "scope": "pop", "pop": pop} if pop else self._agent_labels(),
            f"Route write failed: {event.text}; the PoP keeps the route the kernel has.",
            {},
        )

    def _agent_labels(self) -> dict[str, str]:
        return {"site": self.site, "scope": "agent"}

    def _happen(
        self, name: str, labels: dict[str, str], text: str, values: dict[str, float]
    ) -> None:
        _, clear = self.config.timing(self.config.health)
        self._happenings.append(
            Condition(name, "warning", labels, text, values, hold=0.0, clear=clear)
        )


def _restored(event: EventRecord, now: float, clear: float) -> Alert:
    labels = {k: v for k, v in event.labels.items() if k not in EVENT_ONLY_LABELS}
    severity = event.labels.get("severity", "warning")
    condition = Condition(
        name=event.labels["alert"],
        severity=severity if severity in SEVERITIES else "warning",
        labels=labels,
        summary=event.text,
        values={k: float(v) for k, v in event.values.items()},
        clear=clear,
    )
    started = event.time_ns / 1e9
    return Alert(condition, now, now, "firing", starts_at=started, notified_at=now)
