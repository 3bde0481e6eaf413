"""Probe plumbing: per-uplink tables with an unreachable guard, fwmark and source rules."""

import asyncio
import ipaddress
import time

import pytest

from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.core.topology import UplinkConfig
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing
from borderpath.probes.config import ProbingConfig
from tests.probes.conftest import fast_probing, lab_pops, lab_uplinks, probe_lab

UPLINKS = [
    UplinkConfig(name="a", carrier="x", interface="va", gateway="100.64.9.1", source="100.64.9.2"),
    UplinkConfig(name="b", carrier="y", interface="vb", gateway="100.64.10.1"),
]


def test_the_plan_is_one_table_and_two_rules_per_uplink() -> None:
    plan = Plumbing(UPLINKS, ProbingConfig()).plan()
    assert [(e["uplink"], e["table"], e["mark"], e["mark_priority"]) for e in plan] == [
        ("a", 4251, 0x4251, 1000),
        ("b", 4252, 0x4252, 1002),
    ]
    assert [e["source"] for e in plan] == ["100.64.9.2", None]


def _rules_and_routes(namespace: str) -> tuple[str, str]:
    rules = netns.run(["ip", "-n", namespace, "rule"])
    routes = netns.run(["ip", "-n", namespace, "route", "show", "table", "all"])
    return rules, routes


def _two_uplinks(namespace: str) -> None:
    netns.ip_batch(
        namespace,
        [
            "link add va type veth peer name pa",
            "link add vb type veth peer name pb",
            "addr add 100.64.9.2/30 dev va",
            "addr add 100.64.10.2/30 dev vb",
            *(f"link set {name} up" for name in ("va", "pa", "vb", "pb")),
        ],
    )


def test_apply_is_idempotent_and_remove_takes_back_everything(scratch_namespace: str) -> None:
    _two_uplinks(scratch_namespace)
    before = _rules_and_routes(scratch_namespace)
    plumbing = Plumbing(UPLINKS, ProbingConfig())
    with netns.entered(scratch_namespace):
        assert len(plumbing.apply()) == 7  # 2 routes and a rule each, a's source rule
        once = _rules_and_routes(scratch_namespace)
        assert plumbing.apply() == []
        assert _rules_and_routes(scratch_namespace) == once
        plumbing.remove()
        plumbing.remove()
    assert "fwmark 0x4251 lookup 4251" in once[0] and "from 100.64.9.2 lookup 4251" in once[0]
    assert "unreachable default table 4251 proto 249 metric 4278198272" in once[1]
    assert _rules_and_routes(scratch_namespace) == before


def test_apply_again_repairs_what_was_deleted_or_changed_by_hand(scratch_namespace: str) -> None:
    _two_uplinks(scratch_namespace)
    with netns.entered(scratch_namespace):
        Plumbing(UPLINKS, ProbingConfig()).apply()
        installed = _rules_and_routes(scratch_namespace)
        netns.ip_batch(
            scratch_namespace,
            [
                "route del default table 4252 proto 249 via 100.64.10.1",
                "rule del priority 1001 from 100.64.9.2 lookup 4251",
            ],
        )
        repaired = Plumbing(UPLINKS, ProbingConfig()).apply()
        assert repaired == [
            "rule priority 1001 from 100.64.9.2/32 lookup 4251",
            "default via 100.64.10.1 dev vb table 4252",
        ]
        assert _rules_and_routes(scratch_namespace) == installed
        # The uplink's source and the marks change (a reload): the rules follow.
        moved = [
            UPLINKS[0].model_copy(update={"source": ipaddress.ip_address("100.64.9.3")}),
            UPLINKS[1],
        ]
        netns.run(["ip", "-n", scratch_namespace, "addr", "add", "100.64.9.3/30", "dev", "va"])
        repaired = Plumbing(moved, ProbingConfig(fwmark_base=0x5250)).apply()
        rules = netns.run(["ip", "-n", scratch_namespace, "rule"])
    assert "removed rule priority 1001 from 100.64.9.2/32 lookup 4251 (not ours any more)" in (
        repaired
    )
    assert "from 100.64.9.3 lookup 4251" in rules and "100.64.9.2" not in rules
    assert "fwmark 0x5251 lookup 4251" in rules and "fwmark 0x4251" not in rules
    assert "fwmark 0x5252 lookup 4252" in rules and "fwmark 0x4252" not in rules


