"""The real agent in the lab's branch steers the LAN host's traffic: it leaves a
blackholed uplink within the fail-fast bound, returns only after the failback delay,
leaves a 15 % brownout, and holds still on healthy paths with jitter and 0.5 % loss."""

import time

import pytest

from bench.selector_failover import (
    CALM,
    FAILBACK,
    HEALTHY_JITTER,
    leaves_by,
    prepare,
    restore,
    running_agent,
    settle_on,
    time_to_leave,
    wait_until,
)
from borderpath.core.durations import parse_duration
from borderpath.selector import SelectorConfig
from tests.conftest import LabFactory

pytestmark = pytest.mark.lab

DWELL = SelectorConfig().antiflap.min_dwell


def test_the_agent_fails_over_fails_back_and_holds_still(make_lab: LabFactory) -> None:
    lab = make_lab()
    prepare(lab)
    with running_agent(lab):
        settle_on(lab, "cu", timeout=60)

        left, moved = time_to_leave(lab, {"blackhole": True})
        assert left == "cu" and moved is not None and moved <= 2.0

        restored = time.monotonic()
        restore(lab, "cu")
        back = wait_until(lab, 90, lambda device: device == "cu")
        assert back is not None and back >= parse_duration(FAILBACK)

        time.sleep(DWELL + 1 - (time.monotonic() - restored - back))
        left, moved = time_to_leave(lab, {"loss": 0.15})
        assert left == "cu" and moved is not None and moved <= 10.0
        restore(lab, "cu")

        settle_on(lab, "cu", timeout=90)
        lab.apply([HEALTHY_JITTER])
        try:
            assert wait_until(lab, 20, lambda device: device != "cu") is None
        finally:
            lab.apply([CALM])
    assert leaves_by(lab) == "ct"  # routes flushed: back to the main table
