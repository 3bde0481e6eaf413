"""What each emulated path does to packets, per direction and protocol, and how it changes.

A path is (uplink, pop). Its conditions are kept per direction (``out`` = branch to
PoP, ``in`` = PoP to branch) and per protocol class (icmp, tcp, udp, other), so an
event can police UDP alone or drop only the replies.
"""

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

import pydantic

from borderpath.core.model import StrictModel
from borderpath.lab.hops import ROUTES

PROTOCOLS = ("icmp", "tcp", "udp", "other")
DIRECTIONS = ("out", "in")

Inject = Literal["none", "rst", "echo"]


@dataclasses.dataclass(frozen=True, slots=True)
class Conditions:
    """The impairment of one path in one direction for one protocol class."""

    delay_ms: float = 0.0
    """One-way delay added to every packet."""
    jitter_ms: float = 0.0
    """Standard deviation of a normal variation around the delay (never below zero)."""
    loss: float = 0.0
    """Fraction of packets dropped at random."""
    blackhole: bool = False
    """Drop everything (ARP still passes: the neighbour is up, the path beyond is not)."""
    rate_kbps: float = 0.0
    """Police to this rate in kbit/s, dropping the excess; 0 means no limit."""
    inject: Inject = "none"
    """Forge answers to requests going out: ``rst`` to TCP SYNs, ``echo`` to pings and UDP."""
    route: str = ""
    """The hop skeleton a trace sees (lab/hops.py); empty: the uplink's own backbone."""


_FIELDS = {field.name for field in dataclasses.fields(Conditions)}


class ConditionValues(StrictModel):
    """The condition keys of a scenario or topology entry; a key left out is unchanged."""

    delay_ms: float | None = pydantic.Field(None, ge=0, le=10_000)
    jitter_ms: float | None = pydantic.Field(None, ge=0, le=10_000)
    loss: float | None = pydantic.Field(None, ge=0, le=1)
    blackhole: pydantic.StrictBool | None = None
    rate_kbps: float | None = pydantic.Field(None, ge=0)
    inject: Inject | None = None
    route: str | None = None

    @pydantic.field_validator("route")
    @classmethod
    def _known_route(cls, value: str | None) -> str | None:
        if value is not None and value not in ROUTES:
            raise ValueError(f"no route named {value!r} (one of {', '.join(ROUTES)})")
        return value

    def changes(self) -> dict[str, Any]:
        return {key: value for key, value in self if value is not None and key in _FIELDS}


class PathChange(ConditionValues):
    """Condition values for the paths, directions and protocols it selects."""

    uplink: str = "*"
    pop: str = "*"
    direction: Literal["in", "out", "both"] = "both"
    protocol: Literal["any", "icmp", "tcp", "udp"] = "any"

    @pydantic.field_validator("uplink", "pop")
    @classmethod
    def _known(cls, value: str, info: pydantic.ValidationInfo) -> str:
        names = (info.context or {}).get(f"{info.field_name}s")
        if value != "*" and names is not None and value not in names:
            known = ", ".join(sorted(names))
            raise ValueError(f"no {info.field_name} named {value!r} in the topology ({known})")
        return value


Key = tuple[str, str, str, str]
"""(uplink, pop, direction, protocol)."""


class ConditionTable:
    """The current conditions of every path, direction and protocol of a lab."""

    def __init__(self, uplinks: list[str], pops: list[str]) -> None:
        self._table: dict[Key, Conditions] = {
            (uplink, pop, direction, protocol): Conditions()
            for uplink in uplinks
            for pop in pops
            for direction in DIRECTIONS
            for protocol in PROTOCOLS
        }

    def apply(self, change: PathChange) -> None:
        values = change.changes()
        for key in self.select(change):
            self._table[key] = dataclasses.replace(self._table[key], **values)

    def select(self, change: PathChange) -> Iterator[Key]:
        for key in self._table:
            uplink, pop, direction, protocol = key
            if (
                change.uplink in ("*", uplink)
                and change.pop in ("*", pop)
                and change.direction in ("both", direction)
                and change.protocol in ("any", protocol)
            ):
                yield key

    def get(self, uplink: str, pop: str, direction: str, protocol: str) -> Conditions:
        return self._table[(uplink, pop, direction, protocol)]

    def rows(self) -> list[dict[str, Any]]:
        """Every entry as a flat record: the shape ``lab status --json`` documents."""
        return [
            {"uplink": u, "pop": p, "direction": d, "protocol": proto, **dataclasses.asdict(c)}
            for (u, p, d, proto), c in self._table.items()
        ]
