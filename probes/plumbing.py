"""The routing that makes every probe leave by its own uplink, in the agent's namespace.

For the n-th uplink (from 1) the plumbing owns, in the namespace it runs in:

    table  table_base + n    default via the uplink's gateway (dev its interface)
                             unreachable default, metric 4278198272 (the guard)
    rule   fwmark fwmark_base + n  lookup that table   priority rule_priority + 2(n-1)
    rule   from <source>           lookup that table   priority rule_priority + 2(n-1) + 1

The guard matters: when the uplink's own route is gone (interface down, gateway
removed), marked packets hit ``unreachable`` instead of falling through to the main
table and leaving by another uplink. The source rule carries the http probe, which can
only bind an address. Routes carry PROTO so ``remove`` takes back only what
``apply`` made; both are idempotent, and ``apply`` run again repairs (the agent runs it
every ``[agent] reconcile_interval``; ``remove`` at stop).
"""

import ipaddress
from typing import Any

from borderpath.core.errors import RouteError
from borderpath.core.topology import UplinkConfig
from borderpath.probes.config import ProbingConfig
from borderpath.probes.series import uplink_mark, uplink_table

PROTO = 249
"""Route protocol number marking the probe routes as ours (unassigned in rt_protos)."""
GUARD_METRIC = 4278198272
RTN_UNICAST, RTN_UNREACHABLE = 1, 7
FAMILIES = {4: 2, 6: 10}
_DEFAULT = {4: "0.0.0.0/0", 6: "::/0"}


class Plumbing:
    """Create (``apply``) and remove (``remove``) the probe tables and rules."""

    def __init__(self, uplinks: list[UplinkConfig], probing: ProbingConfig) -> None:
        self.uplinks = uplinks
        self.probing = probing

    def plan(self) -> list[dict[str, Any]]:
        """What ``apply`` installs, as plain values (also what a test compares)."""
        entries: list[dict[str, Any]] = []
        for index, uplink in enumerate(self.uplinks):
            table, mark = uplink_table(self.probing, index), uplink_mark(self.probing, index)
            priority = self.probing.rule_priority + 2 * index
            gateways = _by_version(uplink.gateway, uplink.gateway6)
            sources = _by_version(uplink.source, uplink.source6)
            for version, gateway in sorted(gateways.items()):
                entries.append(
                    {
                        "uplink": uplink.name,
                        "version": version,
                        "table": table,
                        "mark": mark,
                        "interface": uplink.interface,
                        "gateway": gateway,
                        "mark_priority": priority,
                        "source": sources.get(version),
                        "source_priority": priority + 1,
                    }
                )
        return entries

    def apply(self) -> list[str]:
        """Install what is missing or differs, and nothing else: run again, it repairs
        what was changed by hand (a route deleted, a rule whose mark or source changed).
        What it had to install, in words (empty when the kernel had it all)."""
        with _netlink() as ipr:
            return [done for entry in self.plan() for done in _install(ipr, entry)]

    def remove(self) -> None:
        """Remove the rules and our routes from the probe tables; absent ones are fine."""
        with _netlink() as ipr:
            for entry in self.plan():
                family = FAMILIES[entry["version"]]
                for priority in (entry["mark_priority"], entry["source_priority"]):
                    for rule in ipr.get_rules(family=family, priority=priority):
                        if rule.get("table") == entry["table"]:
                            _quiet(
                                ipr.rule,
                                "del",
                                family=family,
                                priority=priority,
                                table=entry["table"],
                            )
                for route in ipr.get_routes(family=family, table=entry["table"]):
                    if route.get("proto") == PROTO:
                        _quiet(ipr.route, "del", **_route_key(route, entry["table"], family))


