"""An alert: what a rule sees now (Condition), its life (Alert), and what is sent (Notice).

    Condition seen ──hold──► firing ──condition gone for `clear`──► resolved
        └─ gone before `hold`: dropped, never sent

Identity is the fingerprint: the rule's name and its identity labels (site, scope,
uplink, pop, protocol, class), never the numbers, so the same fault keeps the same
fingerprint while its figures move and a receiver can deduplicate on it.
"""

import dataclasses
import datetime
import hashlib
from collections.abc import Mapping
from typing import Any

from borderpath.alerts.config import Severity
from borderpath.core.events import EventKind, EventRecord

Path = tuple[str, str]
"""(uplink, pop)."""


def fingerprint(name: str, labels: Mapping[str, str]) -> str:
    identity = name + "".join(f"\x00{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True, slots=True)
class Condition:
    """One alert a rule wants now; the engine holds, fires and resolves it."""

    name: str
    """Rule name, e.g. path_down, pop_fault, udp_interference."""
    severity: Severity
    labels: Mapping[str, str]
    """Identity: site, scope (path|uplink|pop|border), uplink, carrier, pop, protocol, class."""
    summary: str
    """One sentence for the on-call engineer: what broke and where."""
    values: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """The numbers behind it."""
    paths: tuple[Path, ...] = ()
    """Paths the alert covers (a fault's paths)."""
    hold: float = 0.0
    clear: float = 0.0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.name, self.labels)


@dataclasses.dataclass(slots=True)
class Alert:
    """A condition being held, firing, or just resolved."""

    condition: Condition
    seen_first: float
    seen_last: float
    status: str = "pending"
    """pending | firing | resolved."""
    starts_at: float | None = None
    ends_at: float | None = None
    notified_at: float = 0.0

    @property
    def fingerprint(self) -> str:
        return self.condition.fingerprint

    def notice(self, now: float, repeat: bool = False) -> "Notice":
        return Notice(
            status=self.status,
            name=self.condition.name,
            severity=self.condition.severity,
            fingerprint=self.fingerprint,
            labels=dict(self.condition.labels),
            summary=self.condition.summary,
            values=dict(self.condition.values),
            paths=[f"{u}/{p}" for u, p in self.condition.paths],
            starts_at=self.starts_at or now,
            ends_at=self.ends_at,
            sent_at=now,
            repeat=repeat,
        )

    def as_dict(self) -> dict[str, Any]:
        """The alert as the status API and ``borderpath alerts --json`` show it."""
        data = self.notice(self.seen_last).as_dict()
        data["since"] = iso(self.seen_first)
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """One notification of one alert (firing, resolved, or firing again), as queued."""

    status: str
    name: str
    severity: Severity
    fingerprint: str
    labels: Mapping[str, str]
    summary: str
    values: Mapping[str, float]
    paths: list[str]
    starts_at: float
    ends_at: float | None
    sent_at: float
    """When the engine issued it (wall clock, s)."""
    repeat: bool = False
    """A reminder of an alert still firing (repeat_interval)."""

    def as_dict(self) -> dict[str, Any]:
        """The generic JSON of one alert (docs/alerts.md)."""
        return {
            "status": self.status,
            "name": self.name,
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "labels": dict(self.labels),
            "summary": self.summary,
            "values": dict(self.values),
            "paths": list(self.paths),
            "starts_at": iso(self.starts_at),
            "ends_at": None if self.ends_at is None else iso(self.ends_at),
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], sent_at: float) -> "Notice":
        return cls(
            status=data["status"],
            name=data["name"],
            severity=data["severity"],
            fingerprint=data["fingerprint"],
            labels=data["labels"],
            summary=data["summary"],
            values=data["values"],
            paths=data["paths"],
            starts_at=_epoch(data["starts_at"]),
            ends_at=None if data["ends_at"] is None else _epoch(data["ends_at"]),
            sent_at=sent_at,
            repeat=data["repeat"],
        )

    def to_event(self) -> EventRecord:
        """``alert.firing`` / ``alert.resolved`` for the store and InfluxDB."""
        when = self.starts_at if self.status == "firing" else (self.ends_at or self.sent_at)
        labels = {**self.labels, "alert": self.name, "fingerprint": self.fingerprint}
        return EventRecord(
            time_ns=int(when * 1e9),
            kind=EventKind(f"alert.{self.status}"),
            text=self.summary,
            labels={**labels, "severity": self.severity},
            values=dict(self.values),
        )


def iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
