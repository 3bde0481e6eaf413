"""The Selector as a whole: its public names, config checks, snapshots, and the skip
of settled PoPs, which must never change a decision."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import borderpath.selector
from bench.synthetic import BLACKHOLE, Event, Link, probe_stream
from borderpath.core.errors import ConfigError
from borderpath.selector import Selector, SelectorConfig
from tests.selector.support import T0, pop, scenario, simulate, uplinks

LINKS = {"ct": Link(46, 2, 0.005), "cu": Link(32, 2, 0.005), "cm": Link(44, 2, 0.005)}


def test_the_public_names_are_pinned() -> None:
    assert sorted(borderpath.selector.__all__) == [
        "Decision",
        "ReplayReport",
        "RouteChange",
        "RouteWriter",
        "Selector",
        "SelectorConfig",
        "replay",
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"priority": ["zz"]}, "[selector] priority: no uplink named 'zz'"),
        ({"pops": {"zz": {}}}, "[selector.pops.zz]: there is no PoP named 'zz'"),
        ({"pops": {"hkg": {"priority": ["zz"]}}}, "[selector.pops.hkg] priority: no uplink"),
    ],
)
def test_names_that_are_not_in_the_config_are_one_clear_error(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Selector(SelectorConfig.model_validate(section), uplinks(), [pop()])


def test_snapshots_show_every_path_with_its_state_and_the_selected_one() -> None:
    run = simulate(scenario(LINKS, Event(30, 1e9, "cm", "hkg", BLACKHOLE)), 40)
    snapshots = {s.uplink: s for s in run.selector.snapshots()}
    assert snapshots["cu"].selected and not snapshots["ct"].selected
    assert snapshots["cm"].state == "down" and (snapshots["cm"].loss or 0) > 0.2
    assert snapshots["cu"].mos is not None and snapshots["cu"].mos > 4.3
    assert snapshots["cu"].sla == {"voice": True, "interactive": True, "bulk": True}


def test_snapshots_before_the_first_tick_leave_the_decisions_to_the_tick() -> None:
    # A restart: the kernel has hkg on cm, the stored results say cm is dark; the status
    # API asks for snapshots before the first tick. The move must come from the tick,
    # whose decisions are written to the kernel (found by kill -9 and a restart in the lab).
    selector = Selector(SelectorConfig(), uplinks(), [pop()])
    series = [(u, "hkg", proto) for u in ("ct", "cu", "cm") for proto in pop().protocols]
    conditions = scenario(LINKS, Event(20, 1e9, "cm", "hkg", BLACKHOLE))
    for _, batch in probe_stream(
        series, conditions, start=T0, duration=30, interval=0.2, timeout=0.5
    ):
        selector.ingest(batch)
    selector.adopt("hkg", (("cm", 1),), now=T0 + 30, reason="found in the kernel at start")
    assert {s.uplink: s.state for s in selector.snapshots(T0 + 30)}["cm"] == "down"
    assert selector.choices()["hkg"] == (("cm", 1),)
    decisions = selector.tick(T0 + 30)
    assert [(d.action, d.previous) for d in decisions] == [("failover", (("cm", 1),))]


def test_adopt_makes_the_kernel_s_route_the_current_choice() -> None:
    run = simulate(scenario(LINKS), 30)
    run.selector.adopt("hkg", (("cm", 1),), now=1e10, reason="found in the kernel")
    assert run.selector.choices()["hkg"] == (("cm", 1),)
    assert run.selector.reason("hkg") == "found in the kernel"


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 1000),
    cut=st.floats(20, 100),
    loss=st.floats(0, 0.2),
    strategy=st.sampled_from(["quality", "cheapest", "priority", "balance"]),
)
def test_skipping_settled_pops_never_changes_a_decision(
    seed: int, cut: float, loss: float, strategy: str
) -> None:
    events = (
        Event(cut, cut + 30, "cu", "hkg", BLACKHOLE),
        Event(cut + 40, 1e9, "ct", "hkg", Link(46, 2, loss)),
    )
    config = SelectorConfig.model_validate({"strategy": strategy})
    pops = [pop("hkg"), pop("nrt", index=2)]

    def decisions(skip: bool) -> list[tuple[int, str, tuple[tuple[str, int], ...]]]:
        selector = Selector(config, uplinks(), pops)
        selector.skip_settled = skip
        run = simulate(scenario(LINKS, *events), 200, seed=seed, selector=selector, pops=pops)
        return [(d.time_ns, d.pop, d.chosen) for d in run.decisions]

    assert decisions(skip=True) == decisions(skip=False)