def _counters(lab: Lab, uplink: str, pop: str) -> int:
    time.sleep(0.6)  # the lab refreshes its counters every half second
    return sum(
        row["passed"]
        for row in lab.status()["counters"]
        if (row["uplink"], row["pop"], row["direction"]) == (uplink, pop, "out")
    )


@pytest.mark.lab
def test_probes_leave_by_their_uplink_whatever_the_main_table_says(shared_lab: Lab) -> None:
    # The lab's main table sends everything out of ct; the cm probes must not follow it.
    before = {uplink: _counters(shared_lab, uplink, "nrt") for uplink in ("ct", "cm")}
    results = probe_lab(
        shared_lab,
        ["icmp", "tcp", "udp", "http"],
        rounds=3,
        only_uplinks={"cm"},
        only_pops={"nrt"},
    )
    # cm/nrt loses about 1 % each way: every protocol answers, not necessarily every probe.
    assert {r.protocol for r in results if r.ok} == {"icmp", "tcp", "udp", "http"}
    assert _counters(shared_lab, "cm", "nrt") - before["cm"] >= 12
    assert _counters(shared_lab, "ct", "nrt") == before["ct"]


@pytest.mark.lab
def test_a_dead_uplink_fails_its_probes_instead_of_leaking(shared_lab: Lab) -> None:
    uplinks = lab_uplinks(shared_lab)
    pops = [p for p in lab_pops(shared_lab, ["icmp", "tcp", "udp", "http"])]
    probing = fast_probing(timeout=0.5)
    plumbing = Plumbing(uplinks, probing)
    results: list[ProbeResult] = []
    before = _counters(shared_lab, "ct", "hkg")

    async def main() -> None:
        engine = Engine(
            uplinks,
            pops,
            probing,
            results.extend,
            rounds=2,
            only_uplinks={"cu"},
            only_pops={"hkg"},
        )
        await engine.start()
        await engine.finished()
        await engine.stop()

    branch = shared_lab.namespace("branch")
    with netns.entered(branch):
        plumbing.apply()
        try:
            # The uplink's own route goes (its gateway is lost): only the guard is left.
            netns.run(
                [
                    "ip",
                    "-n",
                    branch,
                    "route",
                    "del",
                    "default",
                    "table",
                    "4252",
                    "proto",
                    "249",
                    "via",
                    "100.64.2.1",
                ]
            )
            asyncio.run(main())
        finally:
            plumbing.remove()
    assert len(results) == 8
    assert {(r.protocol, r.error) for r in results} == {
        (p, ErrorKind.UNREACHABLE) for p in ("icmp", "tcp", "udp", "http")
    }
    assert _counters(shared_lab, "ct", "hkg") == before


def test_ipv6_uplinks_get_their_own_table_and_rules(scratch_namespace: str) -> None:
    netns.ip_batch(
        scratch_namespace,
        [
            "link add va type veth peer name pa",
            "addr add 2001:db8:9::2/64 dev va nodad",
            "link set va up",
            "link set pa up",
        ],
    )
    uplink = UplinkConfig(
        name="a", carrier="x", interface="va", gateway="2001:db8:9::1", source6="2001:db8:9::2"
    )
    plumbing = Plumbing([uplink], ProbingConfig())
    with netns.entered(scratch_namespace):
        plumbing.apply()
        rules = netns.run(["ip", "-6", "-n", scratch_namespace, "rule"])
        routes = netns.run(["ip", "-6", "-n", scratch_namespace, "route", "show", "table", "4251"])
        plumbing.remove()
        after = netns.run(["ip", "-6", "-n", scratch_namespace, "rule"])
    assert "fwmark 0x4251 lookup 4251" in rules and "from 2001:db8:9::2 lookup 4251" in rules
    assert "default via 2001:db8:9::1 dev va" in routes and "unreachable default" in routes
    assert "4251" not in after
