"""Alerts end to end: the real agent in a lab branch, real faults on the emulated border,
and a real webhook receiver inside the branch namespace. One lab and one agent serve
the whole module (each test restores the conditions it set and waits for quiet), with
hold and clear made short so the module runs in about two minutes."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from borderpath.lab.lab import Lab
from tests.agent.agent_process import AgentProcess, running_agent, write_config
from tests.agent.test_agent_lab import wait_for
from tests.alerts.receiver import Receiver, lab_with_receiver

pytestmark = pytest.mark.lab

HEALTHY_S = 60.0
"""A minute of healthy, jittery paths with 0.5 % loss: enough for every window and
hold time to have turned over several times (a longer run is bench.selector_failover's
five minutes of stability)."""

ALERTS = """
[alerts]
hold = "2s"
clear = "4s"
group_window = "1s"
retry_min = "200ms"
retry_max = "1s"
[alerts.down]
hold = "2s"
[alerts.interference]
window = "5s"
lost_in_row = 2  # quic every 5 s: two lost take 10 s, within the engine's 15 s of facts
[alerts.steering]
flap_switches = 8  # each test's fault moves PoPs away and back: they add up over the module
[[alerts.webhooks]]
url = "{url}"
format = "generic"
"""


class Border:
    def __init__(self, lab: Lab, agent: AgentProcess, receiver: Receiver) -> None:
        self.lab, self.agent, self.receiver = lab, agent, receiver

    def firing(self, status: str = "firing") -> list[dict[str, Any]]:
        """Alerts the receiver would get (info ones, route switches, stay in the agent)."""
        alerts: list[dict[str, Any]] = self.agent.get("/alerts").json()[status]
        return [alert for alert in alerts if alert["severity"] != "info"]

    def quiet(self) -> int:
        """Wait until nothing fires or is pending; how many alerts the receiver had then."""
        try:
            wait_for(lambda: not self.firing() and not self.firing("pending"), timeout=30, step=0.5)
        except AssertionError:
            raise AssertionError(f"never quiet: {self.agent.get('/alerts').text}") from None
        time.sleep(2)  # a last resolve may still be on its way (group_window)
        return len(self.receiver.alerts())

    def new_alerts(self, since: int, count: int, timeout: float) -> list[tuple[str, str]]:
        """(status, name) of the alerts received after the first ``since``."""
        alerts = self.receiver.wait_for(since + count, timeout)[since:]
        return [(alert["status"], alert["name"]) for alert in alerts]

    def told(self, since: int) -> list[str]:
        """What the alerts after the first ``since`` said (for a failing assertion)."""
        return [f"{a['status']} {a['summary']}" for a in self.receiver.alerts()[since:]]


@pytest.fixture(scope="module")
def border(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Border]:
    directory: Path = tmp_path_factory.mktemp("alerts")
    with lab_with_receiver() as (lab, receiver):
        config = write_config(lab, directory, ALERTS.format(url=receiver.url))
        with running_agent(lab, config, settle_s=5) as agent:  # first choices settle
            yield Border(lab, agent, receiver)


def test_healthy_jittery_paths_raise_no_alert(border: Border) -> None:
    before = border.quiet()
    assert before == 0, border.told(0)  # a healthy border at start: not one page
    border.lab.apply([{"uplink": "*", "pop": "*", "jitter_ms": 6.0, "loss": 0.005}])
    try:
        time.sleep(HEALTHY_S)
        assert border.firing() == []
    finally:
        border.lab.apply([{"uplink": "*", "pop": "*", "jitter_ms": 1.0, "loss": 0.0}])
    assert border.receiver.alerts()[before:] == []


def fires_then_resolves(
    border: Border, change: dict[str, Any], lift: dict[str, Any], name: str, count: int = 1
) -> list[dict[str, Any]]:
    """Apply ``change``: exactly ``count`` ``name`` alerts fire; lift it: each resolves,
    with its fingerprint, and nothing else arrives. The firing alerts as received."""
    before = border.quiet()
    border.lab.apply([change])
    try:
        fired = border.new_alerts(before, count, timeout=30)
        assert fired == [("firing", name)] * count, border.told(before)
    finally:
        border.lab.apply([{**change, **lift}])
    every = border.new_alerts(before, 2 * count, timeout=30)
    assert sorted(every) == [("firing", name)] * count + [("resolved", name)] * count, border.told(
        before
    )
    received = border.receiver.alerts()[before:]
    firing = [alert for alert in received if alert["status"] == "firing"]
    resolved = [alert for alert in received if alert["status"] == "resolved"]
    assert sorted(a["fingerprint"] for a in firing) == sorted(a["fingerprint"] for a in resolved)
    time.sleep(1)
    assert len(border.receiver.alerts()) == before + 2 * count
    return firing


def test_a_blackholed_path_fires_path_down_once_then_resolves_and_nothing_else(
    border: Border,
) -> None:
    change = {"uplink": "ct", "pop": "hkg", "blackhole": True}
    [alert] = fires_then_resolves(border, change, {"blackhole": False}, "path_down")
    assert alert["labels"] == {
        "site": border.agent.status()["site"],
        "scope": "path",
        "uplink": "ct",
        "carrier": "china-telecom",
        "pop": "hkg",
    }
    assert alert["summary"].startswith("Path ct -> hkg is down")


def test_a_pop_blackholed_on_every_uplink_is_one_pop_fault(border: Border) -> None:
    change = {"uplink": "*", "pop": "nrt", "blackhole": True}
    [alert] = fires_then_resolves(border, change, {"blackhole": False}, "pop_fault")
    assert alert["labels"]["pop"] == "nrt" and "uplink" not in alert["labels"]
    assert alert["paths"] == ["ct/nrt", "cu/nrt", "cm/nrt"]


def test_udp_blocked_on_one_uplink_is_interference_naming_the_uplink(border: Border) -> None:
    """UDP blocked takes QUIC with it: one alert per protocol, both for the uplink."""
    change = {"uplink": "cu", "pop": "*", "protocol": "udp", "blackhole": True}
    alerts = fires_then_resolves(border, change, {"blackhole": False}, "udp_interference", 2)
    assert sorted(alert["labels"]["protocol"] for alert in alerts) == ["quic", "udp"]
    for alert in alerts:
        assert alert["labels"]["uplink"] == "cu" and alert["labels"]["scope"] == "uplink"
        protocol = alert["labels"]["protocol"].upper()
        assert f"{protocol} interference on uplink cu" in alert["summary"]


def test_injected_resets_fire_tcp_resets_on_that_path(border: Border) -> None:
    change = {"uplink": "ct", "pop": "fra", "inject": "rst"}
    [alert] = fires_then_resolves(border, change, {"inject": "none"}, "tcp_resets")
    assert (alert["labels"]["uplink"], alert["labels"]["pop"]) == ("ct", "fra")
    assert alert["values"]["forged_resets"] >= 3


def test_the_command_lists_what_fires_in_the_running_agent(border: Border) -> None:
    border.quiet()
    change = {"uplink": "cm", "pop": "sin", "blackhole": True}
    border.lab.apply([change])
    try:
        wait_for(lambda: [a["name"] for a in border.firing()] == ["path_down"], timeout=20)
        argv = [sys.executable, "-m", "borderpath.agent.cli", "alerts", "--config"]
        done = subprocess.run(
            [*argv, str(border.agent.config)], capture_output=True, text=True, check=True
        )
    finally:
        border.lab.apply([{**change, "blackhole": False}])
    assert "firing   warning  path_down" in done.stdout
    assert "Path cm -> sin is down" in done.stdout


def test_a_receiver_down_gets_every_alert_in_order_once_when_back(border: Border) -> None:
    before = border.quiet()
    border.receiver.stop()
    change = {"uplink": "cm", "pop": "lax", "blackhole": True}
    try:
        border.lab.apply([change])
        wait_for(lambda: [a["name"] for a in border.firing()] == ["path_down"], timeout=20)
        border.lab.apply([{**change, "blackhole": False}])
        wait_for(lambda: not border.firing(), timeout=30)
        time.sleep(2)  # the dispatcher retries against a closed port meanwhile
    finally:
        border.lab.apply([{**change, "blackhole": False}])
        border.receiver.start()
    received = border.new_alerts(before, 2, timeout=10)
    assert received == [("firing", "path_down"), ("resolved", "path_down")]
    time.sleep(3)
    assert len(border.receiver.alerts()) == before + 2
