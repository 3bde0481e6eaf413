"""The route writer: the selector's choices as kernel routes, through netlink (pyroute2).

What is ours, and nothing else: routes in ``routes.table`` with protocol ``routes.proto``,
and rules ``to PREFIX lookup TABLE`` at ``routes.rule_priority`` with that protocol.
Each steered prefix of a PoP gets a route via the chosen uplink's gateway and device
(a weighted multipath route under 'balance'). Changes are computed as a plan first
(a list of RouteChange, printable), then applied one netlink call at a time: each call
is atomic, so traffic is never without a route. A route or rule we do not own is never
replaced or deleted, even in our table: a foreign route on a steered prefix is reported.

Netlink is used from the calling thread only (pyroute2's namespace helper can deadlock
in threaded programs): the agent runs the writer in one dedicated worker.
"""

import dataclasses
import ipaddress
import logging
import socket
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from borderpath.core.errors import RouteError
from borderpath.core.events import EventKind, EventRecord
from borderpath.core.model import IPNetwork
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector.config import RoutesConfig
from borderpath.selector.policy import Choice

log = logging.getLogger(__name__)

Hop = tuple[str, str, int]
"""(gateway, device, weight) of one next hop."""

Action = Literal["replace", "delete", "add-rule", "delete-rule", "conflict"]


_KINDS = {"replace": EventKind.ROUTE_REPLACED, "delete": EventKind.ROUTE_DELETED}
"""The event of each route change that was written (rule changes and conflicts have none)."""


@dataclasses.dataclass(frozen=True, order=True)
class RouteChange:
    """One netlink change of the plan (or a conflict it will not touch)."""

    action: Action
    prefix: str
    hops: tuple[Hop, ...] = ()
    detail: str = ""

    def describe(self, routes: RoutesConfig) -> str:
        where = f"table {routes.table} proto {routes.proto}"
        if self.action == "replace":
            return f"replace {self.prefix} {_hops_text(self.hops)} {where}"
        if self.action == "delete":
            return f"delete {self.prefix} {where}"
        rule = f"to {self.prefix} lookup {routes.table} priority {routes.rule_priority}"
        if self.action == "add-rule":
            return f"add rule {rule} proto {routes.proto}"
        if self.action == "delete-rule":
            return f"delete rule {rule} proto {routes.proto}"
        return f"leave {self.prefix} alone: {self.detail}"


@dataclasses.dataclass(frozen=True)
class KernelState:
    """What the kernel has that concerns us."""

    routes: Mapping[str, tuple[Hop, ...]]
    """Our routes: prefix -> hops (sorted)."""
    rules: frozenset[str]
    """Prefixes that have our rule."""
    foreign: Mapping[str, int]
    """Prefixes in our table held by a route of another protocol -> that protocol."""


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    applied: list[RouteChange]
    events: list[EventRecord]
    """``route.replaced`` / ``route.deleted`` / ``route.failed`` records."""
    failed_pops: list[str]
    """PoPs whose wanted route the kernel refused (their choice stays what is installed)."""


