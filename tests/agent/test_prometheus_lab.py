"""The real agent's /metrics with the real tools: promtool checks it, and a real
Prometheus on the branch's loopback scrapes it and answers PromQL over it."""

import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from borderpath.agent.metrics import STATES
from tests import ecosystem
from tests.agent.agent_process import AgentProcess, write_config
from tests.agent.test_agent_lab import all_steered, wait_for
from tests.conftest import LabFactory

pytestmark = pytest.mark.lab

PROMETHEUS = """
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: borderpath
    static_configs:
      - targets: ["127.0.0.1:{port}"]
        labels: {{site: lab}}
"""


def query(namespace: str, port: int, promql: str) -> list[dict[str, Any]]:
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = ecosystem.get_json(namespace, port, path)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_promtool_passes_and_prometheus_sees_one_state_per_path(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    branch = lab.namespace("branch")
    agent_port = ecosystem.free_port(branch)
    agent = AgentProcess(lab, write_config(lab, tmp_path, port=agent_port), port=agent_port)
    try:
        wait_for(lambda: all_steered(agent), timeout=10)
        exposition = agent.get("/metrics").text
        checked = subprocess.run(
            ["promtool", "check", "metrics"],
            input=exposition,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")

        config = tmp_path / "prometheus.yml"
        config.write_text(PROMETHEUS.format(port=agent_port))
        port = ecosystem.free_port(branch)
        argv = [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with ecosystem.running(branch, argv, port, tmp_path / "prometheus.log"):
            wait_for(lambda: len(query(branch, port, "borderpath_path_state == 1")) == 15, 30)
            states = query(branch, port, "borderpath_path_state == 1")
            paths = {(s["metric"]["uplink"], s["metric"]["pop"]) for s in states}
            assert len(paths) == 15
            assert {s["metric"]["state"] for s in states} <= set(STATES)
            assert {s["metric"]["site"] for s in states} == {"lab"}
            assert len(query(branch, port, "borderpath_path_up == 1")) == 15
            [target] = query(branch, port, 'up{job="borderpath"}')
            assert target["value"][1] == "1"
            rate = "sum(rate(borderpath_probes_sent_total[5s])) > 100"
            wait_for(lambda: bool(query(branch, port, rate)), 10)  # 15 paths x 3 x 5/s
    finally:
        assert agent.stop() == 0
