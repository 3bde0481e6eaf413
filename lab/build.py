"""Build and remove a lab's namespaces, links, addresses and routes.

    lan ── branch ──┬── ct (carrier) ──┐        each carrier links to each PoP through
                    ├── cu (carrier) ──┼─ border ─ hkg, nrt, sin, lax, fra
                    └── cm (carrier) ──┘        the border namespace's wires

The border namespace holds two unaddressed veth ends per path, which the impairment
engine bridges; nothing else runs there.
"""

from borderpath.lab import netns
from borderpath.lab.topology import LAN_HOST, LAN_PREFIX, LAN_ROUTER, LabPlan, PathPlan

BRANCH_NAT = """
table ip borderpath_lab {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname {{ {uplinks} }} masquerade
    }}
}}
"""

SOURCE_TABLE_BASE = 200
SOURCE_RULE_BASE = 20000
"""Like any multi-WAN router, the branch answers from an uplink's address via that uplink."""

_ROUTER_SYSCTLS = ["net.ipv4.ip_forward=1"]
_COMMON_SYSCTLS = ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]
_OFFLOADS_OFF = ["tx", "off", "tso", "off", "gso", "off", "gro", "off"]


def build(plan: LabPlan) -> None:
    """Create everything; the caller removes a half-built lab with ``teardown``."""
    for namespace in plan.namespaces:
        netns.add(namespace)
    _links(plan)
    _branch(plan)
    _lan(plan)
    for uplink in plan.uplinks:
        _carrier(plan, uplink.name)
    for pop in plan.pops:
        _pop(plan, pop.name)
    _border(plan)


def teardown(name: str) -> None:
    """Remove every namespace of lab ``name`` (and so its links and processes)."""
    prefix = f"{name}-"
    for namespace in netns.existing():
        if namespace.startswith(prefix) and "-" not in namespace[len(prefix) :]:
            netns.delete(namespace)


def _links(plan: LabPlan) -> None:
    netns.ip_batch(
        plan.branch,
        [f"link add lan type veth peer name eth0 netns {plan.lan}"]
        + [
            f"link add {u.interface} type veth peer name branch netns {u.namespace}"
            for u in plan.uplinks
        ],
    )
    netns.ip_batch(
        plan.border,
        [
            line
            for path in plan.paths
            for line in (
                _veth(path.wire_carrier, path.pop.name, path.uplink.namespace),
                _veth(path.wire_pop, path.uplink.name, path.pop.namespace),
            )
        ],
    )


def _veth(name: str, peer: str, peer_namespace: str) -> str:
    return f"link add {name} type veth peer name {peer} netns {peer_namespace}"


def _branch(plan: LabPlan) -> None:
    commands = [f"addr add {LAN_ROUTER}/{LAN_PREFIX.prefixlen} dev lan", "link set lan up"]
    for index, uplink in enumerate(plan.uplinks, start=1):
        table = SOURCE_TABLE_BASE + index
        commands += [
            f"addr add {uplink.address} dev {uplink.interface}",
            f"link set {uplink.interface} up",
            f"route add default via {uplink.gateway} dev {uplink.interface} table {table}",
            f"rule add from {uplink.address.ip} lookup {table} priority {SOURCE_RULE_BASE + index}",
        ]
    commands.append(f"route add default via {plan.uplinks[0].gateway}")
    netns.ip_batch(plan.branch, commands)
    _sysctl(plan.branch, _COMMON_SYSCTLS + _ROUTER_SYSCTLS)
    interfaces = ", ".join(f'"{u.interface}"' for u in plan.uplinks)
    netns.run(
        netns.exec_argv(plan.branch, ["nft", "-f", "-"]),
        stdin=BRANCH_NAT.format(uplinks=interfaces),
    )


def _lan(plan: LabPlan) -> None:
    netns.ip_batch(
        plan.lan,
        [
            f"addr add {LAN_HOST}/{LAN_PREFIX.prefixlen} dev eth0",
            "link set eth0 up",
            f"route add default via {LAN_ROUTER}",
        ],
    )


def _carrier(plan: LabPlan, uplink_name: str) -> None:
    uplink = plan.uplink(uplink_name)
    commands = [
        f"addr add {uplink.gateway}/{uplink.address.network.prefixlen} dev branch",
        "link set branch up",
    ]
    for path in _paths(plan, uplink=uplink_name):
        device = path.pop.name
        commands += [
            f"addr add {path.carrier_address} dev {device}",
            f"link set {device} up",
            f"route add {path.pop.probe_address}/32 via {path.pop_address.ip} dev {device}",
            f"route add {path.pop.prefix} via {path.pop_address.ip} dev {device}",
        ]
    netns.ip_batch(uplink.namespace, commands)
    _sysctl(uplink.namespace, _COMMON_SYSCTLS + _ROUTER_SYSCTLS)
    _offloads_off(uplink.namespace, [path.pop.name for path in _paths(plan, uplink=uplink_name)])


def _pop(plan: LabPlan, pop_name: str) -> None:
    pop = plan.pop(pop_name)
    commands = [
        f"addr add {pop.probe_address}/32 dev lo",
        f"addr add {pop.service_address}/32 dev lo",
    ]
    for path in _paths(plan, pop=pop_name):
        device = path.uplink.name
        commands += [
            f"addr add {path.pop_address} dev {device}",
            f"link set {device} up",
            f"route add {path.uplink.address.network} via {path.carrier_address.ip} dev {device}",
        ]
    netns.ip_batch(pop.namespace, commands)
    _sysctl(pop.namespace, _COMMON_SYSCTLS)
    _offloads_off(pop.namespace, [path.uplink.name for path in _paths(plan, pop=pop_name)])


def _border(plan: LabPlan) -> None:
    wires = [name for path in plan.paths for name in (path.wire_carrier, path.wire_pop)]
    _sysctl(
        plan.border, ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
    )
    netns.ip_batch(plan.border, [f"link set {wire} up" for wire in wires])
    _offloads_off(plan.border, wires)


def _paths(plan: LabPlan, *, uplink: str | None = None, pop: str | None = None) -> list[PathPlan]:
    return [
        path
        for path in plan.paths
        if uplink in (None, path.uplink.name) and pop in (None, path.pop.name)
    ]


def _sysctl(namespace: str, settings: list[str]) -> None:
    netns.run_in(namespace, ["sysctl", "-q", "-w", *settings])


def _offloads_off(namespace: str, interfaces: list[str]) -> None:
    """Frames must cross the user-space wire whole and with real checksums."""
    script = " && ".join(f"ethtool -K {name} {' '.join(_OFFLOADS_OFF)}" for name in interfaces)
    netns.run_in(namespace, ["sh", "-c", script])
