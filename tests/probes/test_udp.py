"""UDP echo: forged echoes, duplicates and the responder's refusal."""

from typing import Any

import pytest

from borderpath.core.results import ErrorKind
from borderpath.lab.lab import Lab
from borderpath.probes.udp import _Order
from tests.probes.conftest import fast_probing, probe_lab

PATH: dict[str, Any] = {"only_uplinks": {"ct"}, "only_pops": {"lax"}}


@pytest.mark.lab
def test_an_injector_copying_the_identifiers_is_told_apart_by_the_nonce(shared_lab: Lab) -> None:
    changes: list[dict[str, Any]] = [
        {"uplink": "ct", "pop": "lax", "inject": "echo"},
        {"uplink": "ct", "pop": "lax", "direction": "in", "protocol": "udp", "blackhole": True},
    ]
    shared_lab.apply(changes)
    try:
        results = probe_lab(
            shared_lab,
            ["udp"],
            rounds=3,
            probing=fast_probing(timeout=0.5),
            **PATH,
        )
    finally:
        shared_lab.apply([{**change, "inject": "none", "blackhole": False} for change in changes])
    assert [r.ok for r in results] == [False] * 3
    assert {r.error for r in results} == {ErrorKind.FORGED}


@pytest.mark.lab
def test_with_injection_the_genuine_echo_still_measures_the_path(shared_lab: Lab) -> None:
    shared_lab.apply([{"uplink": "ct", "pop": "lax", "inject": "echo"}])
    try:
        results = probe_lab(shared_lab, ["udp"], rounds=5, **PATH)
    finally:
        shared_lab.apply([{"uplink": "ct", "pop": "lax", "inject": "none"}])
    answered = [r for r in results if r.ok]
    assert answered and all(r.forged >= 1 for r in results)
    assert all(r.rtt_ms is not None and r.rtt_ms > 180 for r in answered)


def test_duplicates_and_reordering_are_told_apart() -> None:
    order = _Order()
    assert [order.remember(seq) for seq in (1, 3, 2, 4)] == [False, False, True, False]
    assert 2 in order.answered and 5 not in order.answered
