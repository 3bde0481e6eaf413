"""The lab's topology file and the address plan derived from it.

Every address comes from ranges reserved for testing (RFC 6598, RFC 2544, RFC 5737):

    uplink u (1-based)        100.64.u.0/30   carrier gateway .1, branch .2
    carrier u <-> PoP p       100.65.u.4(p-1)/30   carrier +1, PoP +2
    PoP p probe address       203.0.113.(9+p)/32
    PoP p steered prefix      198.19.p.0/24, service address 198.19.p.10
    LAN                       192.0.2.0/24    branch .1, LAN host .10
"""

import dataclasses
import ipaddress
from pathlib import Path
from typing import Self

import pydantic

from borderpath.core.model import StrictModel
from borderpath.core.tomlfile import load_model
from borderpath.lab.conditions import PathChange
from borderpath.lab.hops import ROUTES

DEFAULT_TOPOLOGY = Path(__file__).with_name("shanghai.toml")
RESERVED_NAMES = {"branch", "lan", "border"}
MAX_UPLINKS = 8
MAX_POPS = 32

LAN_PREFIX = ipaddress.IPv4Network("192.0.2.0/24")
LAN_ROUTER = ipaddress.IPv4Address("192.0.2.1")
LAN_HOST = ipaddress.IPv4Address("192.0.2.10")

ShortName = pydantic.constr(pattern=r"^[a-z][a-z0-9]{0,5}$")


class UplinkSpec(StrictModel):
    name: ShortName  # type: ignore[valid-type]
    carrier: str
    backbone: str
    """The route (hop skeleton) its paths take unless an event switches it."""

    @pydantic.field_validator("backbone")
    @classmethod
    def _known_route(cls, value: str) -> str:
        if value not in ROUTES:
            raise ValueError(f"no route named {value!r} (one of {', '.join(ROUTES)})")
        return value


class PopSpec(StrictModel):
    name: ShortName  # type: ignore[valid-type]
    region: str


class Topology(StrictModel):
    name: str
    uplinks: list[UplinkSpec] = pydantic.Field(min_length=1, max_length=MAX_UPLINKS)
    pops: list[PopSpec] = pydantic.Field(min_length=1, max_length=MAX_POPS)
    paths: list[PathChange] = []

    @pydantic.model_validator(mode="after")
    def _names_unique(self) -> Self:
        names = [u.name for u in self.uplinks] + [p.name for p in self.pops]
        for name in names:
            if name in RESERVED_NAMES:
                raise ValueError(f"{name!r} is reserved for the lab's own namespaces")
            if names.count(name) > 1:
                raise ValueError(f"the name {name!r} is used twice (uplinks and PoPs share names)")
        return self

    @property
    def uplink_names(self) -> list[str]:
        return [u.name for u in self.uplinks]

    @property
    def pop_names(self) -> list[str]:
        return [p.name for p in self.pops]


def load_topology(path: Path | None = None) -> Topology:
    """Read a topology file (the built-in Shanghai branch when ``path`` is None)."""
    topology_path = path or DEFAULT_TOPOLOGY
    document_names = load_model(topology_path, _TopologyNames)
    context = {"uplinks": document_names.uplink_names(), "pops": document_names.pop_names()}
    return load_model(topology_path, Topology, context)


class _TopologyNames(pydantic.BaseModel):
    """First pass: only the names, so [[paths]] can be checked against them."""

    uplinks: list[dict[str, object]] = []
    pops: list[dict[str, object]] = []

    def uplink_names(self) -> list[str]:
        return [str(u.get("name")) for u in self.uplinks]

    def pop_names(self) -> list[str]:
        return [str(p.get("name")) for p in self.pops]


@dataclasses.dataclass(frozen=True)
class UplinkPlan:
    name: str
    carrier: str
    backbone: str
    namespace: str
    """The carrier's namespace: the uplink's gateway lives there."""
    interface: str
    """The branch's interface towards this carrier."""
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address