def _install(ipr: Any, entry: dict[str, Any]) -> list[str]:
    family, table = FAMILIES[entry["version"]], entry["table"]
    links = ipr.link_lookup(ifname=entry["interface"])
    if not links:
        raise RouteError(
            f"uplink {entry['uplink']}: no interface {entry['interface']!r} in this namespace"
        )
    default = _DEFAULT[entry["version"]]
    done = []
    try:
        routes = [
            route
            for route in ipr.get_routes(family=family, table=table)
            if route.get("proto") == PROTO and route["dst_len"] == 0
        ]
        if not any(
            route["type"] == RTN_UNICAST
            and route.get("gateway") == entry["gateway"]
            and route.get("oif") == links[0]
            for route in routes
        ):
            ipr.route(
                "replace",
                dst=default,
                gateway=entry["gateway"],
                oif=links[0],
                table=table,
                proto=PROTO,
                family=family,
            )
            done.append(f"default via {entry['gateway']} dev {entry['interface']} table {table}")
        if not any(route["type"] == RTN_UNREACHABLE for route in routes):
            ipr.route(
                "replace",
                dst=default,
                type="unreachable",
                table=table,
                priority=GUARD_METRIC,
                proto=PROTO,
                family=family,
            )
            done.append(f"unreachable default table {table} metric {GUARD_METRIC}")
        done += _rule(ipr, family, entry["mark_priority"], table, {"fwmark": entry["mark"]})
        if entry["source"] is not None:
            prefix = 32 if entry["version"] == 4 else 128
            match = {"src": entry["source"], "src_len": prefix}
            done += _rule(ipr, family, entry["source_priority"], table, match)
    except Exception as exc:  # pyroute2 raises NetlinkError and others
        raise RouteError(
            f"uplink {entry['uplink']}: the kernel refused a probe route: {exc}"
        ) from exc
    return done


def _rule(ipr: Any, family: int, priority: int, table: int, match: dict[str, Any]) -> list[str]:
    """Our rule at ``priority`` with ``match``; one of ours there that matches something
    else (the uplink's mark or source changed) is replaced."""
    ours = [
        rule
        for rule in ipr.get_rules(family=family, priority=priority)
        if rule.get("table") == table
    ]
    stale = [_match_of(rule) for rule in ours if _match_of(rule) != match]
    done = []
    for old in stale:
        ipr.rule("del", family=family, priority=priority, table=table, **old)
        done.append(f"removed rule {_rule_text(priority, table, old)} (not ours any more)")
    if len(ours) == len(stale):
        ipr.rule("add", family=family, priority=priority, table=table, **match)
        done.append(f"rule {_rule_text(priority, table, match)}")
    return done


def _match_of(rule: Any) -> dict[str, Any]:
    """What a rule matches, as the keys ``_rule`` is given."""
    if rule.get("fwmark") is not None:
        return {"fwmark": rule.get("fwmark")}
    if rule.get("src") is not None:
        return {"src": rule.get("src"), "src_len": rule["src_len"]}
    return {}


def _rule_text(priority: int, table: int, match: dict[str, Any]) -> str:
    if "fwmark" in match:
        what = f"fwmark {match['fwmark']:#x}"
    elif "src" in match:
        what = f"from {match['src']}/{match['src_len']}"
    else:
        what = "all"
    return f"priority {priority} {what} lookup {table}"


def _route_key(route: Any, table: int, family: int) -> dict[str, Any]:
    key: dict[str, Any] = {"table": table, "family": family, "dst_len": route["dst_len"]}
    if route.get("priority") is not None:
        key["priority"] = route.get("priority")
    key["type"] = route["type"]
    return key


def _quiet(call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except Exception:  # already gone: removal is idempotent
        return


def _by_version(*addresses: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> dict[int, str]:
    return {a.version: str(a) for a in addresses if a is not None}


class _netlink:
    """IPRoute on the current namespace, mapped to RouteError when netlink is refused."""

    def __enter__(self) -> Any:
        from pyroute2 import IPRoute

        try:
            self.ipr = IPRoute()
        except OSError as exc:
            raise RouteError(f"cannot open netlink: {exc.strerror}") from exc
        return self.ipr

    def __exit__(self, *exc: object) -> None:
        self.ipr.close()
