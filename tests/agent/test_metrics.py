"""/metrics of a real selector fed a fake border: promtool accepts it, every name is in
docs/noc.md, and the state metric has exactly one 1 per path."""

import re
import subprocess
from pathlib import Path

import pytest

from borderpath.agent.config import AgentConfig, AgentSection
from borderpath.agent.metrics import render
from borderpath.agent.service import Agent
from borderpath.selector import Selector
from tests.alerts.synthetic import POPS, START, UPLINKS, blackhole, results

NOC = (Path(__file__).resolve().parents[2] / "docs" / "noc.md").read_text(encoding="utf-8")
SAMPLE = re.compile(r"^(\w+)\{?(.*?)\}? (\S+)$")


@pytest.fixture(scope="module")
def exposition() -> str:
    config = AgentConfig(agent=AgentSection(site="sha-1"), uplinks=UPLINKS, pops=POPS)
    agent = Agent(config)
    agent.selector = Selector(config.selector, config.uplinks, config.pops)
    agent.selector.ingest(results(START, START + 30, blackhole("cu", "nrt")))
    agent.selector.tick(START + 30)
    agent.counters = {"shipped_influxdb": 120, "dead_influxdb": 2, "dropped_spool_results": 7}
    content_type, body = render(agent)
    assert content_type.startswith("text/plain")
    return body.decode()


def samples(text: str, name: str) -> list[tuple[str, float]]:
    found = [SAMPLE.match(line) for line in text.splitlines() if line.startswith(name + "{")]
    return [(m.group(2), float(m.group(3))) for m in found if m and m.group(1) == name]


def test_promtool_finds_nothing_to_say(exposition: str) -> None:
    done = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_every_metric_is_in_the_noc_doc(exposition: str) -> None:
    names = re.findall(r"^# TYPE (\w+) ", exposition, flags=re.MULTILINE)
    assert "borderpath_build_info" in names and "process_start_time_seconds" in names
    missing = [name for name in names if f"`{name}`" not in NOC and f"`{name}," not in NOC]
    assert missing == []


def test_state_is_one_series_per_path_and_up_is_zero_only_when_down(exposition: str) -> None:
    ones = [labels for labels, value in samples(exposition, "borderpath_path_state") if value == 1]
    assert len(ones) == len(UPLINKS) * len(POPS)
    assert 'carrier="china-unicom",pop="nrt",state="down",uplink="cu"' in ones
    down = [labels for labels, value in samples(exposition, "borderpath_path_up") if value == 0]
    assert down == ['carrier="china-unicom",pop="nrt",uplink="cu"']


def test_times_are_seconds_and_counters_come_from_the_store(exposition: str) -> None:
    rtts = [value for _, value in samples(exposition, "borderpath_path_rtt_p50_seconds")]
    assert rtts and all(0.03 < rtt < 0.05 for rtt in rtts)  # the fake border's 40 ms
    assert samples(exposition, "borderpath_export_points_total") == [('sink="influxdb"', 120.0)]
    assert samples(exposition, "borderpath_storage_dropped_rows_total") == [
        ('reason="spool",table="results"', 7.0)
    ]
