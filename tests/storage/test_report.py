"""``borderpath query series|paths|events``: tables and JSON lines from the store."""

import json
import time
from pathlib import Path

import pytest

from borderpath.agent.cli import main
from borderpath.core.results import ProbeResult
from borderpath.storage import Store
from tests.storage.conftest import sample_event, sample_snapshot

CONFIG = """
[agent]
site = "shanghai"
data_dir = "{data_dir}"

[[uplinks]]
name = "ct"
carrier = "china-telecom"
interface = "ct0"
gateway = "100.64.1.1"

[[pops]]
name = "hkg"
region = "HK"
address = "203.0.113.10"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    now = time.time_ns()
    store = Store.open(tmp_path / "borderpath.db", site="shanghai")
    store.write_results(
        [ProbeResult(now - i * 10**9, "ct", "hkg", "icmp", i != 2, 40.0 + i) for i in range(4)]
        + [ProbeResult(now - 7200 * 10**9, "ct", "hkg", "tcp", True, 50.0)]
    )
    store.add_snapshots([sample_snapshot(now)])
    store.add_events([sample_event(now)])
    store.housekeeping()
    store.close()
    path = tmp_path / "agent.toml"
    path.write_text(CONFIG.format(data_dir=tmp_path))
    return path


def test_series_table(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "series", "--config", str(config_file)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["uplink", "pop", "protocol", "sent", "received"]
    assert row.split()[:6] == ["ct", "hkg", "icmp", "4", "3", "25.0%"]


def test_long_windows_come_from_the_minute_rollups(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["query", "series", "--config", str(config_file), "--since", "1d", "--json"])
    [tcp] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (tcp["protocol"], tcp["sent"], tcp["rtt_p50_ms"]) == ("tcp", 1, 50.0)


def test_paths_as_json_lines_with_the_selector_state(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "paths", "--config", str(config_file), "--since", "3h", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    path = json.loads(line)
    assert (path["sent"], path["state"], path["selected"]) == (5, "degraded", True)


def test_events_filtered_by_uplink(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["query", "events", "--config", str(config_file), "--uplink", "cu"])
    lines = capsys.readouterr().out.splitlines()
    assert "decision" in lines[1] and "hkg: ct -> cu" in lines[1]
    main(["query", "events", "--config", str(config_file), "--uplink", "cm"])
    assert capsys.readouterr().out.strip() == "no events in this time range"


def test_mistakes_are_one_line(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "series", "--config", str(config_file), "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err
    (tmp_path / "borderpath.db").rename(tmp_path / "moved.db")
    assert main(["query", "series", "--config", str(config_file)]) == 3
    err = capsys.readouterr().err
    assert "no such database" in err and len(err.splitlines()) == 1
