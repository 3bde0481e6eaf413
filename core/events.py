"""What happened, as storage keeps and exports it: every kind of event, and the record.

Producers keep their own richer dataclasses (a selector Decision, an alert) and hand
these plain records to storage, which stores and exports them without knowing who
made them.
"""

import dataclasses
import enum
from collections.abc import Mapping

Value = float | int | str | bool


class EventKind(enum.StrEnum):
    """Every kind of event; the value is what is stored and exported as ``kind``."""

    DECISION = "decision"
    """The selector chose a path for a PoP (the reason in words)."""
    ROUTE_REPLACED = "route.replaced"
    ROUTE_DELETED = "route.deleted"
    ROUTE_FAILED = "route.failed"
    """The kernel refused a route change, or the change could not be made."""
    ALERT_FIRING = "alert.firing"
    ALERT_RESOLVED = "alert.resolved"
    ALERT_DEAD = "alert.dead"
    """A receiver would not take notifications; they went to the dead-letter queue."""
    PATH_LABEL = "path.label"
    """A path's backbone label (from tracing) changed."""
    AGENT_START = "agent.start"
    AGENT_STOP = "agent.stop"
    AGENT_PART_FAILED = "agent.part_failed"
    """A long-lived part of the agent failed and was restarted with backoff."""
    STORAGE_DROPPED = "storage.dropped"
    """Rows were dropped to keep the store under its caps."""
    STORAGE_FULL = "storage.full"
    """The disk was full for a while; the writes held in memory are stored."""
    EXPORT_DEAD_LETTER = "export.dead_letter"
    """InfluxDB refused a batch for good; it was set aside."""
    EXPORT_REFUSED = "export.refused"
    """InfluxDB refused the requests themselves (a token, a size); the exporter waits."""


ALERT_KINDS = (EventKind.ALERT_FIRING, EventKind.ALERT_RESOLVED)


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened. Stored locally and exported as ``borderpath_event``."""

    time_ns: int
    """Wall-clock time, ns since the Unix epoch."""
    kind: EventKind
    text: str
    """One sentence for a human: the reason in words."""
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Where it happened: uplink, pop, protocol, class, severity, fingerprint..."""
    values: Mapping[str, Value] = dataclasses.field(default_factory=dict)
    """The numbers behind it (scores, loss, rtt) and other details."""
