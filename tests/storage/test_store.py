"""The embedded store: what goes in comes out, rollups, retention, caps, async use."""

import asyncio
import threading
from pathlib import Path

import pytest

from borderpath.core.errors import StorageError
from borderpath.core.events import EventKind
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.storage import AsyncStore, InfluxConfig, StorageConfig, Store
from tests.storage.conftest import START_NS, sample_event, sample_results, sample_snapshot

S = 1_000_000_000
HOUR = 3600 * S
DEAD_SERVER = InfluxConfig(url="http://127.0.0.1:9", api="v1")
"""An InfluxDB nobody runs: rows stay unshipped."""


def open_store(tmp_path: Path, **config: object) -> Store:
    return Store.open(
        tmp_path / "s.db", site="shanghai", config=StorageConfig.model_validate(config)
    )


def test_results_come_back_as_they_went_in(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    results = sample_results(100)
    store.write_results(results)
    assert store.query_results(0) == results
    assert store.query_results(0, uplink="ct", pop="hkg", protocol="icmp") == [
        r for r in results if r.series == ("ct", "hkg", "icmp")
    ]
    later = store.query_results(START_NS + 50 * 10_000_000)
    assert later == results[50:]


def test_a_committed_batch_survives_reopening(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.write_results(sample_results(10))
    store.close()
    assert len(open_store(tmp_path).query_results(0)) == 10


def test_summaries_per_series_and_per_path(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.write_results(
        [
            ProbeResult(
                START_NS + i,
                "ct",
                "hkg",
                protocol,
                ok,
                40.0 + i if ok else None,
                None if ok else ErrorKind.TIMEOUT,
            )
            for i, (protocol, ok) in enumerate([("icmp", True), ("icmp", False), ("tcp", True)])
        ]
    )
    icmp, tcp = store.summarize(START_NS)
    assert (icmp.protocol, icmp.sent, icmp.received, icmp.loss) == ("icmp", 2, 1, 0.5)
    assert tcp.rtt_p50_ms == 42.0
    [path] = store.summarize(START_NS, per_path=True)
    assert (path.protocol, path.sent, path.received) == ("*", 3, 2)


def test_housekeeping_rolls_up_finished_steps_only(tmp_path: Path) -> None:
    store = open_store(tmp_path, rollup_delay="5s")
    store.write_results(sample_results(1200))  # 12 s at one result per 10 ms
    store.housekeeping(START_NS + 16 * S)  # 0..10 s ended 5 s ago, 10..20 s has not
    tens = store.query_rollups(10, 0, protocol="icmp", uplink="ct", pop="hkg")
    assert [row.start_ns for row in tens] == [START_NS]
    assert tens[0].sent == 34  # results 0, 30, ... 990 of the first 10 s are ct/hkg/icmp
    assert store.query_rollups(60, 0) == []
    store.housekeeping(START_NS + 70 * S)
    [minute] = store.query_rollups(60, 0, uplink="ct", pop="hkg", protocol="*")
    assert minute.sent == sum(1 for r in sample_results(1200) if r.path == ("ct", "hkg"))
    assert len(store.query_rollups(10, 0, uplink="ct", pop="hkg", protocol="icmp")) == 2


def test_retention_drops_old_rows_and_counts_them(tmp_path: Path) -> None:
    store = open_store(tmp_path, retention_raw="1h", retention_events="3h")
    store.write_results(sample_results(10))
    store.write_results(sample_results(5, start_ns=START_NS + 2 * HOUR))
    store.add_events([sample_event(START_NS)])
    report = store.housekeeping(START_NS + 2 * HOUR + S)
    assert len(store.query_results(0)) == 5
    assert report.dropped["retention_results"] == 10
    assert store.query_events(0)  # events are kept 3 h
    assert store.counters()["dropped_retention_results"] == 10


def test_unshipped_rows_outlive_retention_until_the_spool_age(tmp_path: Path) -> None:
    store = open_store(
        tmp_path,
        retention_raw="1h",
        influxdb={**DEAD_SERVER.model_dump(), "spool_max_age": "3h"},
    )
    store.write_results(sample_results(10))
    store.housekeeping(START_NS + 2 * HOUR)
    assert len(store.query_results(0)) == 10  # older than 1 h, but never shipped
    assert store.backlog()["results"] == 10
    report = store.housekeeping(START_NS + 4 * HOUR)
    assert report.dropped["spool_results"] == 10
    assert store.backlog()["results"] == 0
    assert store.query_results(0) == []
    [event] = store.query_events(0, kind="storage.dropped")
    assert "10 unshipped results" in event.text


def test_spool_size_cap_drops_the_oldest_unshipped(tmp_path: Path) -> None:
    store = open_store(tmp_path, influxdb={**DEAD_SERVER.model_dump(), "spool_max_size": "100KiB"})
    store.write_results(sample_results(20_000))
    report = store.housekeeping(START_NS + 300 * S)
    left = store.backlog()["results"]
    assert 0 < left < 20_000 and report.dropped["spool_results"] == 20_000 - left
    # what is left to ship is the newest
    newest_unshipped = store.query_results(0)[-left:]
    assert newest_unshipped[-1] == sample_results(20_000)[-1]


def test_size_cap_drops_oldest_rows_and_keeps_the_newest(tmp_path: Path) -> None:
    store = open_store(tmp_path, max_size="2MiB")
    for batch in range(10):
        store.write_results(sample_results(5000, start_ns=START_NS + batch * 100 * S))
    report = store.housekeeping(START_NS + 1000 * S)
    kept = store.query_results(0)
    assert report.dropped["size_results"] == 50_000 - len(kept) > 0
    assert kept[-1] == sample_results(5000, start_ns=START_NS + 900 * S)[-1]
    assert kept[0].time_ns > START_NS
    assert [e.kind for e in store.query_events(0)] == ["storage.dropped"]
    assert store.counters()["dropped_size_results"] == report.dropped["size_results"]


def test_size_cap_drops_the_oldest_dead_letters_before_any_result(tmp_path: Path) -> None:
    store = open_store(tmp_path, max_size="1MiB")
    store.write_results(sample_results(2000))
    body = '{"source": "results", "status": 400, "message": "bad", "line": "%s"}'
    letters = [("influxdb", START_NS + i, body % ("x" * 1000)) for i in range(2000)]
    store.queue("dead_letters").put(letters)
    report = store.housekeeping(START_NS + 10 * S)
    assert report.dropped["size_dead_letters"] > 0 and "size_results" not in report.dropped
    assert len(store.query_results(0)) == 2000
    kept = store.dead_letters()
    assert kept and kept[-1].time_ns == START_NS + 1999  # the newest stay


def test_events_and_snapshots_queries(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.add_events(
        [
            sample_event(START_NS),
            sample_event(START_NS + 1).__class__(
                START_NS + 2, EventKind.ALERT_FIRING, "cu down", {"uplink": "cu"}
            ),
        ]
    )
    assert [e.kind for e in store.query_events(0, kind="alert")] == ["alert.firing"]
    assert [e.kind for e in store.query_events(0, uplink="cu")] == ["decision", "alert.firing"]
    assert store.query_events(0)[0] == sample_event(START_NS)
    store.add_snapshots([sample_snapshot(START_NS), sample_snapshot(START_NS + S)])
    store.add_snapshots([sample_snapshot(START_NS, uplink="cu")])
    assert store.query_snapshots(0, uplink="ct") == [
        sample_snapshot(START_NS),
        sample_snapshot(START_NS + S),
    ]
    latest = store.query_snapshots(0, latest=True)
    assert {(s.uplink, s.time_ns) for s in latest} == {("ct", START_NS + S), ("cu", START_NS)}


def test_read_only_open_of_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such database"):
        Store.open_read_only(tmp_path / "none.db")


def test_async_store_writes_on_its_own_thread(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], int, float]:
        store = await AsyncStore.open(tmp_path / "s.db", site="shanghai")
        lags: list[float] = []

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            for _ in range(50):
                before = loop.time()
                await asyncio.sleep(0.005)
                lags.append(loop.time() - before - 0.005)

        ticking = asyncio.create_task(ticker())
        for batch in range(20):
            await store.ingest(sample_results(2000, start_ns=START_NS + batch * 20 * S))
        await ticking
        workers = [t.name for t in threading.enumerate() if t.name.startswith("borderpath-store")]
        count = len(await store.query_results(0))
        await store.close()
        return workers, count, max(lags)

    workers, count, worst_lag = asyncio.run(scenario())
    assert len(workers) == 1 and count == 40_000
    assert worst_lag < 0.25  # the loop kept ticking while SQLite worked


def test_a_failed_batch_is_all_or_nothing_and_the_next_one_is_whole(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    good = ProbeResult(START_NS, "ct", "sin", "icmp", True, 70.0)
    unstorable = ProbeResult(START_NS + 1, "ct", "sin", "icmp", True, 70.0, ttl=object())  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="cannot write"):
        store.write_results([good, unstorable])
    assert store.query_results(0) == []
    store.write_results([good])
    assert store.query_results(0) == [good]


def test_size_cap_keeps_the_minute_rollups_longest(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.write_results(sample_results(12_000))  # 120 s
    store.housekeeping(START_NS + 200 * S)
    assert store.query_rollups(10, 0) and store.query_rollups(60, 0)
    tiny = Store.open(store.path, site="shanghai", config=StorageConfig(max_size=1))
    report = tiny.housekeeping(START_NS + 200 * S)
    assert report.dropped["size_results"] == 12_000 and report.dropped["size_rollups_10s"] > 0
    assert tiny.query_results(0) == [] and tiny.query_rollups(10, 0) == []
    assert sum(row.sent for row in tiny.query_rollups(60, 0, protocol="*")) == 12_000
