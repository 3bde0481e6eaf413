"""Supervision with the real agent in the lab: one receiver whose POST raises out of
httpx (a Content-Length header of its own makes h11 raise its own exception) fails
alone, is restarted with backoff, told once, counted and alerted on through the other
receiver, while the agent goes on probing and steering."""

import contextlib
import signal
from pathlib import Path

import pytest

from borderpath.storage import Store
from tests.agent.agent_process import AgentProcess, lan_uplink, write_config
from tests.agent.test_agent_lab import wait_for
from tests.alerts.receiver import lab_with_receiver

pytestmark = pytest.mark.lab

ALERTS = """
[alerts]
group_window = "500ms"
[[alerts.webhooks]]
name = "good"
url = "{url}"
[[alerts.webhooks]]
name = "broken"
url = "{url}"
headers = {{ Content-Length = "1" }}
"""


def test_a_part_that_raises_is_restarted_alone_and_the_agent_goes_on_steering(
    tmp_path: Path,
) -> None:
    with lab_with_receiver() as (lab, receiver):
        config = write_config(lab, tmp_path, ALERTS.format(url=receiver.url))
        agent = AgentProcess(lab, config)
        try:
            start_uplink = lan_uplink(lab, "hkg")
            wait_for(lambda: len(agent.status()["pops"]) == 5, timeout=15)
            # Notices come from the first fault: a blackhole the agent must steer around.
            lab.apply([{"uplink": start_uplink, "pop": "hkg", "blackhole": True}])
            wait_for(lambda: lan_uplink(lab, "hkg") != start_uplink, timeout=10)
            wait_for(lambda: "receiver broken" in agent.status()["parts"]["failing"], 30)
            health = agent.get("/healthz")
            assert health.status_code == 503 and "failing: receiver broken: " in health.text
            wait_for(lambda: any(a["name"] == "agent_part_failing" for a in receiver.alerts()), 30)
            part_alert = next(a for a in receiver.alerts() if a["name"] == "agent_part_failing")
            assert part_alert["labels"]["part"] == "receiver broken"
            metrics = agent.get("/metrics").text
            assert 'borderpath_part_failures_total{part="receiver broken"} ' in metrics
            assert 'borderpath_part_failures_total{part="receiver good"}' not in metrics
            # Still steering: hkg moves again when the uplink it took goes dark too.
            taken = lan_uplink(lab, "hkg")
            lab.apply(
                [{"uplink": up, "pop": "hkg", "blackhole": True} for up in (start_uplink, taken)]
            )
            wait_for(lambda: lan_uplink(lab, "hkg") not in (start_uplink, taken), timeout=10)
            assert agent.stop() == 0
        finally:
            agent.stop(signal.SIGKILL)
    output = agent.output()
    assert output.count("part receiver broken failed (LocalProtocolError: ") == 1
    assert "Traceback" not in output
    with contextlib.closing(Store.open_read_only(tmp_path / "data" / "borderpath.db")) as store:
        failed = [e for e in store.query_events(0) if e.kind == "agent.part_failed"]
    assert [e.labels["part"] for e in failed] == ["receiver broken"]
