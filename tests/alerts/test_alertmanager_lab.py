"""Alerts through a real Alertmanager: the real agent in a lab branch posts to an
Alertmanager on the branch's loopback, which notifies a webhook receiver there.
Resends every second with endsAt four seconds ahead stand in for the defaults' minute
and four minutes, so that a dead agent's alerts expire in seconds."""

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from borderpath.lab import netns
from borderpath.lab.agent_config import borderpath_argv
from borderpath.lab.lab import Lab
from tests import ecosystem
from tests.agent.agent_process import AgentProcess, running_agent, write_config
from tests.alerts.receiver import Receiver, lab_with_receiver

pytestmark = pytest.mark.lab

ALERTS = """
[alerts]
hold = "2s"
clear = "3s"
group_window = "500ms"
retry_min = "200ms"
retry_max = "1s"
alertmanager_resend = "1s"
generator_url = "http://grafana.test/d/borderpath-path-detail/?var-uplink={{uplink}}&var-pop={{pop}}"
[alerts.down]
hold = "2s"
[[alerts.webhooks]]
url = "http://127.0.0.1:{port}/api/v2/alerts"
format = "alertmanager"
"""
ALERTMANAGER = """
route:
  receiver: hook
  group_by: [site, scope]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: hook
    webhook_configs:
      - url: "{url}"
        send_resolved: true
"""
Notification = dict[str, Any]
"""Alertmanager's webhook body: status, groupLabels, alerts, ..."""


class Noc:
    def __init__(self, lab: Lab, agent: AgentProcess, receiver: Receiver) -> None:
        self.lab, self.agent, self.receiver = lab, agent, receiver

    def notifications(self) -> list[Notification]:
        return [body for _, _, body in list(self.receiver.bodies)]

    def wait_for(self, wanted: Callable[[Notification], bool], timeout: float) -> Notification:
        """The first notification (from now on) that is ``wanted``."""
        seen = len(self.notifications())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in self.notifications()[seen:]:
                if wanted(body):
                    return body
            time.sleep(0.1)
        raise AssertionError(f"not within {timeout} s: {self.notifications()[seen:]}")


def group(body: Notification, scope: str, status: str, names: list[str]) -> bool:
    alertnames = sorted(alert["labels"]["alertname"] for alert in body["alerts"])
    return (
        body["groupLabels"].get("scope") == scope
        and body["status"] == status
        and all(alert["status"] == status for alert in body["alerts"])
        and alertnames == names
    )


@pytest.fixture(scope="module")
def noc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Noc]:
    directory: Path = tmp_path_factory.mktemp("alertmanager")
    with lab_with_receiver() as (lab, receiver):
        branch = lab.namespace("branch")
        port = ecosystem.free_port(branch)
        (directory / "alertmanager.yml").write_text(ALERTMANAGER.format(url=receiver.url))
        argv = [
            "prometheus-alertmanager",
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one Alertmanager: no gossip port
        ]
        config = write_config(lab, directory, ALERTS.format(port=port))
        with (
            ecosystem.running(branch, argv, port, directory / "alertmanager.log"),
            running_agent(lab, config, settle_s=3) as agent,
        ):
            yield Noc(lab, agent, receiver)


def test_the_test_alert_is_notified_then_resolves_by_itself(noc: Noc) -> None:
    argv = borderpath_argv("alerts", "test", "--config", str(noc.agent.config))
    done = subprocess.run(
        netns.exec_argv(noc.lab.namespace("branch"), argv),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith(
        "ok (alertmanager): notified after its group_wait, resolved by itself in 4s\n"
    )
    fired = noc.wait_for(lambda b: group(b, "agent", "firing", ["borderpath_test"]), 10)
    assert fired["groupLabels"] == {"site": fired["commonLabels"]["site"], "scope": "agent"}
    noc.wait_for(lambda b: group(b, "agent", "resolved", ["borderpath_test"]), 15)


def test_path_alerts_fire_are_resent_and_resolve_grouped_by_site_and_scope(noc: Noc) -> None:
    faults = [
        {"uplink": "ct", "pop": "hkg", "blackhole": True},
        {"uplink": "cm", "pop": "sin", "blackhole": True},
    ]
    both = ["path_down", "path_down"]
    noc.lab.apply(faults)
    try:
        fired = noc.wait_for(lambda b: group(b, "path", "firing", both), 30)
        links = sorted(alert["generatorURL"] for alert in fired["alerts"])
        assert links == [
            "http://grafana.test/d/borderpath-path-detail/?var-uplink=cm&var-pop=sin",
            "http://grafana.test/d/borderpath-path-detail/?var-uplink=ct&var-pop=hkg",
        ]
        started = sorted(alert["startsAt"] for alert in fired["alerts"])
        seen = len(noc.notifications())
        time.sleep(8)  # twice the first endsAt: only the resends keep the alerts up
        later = [b for b in noc.notifications()[seen:] if b["groupLabels"]["scope"] == "path"]
        assert later and all(group(b, "path", "firing", both) for b in later), later
        assert sorted(alert["startsAt"] for alert in later[-1]["alerts"]) == started
    finally:
        noc.lab.apply([{**fault, "blackhole": False} for fault in faults])
    noc.wait_for(lambda b: group(b, "path", "resolved", both), 20)


def test_a_dead_agents_alerts_expire_within_four_resends(noc: Noc) -> None:
    fault = {"uplink": "cu", "pop": "lax", "blackhole": True}
    noc.lab.apply([fault])
    try:
        noc.wait_for(lambda b: group(b, "path", "firing", ["path_down"]), 30)
        noc.agent.stop(signal.SIGKILL)
        killed = time.monotonic()
        noc.wait_for(lambda b: group(b, "path", "resolved", ["path_down"]), 20)
        assert time.monotonic() - killed < 10  # endsAt 4 s ahead, then group_interval
    finally:
        noc.lab.apply([{**fault, "blackhole": False}])
