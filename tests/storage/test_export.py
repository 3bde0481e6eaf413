"""The outbox against a real influxd: every point read back, outages, crashes, dead letters."""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from borderpath.agent.cli import main
from borderpath.storage import AsyncStore, Exporter, InfluxConfig, StorageConfig, Store
from tests.influxd import InfluxServer
from tests.storage.conftest import START_NS, sample_event, sample_results, sample_snapshot
from tests.storage.test_report import CONFIG
from tests.storage.v2endpoint import V2Endpoint

pytestmark = pytest.mark.influx

MakeDatabase = Callable[[InfluxServer], str]


def v1_config(server: InfluxServer, database: str, **options: object) -> InfluxConfig:
    return InfluxConfig.model_validate(
        {"url": server.url, "api": "v1", "database": database, "retry_min": 0.05, **options}
    )


def open_store(path: Path, influx: InfluxConfig) -> Store:
    return Store.open(path, site="shanghai", config=StorageConfig(influxdb=influx))


def stored_points(server: InfluxServer, database: str) -> dict[tuple[str, int], dict[str, object]]:
    """Every probe point in the server, keyed by (series key, time)."""
    points = {}
    for measurement in ("ping", "net_response", "http_response", "quic_response"):
        for row in server.rows(f'SELECT * FROM "{measurement}" GROUP BY *', database):
            key = (f"{measurement}/{row['uplink']}/{row['pop']}", row["time"])
            points[key] = row
    return points


def assert_same_as_store(store: Store, server: InfluxServer, database: str) -> None:
    """Every stored result is in the server once, with the same RTT and outcome."""
    results = store.query_results(0)
    points = stored_points(server, database)
    assert len(points) == len(results)
    for result in results:
        measurement = {"icmp": "ping", "tcp": "net_response", "udp": "net_response"}.get(
            result.protocol, f"{result.protocol}_response"
        )
        point = points[(f"{measurement}/{result.uplink}/{result.pop}", result.time_ns)]
        if result.protocol == "icmp":
            assert point["average_response_ms"] == result.rtt_ms
            assert point["packets_received"] == int(result.ok)
        elif result.protocol in ("tcp", "udp"):
            expected = result.rtt_ms / 1000 if result.rtt_ms is not None else None
            assert point["response_time"] == pytest.approx(expected)
            assert (point["result_code"] == 0) == result.ok
        else:  # the whole exchange in response_time, the round trip in handshake_rtt_ms
            whole = result.extras.get("total_ms", result.extras.get("handshake_ms"))
            assert isinstance(whole, float)
            expected = whole / 1000 if result.ok else None
            assert point["response_time"] == pytest.approx(expected)
            assert point["handshake_rtt_ms"] == result.rtt_ms
            assert (point["result_code"] == 0) == result.ok


def test_v1_ships_every_point_and_reads_back_identical(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database, batch_size=700)
    store = open_store(tmp_path / "s.db", config)
    store.set_path_labels({("ct", "hkg"): "ct-cn2"})
    store.write_results(sample_results(3000))
    store.add_snapshots([sample_snapshot()])
    store.add_events([sample_event()])
    exporter = Exporter(store.path, config)
    report = exporter.drain(max_seconds=60)
    assert report.caught_up and report.points == 3002
    assert_same_as_store(store, influxd, database)
    assert exporter.backlog() == {"results": 0, "snapshots": 0, "events": 0}
    [path] = influxd.rows("SELECT * FROM borderpath_path", database)
    assert (path["route"], path["selected"], path["sla_voice"]) == ("ct-cn2", 1, 0)
    [event] = influxd.rows("SELECT * FROM borderpath_event", database)
    assert event["text"].startswith("hkg: ct -> cu") and event["score_cu"] == 40.0
    ping = influxd.rows("SELECT * FROM ping WHERE uplink = 'ct' AND pop = 'hkg'", database)
    assert {row["route"] for row in ping} == {"ct-cn2"}
    assert {row["site"] for row in ping} == {"shanghai"}