class RouteWriter:
    """Reads, plans and writes our routes and rules in one network namespace."""

    def __init__(
        self,
        routes: RoutesConfig,
        uplinks: Sequence[UplinkConfig],
        pops: Sequence[PopConfig],
        netns: str | None = None,
    ) -> None:
        self.routes = routes
        self.netns = netns
        self._uplinks = {u.name: u for u in uplinks}
        self._pops = list(pops)
        self._ipr: Any = None

    def __enter__(self) -> "RouteWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # -- reading -------------------------------------------------------------------

    def read(self) -> KernelState:
        """Our routes and rules as the kernel has them now."""
        routes: dict[str, tuple[Hop, ...]] = {}
        foreign: dict[str, int] = {}
        names = self._device_names()
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in self._call(
                "dump routes", "get_routes", family=family, table=self.routes.table
            ):
                if route.get("table") != self.routes.table or route.get("dst") is None:
                    continue
                prefix = f"{route.get('dst')}/{route.get('dst_len')}"
                if route.get("proto") == self.routes.proto:
                    routes[prefix] = _hops_of(route, names)
                else:
                    foreign[prefix] = int(route.get("proto"))
        rules = frozenset(
            f"{rule.get('dst')}/{rule.get('dst_len')}"
            for family in (socket.AF_INET, socket.AF_INET6)
            for rule in self._call("dump rules", "get_rules", family=family)
            if rule.get("protocol") == self.routes.proto
            and rule.get("priority") == self.routes.rule_priority
            and rule.get("dst") is not None
        )
        return KernelState(routes, rules, foreign)

    def installed_choices(self, state: KernelState | None = None) -> dict[str, Choice]:
        """Per PoP, the uplink(s) its first prefix is routed by now (absent if none)."""
        state = state or self.read()
        by_hop = {(str(u.gateway), u.interface): u.name for u in self._uplinks.values()}
        by_hop |= {(str(u.gateway6), u.interface): u.name for u in self._uplinks.values()}
        choices = {}
        for pop in self._pops:
            hops = state.routes.get(str(pop.prefixes[0])) if pop.prefixes else None
            if hops and all((g, d) in by_hop for g, d, _ in hops):
                choices[pop.name] = tuple(sorted((by_hop[(g, d)], w) for g, d, w in hops))
        return choices

    # -- planning ------------------------------------------------------------------

    def plan(
        self, choices: Mapping[str, Choice], state: KernelState | None = None
    ) -> list[RouteChange]:
        """What must change so the kernel has ``choices``; a PoP with no choice keeps
        whatever route it has (never removed), a prefix no PoP steers any more is removed."""
        state = state or self.read()
        wanted = self._wanted(choices)
        steered = {str(p) for pop in self._pops for p in pop.prefixes}
        changes: list[RouteChange] = []
        for prefix, hops in sorted(wanted.items()):
            if prefix in state.foreign:
                detail = f"a route of protocol {state.foreign[prefix]} holds it in our table"
                changes.append(RouteChange("conflict", prefix, hops, detail))
                continue
            if state.routes.get(prefix) != hops:
                changes.append(RouteChange("replace", prefix, hops))
        routed = (set(state.routes) | set(wanted)) - set(state.foreign)
        for prefix in sorted((routed & steered) - state.rules):
            changes.append(RouteChange("add-rule", prefix))
        for prefix in sorted(state.rules - steered):
            changes.append(RouteChange("delete-rule", prefix))
        for prefix in sorted(set(state.routes) - steered):
            changes.append(RouteChange("delete", prefix))
        return changes

    def flush_plan(self, state: KernelState | None = None) -> list[RouteChange]:
        """Removing everything we own (rules first, so no traffic meets an emptied table)."""
        state = state or self.read()
        return [RouteChange("delete-rule", p) for p in sorted(state.rules)] + [
            RouteChange("delete", p) for p in sorted(state.routes)
        ]

    def _wanted(self, choices: Mapping[str, Choice]) -> dict[str, tuple[Hop, ...]]:
        wanted = {}
        for pop in self._pops:
            choice = choices.get(pop.name, ())
            for prefix in pop.prefixes:
                hops = self._hops(choice, prefix)
                if hops:
                    wanted[str(prefix)] = hops
        return wanted

    def _hops(self, choice: Choice, prefix: IPNetwork) -> tuple[Hop, ...]:
        hops = []
        for uplink, weight in choice:
            config = self._uplinks[uplink]
            gateway = config.gateway6 if prefix.version == 6 else config.gateway
            if gateway is not None and gateway.version == prefix.version:
                hops.append((str(gateway), config.interface, weight))
        return tuple(sorted(hops))

    # -- writing -------------------------------------------------------------------

    def apply(self, changes: Sequence[RouteChange], now_ns: int) -> ApplyResult:
        """Run a plan; each failed change is retried, logged and reported as an event."""
        applied: list[RouteChange] = []
        events: list[EventRecord] = []
        failed: set[str] = set()
        for change in changes:
            if change.action == "conflict":
                log.warning("route %s not written: %s", change.prefix, change.detail)
                events.append(self._event(now_ns, EventKind.ROUTE_FAILED, change, change.detail))
                failed.add(change.prefix)
                continue
            error = self._attempt(change)
            if error is None:
                applied.append(change)
                if change.action in _KINDS:
                    events.append(self._event(now_ns, _KINDS[change.action], change, ""))
            else:
                events.append(self._event(now_ns, EventKind.ROUTE_FAILED, change, error))
                failed.add(change.prefix)
        pops = [p.name for p in self._pops if any(str(x) in failed for x in p.prefixes)]
        return ApplyResult(applied, events, pops)

    def _attempt(self, change: RouteChange) -> str | None:
        """None when the change took; else the kernel's complaint after every retry."""
        complaint = ""
        for attempt in range(1 + self.routes.retries):
            try:
                self._write(change)
                return None
            except RouteError as exc:
                complaint = str(exc)
                log.warning("attempt %d: %s", attempt + 1, complaint)
        log.error("gave up: %s", complaint)
        return complaint

    def _write(self, change: RouteChange) -> None:
        network = ipaddress.ip_network(change.prefix)
        common = {"table": self.routes.table, "family": _family(network)}
        what = change.describe(self.routes)
        if change.action == "replace":
            self._call(
                what,
                "route",
                "replace",
                dst=change.prefix,
                proto=self.routes.proto,
                **common,
                **self._nexthops(change.hops),
            )
        elif change.action == "delete":
            self._call(what, "route", "del", dst=change.prefix, proto=self.routes.proto, **common)
        else:
            self._call(
                what,
                "rule",
                "add" if change.action == "add-rule" else "del",
                dst=str(network.network_address),
                dst_len=network.prefixlen,
                priority=self.routes.rule_priority,
                protocol=self.routes.proto,
                **common,
            )

    def _nexthops(self, hops: tuple[Hop, ...]) -> dict[str, Any]:
        if len(hops) == 1:
            gateway, device, _ = hops[0]
            return {"gateway": gateway, "oif": self._index(device)}
        return {
            "multipath": [
                {"gateway": gateway, "oif": self._index(device), "hops": weight - 1}
                for gateway, device, weight in hops
            ]
        }

    def _event(self, now_ns: int, kind: EventKind, change: RouteChange, error: str) -> EventRecord:
        text = change.describe(self.routes)
        return EventRecord(
            time_ns=now_ns,
            kind=kind,
            text=f"{text} failed: {error}" if error else text,
            labels={"prefix": change.prefix, "action": change.action},
            values={"hops": len(change.hops)},
        )

    # -- netlink -------------------------------------------------------------------

    def _index(self, device: str) -> int:
        found = self._call(f"look up device {device}", "link_lookup", ifname=device)
        if not found:
            raise RouteError(f"there is no network device {device!r} here")
        return int(found[0])

    def _device_names(self) -> dict[int, str]:
        return {
            int(link["index"]): str(link.get("ifname"))
            for link in self._call("list devices", "get_links")
        }

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A netlink call; its errors become RouteError naming what was attempted."""
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            if self._ipr is None:
                # flags=0: use the namespace, never create it.
                self._ipr = IPRoute(netns=self.netns, flags=0) if self.netns else IPRoute()
            return getattr(self._ipr, method)(*args, **kwargs)
        except (NetlinkError, OSError) as exc:
            raise RouteError(f"{what}: {exc}") from exc


def _family(network: IPNetwork) -> int:
    return socket.AF_INET6 if network.version == 6 else socket.AF_INET


def _hops_of(route: Any, names: Mapping[int, str]) -> tuple[Hop, ...]:
    if route.get("multipath"):
        return tuple(
            sorted(
                (str(hop.get("gateway")), names.get(hop.get("oif"), "?"), int(hop.get("hops")) + 1)
                for hop in route.get("multipath")
            )
        )
    return ((str(route.get("gateway")), names.get(route.get("oif"), "?"), 1),)


def _hops_text(hops: tuple[Hop, ...]) -> str:
    if len(hops) == 1:
        return f"via {hops[0][0]} dev {hops[0][1]}"
    return " ".join(f"nexthop via {g} dev {d} weight {w}" for g, d, w in hops)