@dataclasses.dataclass(frozen=True)
class PopPlan:
    name: str
    region: str
    namespace: str
    probe_address: ipaddress.IPv4Address
    prefix: ipaddress.IPv4Network
    service_address: ipaddress.IPv4Address


@dataclasses.dataclass(frozen=True)
class PathPlan:
    uplink: UplinkPlan
    pop: PopPlan
    carrier_address: ipaddress.IPv4Interface
    """The carrier's end of the link to the PoP (interface named after the PoP)."""
    pop_address: ipaddress.IPv4Interface
    """The PoP's end of the link (interface named after the uplink)."""

    @property
    def wire_carrier(self) -> str:
        """The border namespace's interface facing the carrier."""
        return f"{self.uplink.name}-{self.pop.name}-c"

    @property
    def wire_pop(self) -> str:
        """The border namespace's interface facing the PoP."""
        return f"{self.uplink.name}-{self.pop.name}-p"


@dataclasses.dataclass(frozen=True)
class LabPlan:
    """Every name and address of one lab: what ``lab up`` builds and ``lab status`` shows."""

    name: str
    topology: Topology
    uplinks: list[UplinkPlan]
    pops: list[PopPlan]
    paths: list[PathPlan]

    @property
    def branch(self) -> str:
        return f"{self.name}-branch"

    @property
    def lan(self) -> str:
        return f"{self.name}-lan"

    @property
    def border(self) -> str:
        return f"{self.name}-border"

    @property
    def namespaces(self) -> list[str]:
        return [
            self.branch,
            self.lan,
            self.border,
            *(u.namespace for u in self.uplinks),
            *(p.namespace for p in self.pops),
        ]

    def namespace(self, role: str) -> str:
        """The namespace of a role: branch, lan, border, an uplink's carrier or a PoP."""
        roles = {"branch", "lan", "border", *self.topology.uplink_names, *self.topology.pop_names}
        if role not in roles:
            raise KeyError(role)
        return f"{self.name}-{role}"

    def uplink(self, name: str) -> UplinkPlan:
        return next(u for u in self.uplinks if u.name == name)

    def pop(self, name: str) -> PopPlan:
        return next(p for p in self.pops if p.name == name)

    def path(self, uplink: str, pop: str) -> PathPlan:
        return next(p for p in self.paths if p.uplink.name == uplink and p.pop.name == pop)


def plan(name: str, topology: Topology) -> LabPlan:
    """Derive every namespace, interface and address of a lab from its topology."""
    uplinks = [
        UplinkPlan(
            name=spec.name,
            carrier=spec.carrier,
            backbone=spec.backbone,
            namespace=f"{name}-{spec.name}",
            interface=spec.name,
            address=ipaddress.IPv4Interface(f"100.64.{index}.2/30"),
            gateway=ipaddress.IPv4Address(f"100.64.{index}.1"),
        )
        for index, spec in enumerate(topology.uplinks, start=1)
    ]
    pops = [
        PopPlan(
            name=spec.name,
            region=spec.region,
            namespace=f"{name}-{spec.name}",
            probe_address=ipaddress.IPv4Address(f"203.0.113.{9 + index}"),
            prefix=ipaddress.IPv4Network(f"198.19.{index}.0/24"),
            service_address=ipaddress.IPv4Address(f"198.19.{index}.10"),
        )
        for index, spec in enumerate(topology.pops, start=1)
    ]
    paths = [
        PathPlan(
            uplink=uplink,
            pop=pop,
            carrier_address=ipaddress.IPv4Interface(f"100.65.{u}.{4 * (p - 1) + 1}/30"),
            pop_address=ipaddress.IPv4Interface(f"100.65.{u}.{4 * (p - 1) + 2}/30"),
        )
        for u, uplink in enumerate(uplinks, start=1)
        for p, pop in enumerate(pops, start=1)
    ]
    return LabPlan(name=name, topology=topology, uplinks=uplinks, pops=pops, paths=paths)