def test_v2_request_is_exactly_what_influxdb_2_expects(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    (tmp_path / "token").write_text("s3cret-token\n")
    endpoint = V2Endpoint(influxd.url, org="noc", bucket=database, token="s3cret-token")
    with endpoint.serving():
        config = InfluxConfig(
            url=endpoint.url, api="v2", org="noc", bucket=database, token_file=tmp_path / "token"
        )
        store = open_store(tmp_path / "s.db", config)
        store.write_results(sample_results(500))
        exporter = Exporter(store.path, config)
        report = exporter.drain(max_seconds=30)
    assert endpoint.violations == []
    assert report.caught_up and report.points == 500
    assert_same_as_store(store, influxd, database)


def test_v2_retries_after_503_honouring_retry_after(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    endpoint = V2Endpoint(influxd.url, org="noc", bucket=database, token="t")
    endpoint.fail_next = [(503, {"Retry-After": "1"}), (429, {})]
    os.environ["BP_TEST_TOKEN"] = "t"
    with endpoint.serving():
        config = InfluxConfig(
            url=endpoint.url, org="noc", bucket=database, token_env="BP_TEST_TOKEN", retry_min=0.1
        )
        store = open_store(tmp_path / "s.db", config)
        store.write_results(sample_results(50))
        started = time.monotonic()
        report = Exporter(store.path, config).drain(max_seconds=30)
    assert report.failures == 2 and report.caught_up
    assert time.monotonic() - started >= 1.0  # the server asked for 1 s
    assert len(stored_points(influxd, database)) == 50


def test_bad_token_pauses_export_without_dead_letters_and_resumes_when_fixed(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    endpoint = V2Endpoint(influxd.url, org="noc", bucket=database, token="right")
    os.environ["BP_WRONG_TOKEN"] = "wrong"
    with endpoint.serving():
        config = InfluxConfig(
            url=endpoint.url, org="noc", bucket=database, token_env="BP_WRONG_TOKEN", retry_min=0.05
        )
        store = open_store(tmp_path / "s.db", config)
        store.write_results(sample_results(2000))
        exporter = Exporter(store.path, config)
        paused = exporter.drain(max_seconds=1.0)
        assert not paused.caught_up and paused.failures >= 2 and paused.dead_letters == 0
        assert store.dead_letters() == [] and store.backlog()["results"] == 2000
        [event] = store.query_events(0, kind="export.refused")  # once per pause, not per try
        assert "401" in event.text and "wrong" not in event.text
        assert store.counters()["refused_influxdb"] == 1
        endpoint.token = "wrong"  # the operator fixes the token on the server's side
        resumed = exporter.drain(max_seconds=30)
    assert resumed.caught_up and exporter.paused is None
    assert_same_as_store(store, influxd, database)


@pytest.mark.parametrize("status", [403, 404, 413])
def test_refusals_of_the_request_pause_and_lose_nothing(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase, status: int
) -> None:
    database = new_database(influxd)
    endpoint = V2Endpoint(influxd.url, org="noc", bucket=database, token="t")
    endpoint.fail_next = [(status, {})] * 5
    os.environ["BP_TEST_TOKEN"] = "t"
    with endpoint.serving():
        config = InfluxConfig(
            url=endpoint.url, org="noc", bucket=database, token_env="BP_TEST_TOKEN", retry_min=0.05
        )
        store = open_store(tmp_path / "s.db", config)
        store.write_results(sample_results(300))
        report = Exporter(store.path, config).drain(max_seconds=30)
    assert report.caught_up and report.failures == 5 and report.dead_letters == 0
    assert [e.values["status"] for e in store.query_events(0, kind="export.refused")] == [status]
    assert len(stored_points(influxd, database)) == 300


def test_a_database_lock_pauses_export_and_it_goes_on_after(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database, retry_max=0.2)
    store = open_store(tmp_path / "s.db", config)
    store.write_results(sample_results(500))
    exporter = Exporter(store.path, config)
    exporter._db.execute("PRAGMA busy_timeout = 50")  # not 10 s per try in a test
    other = sqlite3.connect(store.path, isolation_level=None)  # another process's lock
    other.execute("BEGIN IMMEDIATE")
    locked = exporter.drain(max_seconds=1.0)
    assert not locked.caught_up and locked.failures >= 2
    other.execute("ROLLBACK")
    assert exporter.drain(max_seconds=30).caught_up
    assert_same_as_store(store, influxd, database)


def test_field_type_conflict_dead_letters_only_the_bad_point(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database)
    store = open_store(tmp_path / "s.db", config)
    events = [sample_event(START_NS + i, detail=1.5) for i in range(40)]
    events[17] = sample_event(START_NS + 17, detail="not a number")
    store.add_events(events)
    exporter = Exporter(store.path, config)
    report = exporter.drain(max_seconds=30)
    [letter] = store.dead_letters()
    assert letter.status == 400 and "field type conflict" in letter.message
    assert "not a number" in letter.line
    assert report.dead_letters == 1
    # the queue moved on: the 39 good events and the next one are there
    store.add_events([sample_event(START_NS + 100, detail=2.5)])
    exporter.drain(max_seconds=30)
    kinds = [row["kind"] for row in influxd.rows("SELECT * FROM borderpath_event", database)]
    assert kinds == ["decision"] * 40


def test_dead_letters_replayed_reach_the_server_once_it_takes_them(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database)
    store = open_store(tmp_path / "s.db", config)
    store.add_events([sample_event(START_NS, detail=1.5)])
    store.add_events([sample_event(START_NS + i, detail="text") for i in range(1, 4)])
    exporter = Exporter(store.path, config)
    exporter.drain(max_seconds=30)
    assert len(store.dead_letters()) == 3
    assert store.replay_dead_letters() == 3 and store.dead_letters() == []
    exporter.drain(max_seconds=30)  # still a conflict: refused again, back as dead letters
    assert [letter.status for letter in store.dead_letters()] == [400] * 3
    influxd.query("DROP MEASUREMENT borderpath_event", database)  # the operator's fix
    store.replay_dead_letters()
    assert exporter.drain(max_seconds=30).caught_up and store.dead_letters() == []
    assert len(influxd.rows("SELECT * FROM borderpath_event", database)) == 3


def test_dead_letters_are_kept_within_their_limit_the_oldest_dropped(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database, dead_letters_max=4)
    store = open_store(tmp_path / "s.db", config)
    store.add_events([sample_event(START_NS, detail=1.5)])
    store.add_events([sample_event(START_NS + i, detail=f"bad {i}") for i in range(1, 11)])
    Exporter(store.path, config).drain(max_seconds=30)
    assert len(store.dead_letters()) == 10
    report = store.housekeeping(START_NS)
    assert report.dropped["dead_letters"] == 6
    assert "bad 7" in store.dead_letters()[0].line
    assert store.counters()["dropped_dead_letters"] == 6


def test_the_cli_lists_replays_and_drops_dead_letters(
    tmp_path: Path,
    influxd: InfluxServer,
    new_database: MakeDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database)
    store = open_store(tmp_path / "borderpath.db", config)
    store.add_events([sample_event(START_NS, detail=1.5), sample_event(START_NS + 1, detail="x")])
    Exporter(store.path, config).drain(max_seconds=30)
    agent_toml = tmp_path / "agent.toml"
    agent_toml.write_text(CONFIG.format(data_dir=tmp_path))
    options = ["--config", str(agent_toml)]

    assert main(["export", "dead-letters", "list", "--json", *options]) == 0
    [letter] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (letter["source"], letter["status"]) == ("events", 400)
    assert "field type conflict" in letter["message"] and 'detail="x"' in letter["line"]
    main(["export", "dead-letters", "list", *options])
    assert capsys.readouterr().out.startswith("events 400 ")
    assert main(["export", "dead-letters", "replay", *options]) == 0
    assert capsys.readouterr().out == "1 dead letters sent back to InfluxDB\n"
    Exporter(store.path, config).drain(max_seconds=30)  # refused again: back as a dead letter
    assert main(["export", "dead-letters", "drop", "--json", *options]) == 0
    assert json.loads(capsys.readouterr().out) == {"drop": 1}
    assert store.dead_letters() == [] and store.counters()["dropped_dead_letters"] == 1
    store.close()
    (tmp_path / "borderpath.db").rename(tmp_path / "moved.db")
    assert main(["export", "dead-letters", "replay", *options]) == 3
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "borderpath.db").exists()  # never created by the command


def test_outage_loses_nothing_and_drains_after_restart(
    tmp_path: Path, own_influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(own_influxd)
    config = v1_config(own_influxd, database, retry_max=0.2, batch_size=400)
    store = open_store(tmp_path / "s.db", config)
    exporter = Exporter(store.path, config)
    stream = sample_results(3000)
    store.write_results(stream[:1000])
    assert exporter.drain(max_seconds=30).caught_up
    own_influxd.stop()
    store.write_results(stream[1000:2000])
    down = exporter.drain(max_seconds=1.0)
    assert down.failures >= 2 and down.points == 0 and not down.caught_up
    store.write_results(stream[2000:])
    own_influxd.start()
    assert exporter.drain(max_seconds=60).caught_up
    assert_same_as_store(store, own_influxd, database)


def test_the_agent_task_ships_as_results_arrive(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database, flush_interval="100ms")

    async def scenario() -> None:
        store = await AsyncStore.open(
            tmp_path / "s.db", site="shanghai", config=StorageConfig(influxdb=config)
        )
        exporter = Exporter(store.path, config)
        shipping = asyncio.create_task(exporter.run())
        for batch in range(5):
            await store.ingest(sample_results(100, start_ns=START_NS + batch * 10**10))
            await asyncio.sleep(0.05)
        for _ in range(100):
            if exporter.report.points == 500:
                break
            await asyncio.sleep(0.05)
        shipping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await shipping
        exporter.close()
        await store.close()

    asyncio.run(scenario())
    assert len(stored_points(influxd, database)) == 500


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from borderpath.agent.cli import main
from borderpath.storage import AsyncStore, Exporter, InfluxConfig, StorageConfig, Store
from tests.storage.conftest import sample_results
config = InfluxConfig(url=sys.argv[2], api="v1", database=sys.argv[3], batch_size=300)
store = Store.open(Path(sys.argv[1]), site="shanghai", config=StorageConfig(influxdb=config))
exporter = Exporter(store.path, config)
for batch in range(10**6):
    store.write_results(sample_results(500, start_ns=1_700_000_000_000_000_000 + batch * 10**10))
    print(batch + 1, flush=True)
    exporter.run_once()
"""


def test_kill_9_mid_stream_keeps_the_file_sound_and_shipping_resumes(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    path = tmp_path / "s.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path), influxd.url, database],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert writer.stdout is not None
    committed = 0
    while committed < 30:
        committed = int(writer.stdout.readline())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    config = v1_config(influxd, database)
    store = open_store(path, config)
    assert store.integrity_check() == "ok"
    assert len(store.query_results(0)) >= committed * 500
    stored = len(store.query_results(0))
    shipped_before = len(stored_points(influxd, database))
    assert 0 < shipped_before < stored
    report = Exporter(path, config).drain(max_seconds=60)
    assert report.caught_up
    # it resumed from its cursor: at most the batch in flight when killed is sent again
    assert stored - shipped_before <= report.points <= stored - shipped_before + 300
    assert_same_as_store(store, influxd, database)
