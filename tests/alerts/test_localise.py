"""Fault localisation, case by case: each case names the fault it must recognise."""

import pytest

from borderpath.alerts import localise

UPLINKS = ["ct", "cu", "cm"]
POPS = ["hkg", "nrt", "sin", "lax", "fra"]

CASES = {
    "one_path_is_a_path": ({("ct", "hkg")}, [("path", 1)]),
    "one_pop_on_every_uplink_is_a_pop_fault": ({(u, "nrt") for u in UPLINKS}, [("pop", 3)]),
    "one_uplink_to_every_pop_is_an_uplink_fault": ({("cm", p) for p in POPS}, [("uplink", 5)]),
    "two_uplinks_two_pops_each_is_border_wide": (
        {(u, p) for u in ("ct", "cu") for p in ("hkg", "sin")},
        [("border", 4)],
    ),
    "two_pop_faults_at_once_are_border_wide": (
        {(u, p) for u in UPLINKS for p in ("hkg", "fra")},
        [("border", 6)],
    ),
    "two_unrelated_paths_stay_two_paths": ({("ct", "hkg"), ("cu", "nrt")}, [("path", 1)] * 2),
    "a_pop_fault_and_one_more_path": (
        {(u, "hkg") for u in UPLINKS} | {("ct", "lax")},
        [("pop", 3), ("path", 1)],
    ),
    "an_uplink_short_of_one_pop_is_paths": (
        {("ct", p) for p in POPS[:4]},
        [("path", 1)] * 4,
    ),
    "nothing_is_nothing": (set(), []),
}


@pytest.mark.parametrize("case", CASES)
def test_localise(case: str) -> None:
    affected, expected = CASES[case]
    groups = localise(affected, UPLINKS, POPS)
    assert [(g.scope, len(g.paths)) for g in groups] == expected
    assert {path for g in groups for path in g.paths} == affected


def test_a_single_uplink_router_never_calls_a_dead_path_a_pop_fault() -> None:
    groups = localise({("ct", "hkg")}, ["ct"], POPS)
    assert [g.scope for g in groups] == ["path"]


def test_interference_on_two_pops_of_an_uplink_is_the_uplinks() -> None:
    affected = {("cu", "hkg"), ("cu", "lax"), ("ct", "sin")}
    groups = localise(affected, UPLINKS, POPS, uplink_pops=2)
    assert [(g.scope, g.paths) for g in groups] == [
        ("uplink", (("cu", "hkg"), ("cu", "lax"))),
        ("path", (("ct", "sin"),)),
    ]
