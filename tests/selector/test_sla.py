"""SLA classes: who speaks for a class, per-PoP limits, and the reasons a path fails."""

from collections.abc import Mapping

import numpy as np

from bench.synthetic import Event, Link
from borderpath.core.records import PathSnapshot
from borderpath.selector.config import SelectorConfig
from borderpath.selector.health import State
from borderpath.selector.sla import ClassTable, Verdict, explain, verdicts
from borderpath.selector.windows import Layout
from tests.selector.support import pop, scenario, simulate

LINKS = {"ct": Link(46, 2), "cu": Link(32, 2), "cm": Link(44, 2)}


def sla_of(snapshots: list[PathSnapshot], uplink: str) -> Mapping[str, bool]:
    return next(s.sla for s in snapshots if s.uplink == uplink)


def test_each_class_is_judged_by_its_own_protocols() -> None:
    # UDP loses 3 % on cu: voice (UDP) fails, interactive (TCP) and bulk do not.
    udp_lossy = Event(0, 1e9, "cu", "hkg", Link(32, 2, 0.03), protocol="udp")
    run = simulate(
        scenario(LINKS, udp_lossy), 120, pops=[pop(protocols=("icmp", "tcp", "udp"))], seed=3
    )
    assert sla_of(run.selector.snapshots(), "cu") == {
        "voice": False,
        "interactive": True,
        "bulk": True,
    }


def test_a_pop_probing_none_of_a_class_protocols_is_judged_by_what_it_probes() -> None:
    layout = Layout.of(["ct"], [("hkg", ["icmp"])])
    table = ClassTable.of(SelectorConfig(), layout)
    voice = table.names.index("voice")
    assert table.speaks[voice][0].tolist() == [True, False, False, False, False]


def test_per_pop_overrides_loosen_one_class_at_one_pop() -> None:
    far = {"ct": Link(280, 2), "cu": Link(190, 2), "cm": Link(300, 2)}
    config = SelectorConfig.model_validate(
        {"pops": {"hkg": {"sla": {"interactive": {"rtt_p95_ms": 320}}}}}
    )
    strict = simulate(scenario(far), 30)
    loose = simulate(scenario(far), 30, config=config)
    assert sla_of(strict.selector.snapshots(), "ct")["interactive"] is False
    assert sla_of(loose.selector.snapshots(), "ct")["interactive"] is True
    assert sla_of(loose.selector.snapshots(), "ct")["voice"] is False


def test_the_reason_names_the_figure_and_the_limit() -> None:
    selector = simulate(scenario({**LINKS, "ct": Link(300, 2)}), 30).selector
    seen = selector._last
    assert seen is not None
    interactive = selector.classes.names.index("interactive")
    path = selector.layout.path("ct", "hkg")
    assert seen.verdicts(interactive)[path] == Verdict.RTT
    reason = explain(
        Verdict.RTT, seen.figures(interactive), path, selector.classes.limits[interactive]
    )
    assert reason.startswith("RTT p95 30") and reason.endswith("above 250 ms")


def test_down_comes_before_every_other_reason() -> None:
    run = simulate(scenario(LINKS), 10)
    selector = run.selector
    seen = selector._last
    assert seen is not None
    state = np.full(selector.layout.paths, State.DOWN, dtype=np.int64)
    judged = verdicts(seen.figures(0), state, selector.classes.limits[0], 0.05, seen.peak)
    assert set(judged.tolist()) == {Verdict.DOWN}
