"""The anchors' defaults as selector configurations behave like the systems they copy."""

import pytest

from bench.anchors import ANCHORS
from bench.synthetic import BLACKHOLE, Link, probe_stream
from borderpath.selector import Selector
from tests.selector.support import T0, pop, uplinks

LINKS = {"ct": Link(46, 2), "cu": Link(32, 2), "cm": Link(44, 2)}
ACTED_ON_AFTER = {"fortigate": (2.5, 3.5), "dpinger": (12, 16), "mwan3": (50, 64)}
"""docs/border.md: FortiGate 5 x 500 ms, dpinger about 15 s, mwan3 about 60 s."""


def first_move(name: str, link: Link, at: float, horizon: float) -> float | None:
    anchor = ANCHORS[name]
    selector = Selector(anchor.config, uplinks(), [pop()])
    active: list[str] = []

    def conditions(uplink: str, _pop: str, _protocol: str, t: float) -> Link:
        # The event hits whichever uplink carries the traffic when it starts.
        if t >= at and not active:
            active.append(selector.choices()["hkg"][0][0])
        return link if active and uplink == active[0] else LINKS[uplink]

    stream = probe_stream(
        [(u, "hkg", "icmp") for u in LINKS],
        conditions,
        start=T0,
        duration=at + horizon,
        interval=anchor.interval,
        timeout=anchor.timeout,
    )
    for now, batch in stream:
        selector.ingest(batch)
        if any(d.action != "initial" for d in selector.tick(now)):
            return now - T0 - at
    return None


@pytest.mark.parametrize("name", sorted(ACTED_ON_AFTER))
def test_a_blackhole_is_acted_on_after_the_anchor_s_documented_time(name: str) -> None:
    low, high = ACTED_ON_AFTER[name]
    moved = first_move(name, BLACKHOLE, at=300, horizon=90)
    assert moved is not None and low <= moved <= high


@pytest.mark.parametrize("name", ["mwan3", "fortigate"])
def test_loss_blind_anchors_never_leave_a_15_percent_brownout(name: str) -> None:
    assert first_move(name, Link(32, 2, 0.15), at=300, horizon=120) is None
