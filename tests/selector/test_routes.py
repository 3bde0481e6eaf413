"""The route writer in a real namespace: the lab's branch router, with foreign routes."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderpath.agent.config import AgentConfig, load_config
from borderpath.core.topology import UplinkConfig
from borderpath.lab import netns
from borderpath.lab.agent_config import agent_config
from borderpath.lab.lab import Lab
from borderpath.selector import RouteChange, RouteWriter
from borderpath.selector.config import RoutesConfig

pytestmark = pytest.mark.lab

ROUTES = RoutesConfig()
FOREIGN_IN_OUR_TABLE = "198.19.99.0/24"
FOREIGN_TABLE = 7300


def lab_config(lab: Lab, directory: Path) -> AgentConfig:
    """The agent config the lab generates for its branch, loaded as the agent would."""
    path = directory / "agent.toml"
    path.write_text(agent_config(lab.status()), encoding="utf-8")
    return load_config(path)


def lan_leaves_by(lab: Lab, pop_index: int = 1) -> str:
    """The device the LAN host's traffic to a PoP's service leaves the branch by."""
    out = netns.run_in(
        lab.namespace("branch"),
        ["ip", "route", "get", f"198.19.{pop_index}.10", "from", "192.0.2.10", "iif", "lan"],
    )
    words = out.split()
    return words[words.index("dev") + 1]


def ip(lab: Lab, *argv: str) -> str:
    return netns.run(["ip", "-n", lab.namespace("branch"), *argv])


@pytest.fixture
def config(shared_lab: Lab, tmp_path: Path) -> AgentConfig:
    return lab_config(shared_lab, tmp_path)


@pytest.fixture
def branch(shared_lab: Lab, config: AgentConfig) -> Iterator[Lab]:
    """The shared lab's branch with foreign routes and a rule that must survive us."""
    ip(
        shared_lab,
        "route",
        "add",
        FOREIGN_IN_OUR_TABLE,
        "via",
        "100.64.1.1",
        "table",
        str(ROUTES.table),
    )
    ip(
        shared_lab,
        "route",
        "add",
        "198.19.1.0/24",
        "via",
        "100.64.2.1",
        "table",
        str(FOREIGN_TABLE),
    )
    ip(
        shared_lab,
        "rule",
        "add",
        "to",
        "198.19.98.0/24",
        "lookup",
        str(FOREIGN_TABLE),
        "priority",
        str(ROUTES.rule_priority),
    )
    try:
        yield shared_lab
    finally:
        with RouteWriter(
            ROUTES, config.uplinks, config.pops, shared_lab.namespace("branch")
        ) as writer:
            writer.apply(writer.flush_plan(), time.time_ns())
        ip(shared_lab, "rule", "del", "priority", str(ROUTES.rule_priority), "to", "198.19.98.0/24")
        ip(shared_lab, "route", "flush", "table", str(ROUTES.table))
        ip(shared_lab, "route", "flush", "table", str(FOREIGN_TABLE))


def writer_for(
    lab: Lab, config: AgentConfig, uplinks: list[UplinkConfig] | None = None
) -> RouteWriter:
    return RouteWriter(ROUTES, uplinks or config.uplinks, config.pops, lab.namespace("branch"))


def test_the_lan_follows_the_choice_and_flush_gives_it_back_to_main(
    branch: Lab, config: AgentConfig
) -> None:
    assert lan_leaves_by(branch) == "ct"  # the main table's default
    with writer_for(branch, config) as writer:
        plan = writer.plan({"hkg": (("cu", 1),)})
        assert [c.action for c in plan] == ["replace", "add-rule"]
        assert plan[0].describe(ROUTES) == (
            f"replace 198.19.1.0/24 via 100.64.2.1 dev cu table {ROUTES.table} proto {ROUTES.proto}"
        )
        result = writer.apply(plan, time.time_ns())
        assert result.failed_pops == [] and [e.kind for e in result.events] == ["route.replaced"]
        assert lan_leaves_by(branch) == "cu"
        writer.apply(writer.plan({"hkg": (("cm", 1),)}), time.time_ns())
        assert lan_leaves_by(branch) == "cm"
        assert lan_leaves_by(branch, pop_index=2) == "ct"  # nrt has no choice: untouched
        writer.apply(writer.flush_plan(), time.time_ns())
        assert lan_leaves_by(branch) == "ct"
    assert FOREIGN_IN_OUR_TABLE in ip(branch, "route", "show", "table", str(ROUTES.table))
    assert "198.19.1.0/24" in ip(branch, "route", "show", "table", str(FOREIGN_TABLE))
    assert "198.19.98.0/24" in ip(branch, "rule", "show")


def test_plan_changes_nothing_and_a_second_writer_reconciles_to_no_change(
    branch: Lab, config: AgentConfig
) -> None:
    with writer_for(branch, config) as writer:
        before = ip(branch, "route", "show", "table", str(ROUTES.table))
        writer.plan({"hkg": (("cu", 1),), "nrt": (("cm", 1),)})
        assert ip(branch, "route", "show", "table", str(ROUTES.table)) == before
        writer.apply(writer.plan({"hkg": (("cu", 1),), "nrt": (("cm", 1),)}), time.time_ns())
    with writer_for(branch, config) as restarted:
        installed = restarted.installed_choices()
        assert installed == {"hkg": (("cu", 1),), "nrt": (("cm", 1),)}
        assert restarted.plan(installed) == []
        # A PoP without a choice keeps its route: nothing is ever removed for lack of one.
        assert restarted.plan({}) == []


def test_balance_writes_a_weighted_multipath_route(branch: Lab, config: AgentConfig) -> None:
    with writer_for(branch, config) as writer:
        writer.apply(writer.plan({"hkg": (("ct", 4), ("cu", 2))}), time.time_ns())
        shown = ip(branch, "route", "show", "table", str(ROUTES.table), "198.19.1.0/24")
        assert "nexthop via 100.64.1.1 dev ct weight 4" in shown
        assert "nexthop via 100.64.2.1 dev cu weight 2" in shown
        assert writer.installed_choices()["hkg"] == (("ct", 4), ("cu", 2))


def test_a_refused_write_is_retried_reported_and_leaves_the_kernel_as_it_was(
    branch: Lab, config: AgentConfig
) -> None:
    broken = [
        u.model_copy(update={"interface": "nosuch"}) if u.name == "cm" else u
        for u in config.uplinks
    ]
    with writer_for(branch, config, broken) as writer:
        writer.apply(writer.plan({"hkg": (("cu", 1),)}), time.time_ns())
        result = writer.apply(writer.plan({"hkg": (("cm", 1),)}), time.time_ns())
        assert result.failed_pops == ["hkg"]
        failed = [e for e in result.events if e.kind == "route.failed"]
        assert failed and "nosuch" in failed[0].text
        assert writer.installed_choices()["hkg"] == (("cu", 1),)
        assert lan_leaves_by(branch) == "cu"


def test_a_foreign_route_on_a_steered_prefix_is_never_replaced(
    branch: Lab, config: AgentConfig
) -> None:
    foreign = "198.19.3.0/24"
    ip(branch, "route", "add", foreign, "via", "100.64.1.1", "table", str(ROUTES.table))
    with writer_for(branch, config) as writer:
        plan = writer.plan({"sin": (("cu", 1),)})
        assert plan[0] == RouteChange(
            "conflict",
            foreign,
            (("100.64.2.1", "cu", 1),),
            "a route of protocol 3 holds it in our table",
        )
        assert [c.action for c in plan] == ["conflict"]
        result = writer.apply(plan, time.time_ns())
        assert result.failed_pops == ["sin"]
        assert [e.kind for e in result.events] == ["route.failed"]
    shown = ip(branch, "route", "show", "table", str(ROUTES.table), foreign)
    assert "dev ct" in shown and "proto 211" not in shown
    assert f"to {foreign}" not in ip(branch, "rule", "show")
    ip(branch, "route", "del", foreign, "table", str(ROUTES.table))
