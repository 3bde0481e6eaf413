"""A full disk, on a real 4 MiB file system the test mounts: nothing committed is lost,
the writes wait in memory, and they are stored once space returns."""

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderpath.core.results import ProbeResult
from borderpath.storage import AsyncStore, Exporter, Store, async_store
from borderpath.storage.store import DiskFull
from tests.agent.agent_process import AgentProcess, lan_uplink, write_config
from tests.agent.test_agent_lab import all_steered, wait_for
from tests.conftest import LabFactory
from tests.influxd import InfluxServer
from tests.storage.conftest import START_NS, sample_results
from tests.storage.test_export import MakeDatabase, assert_same_as_store, open_store, v1_config


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, always unmounted."""
    with mounted(tmp_path / "disk") as disk:
        yield disk


@contextlib.contextmanager
def mounted(mount: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs on ``mount`` (made), always unmounted; the test is skipped where
    mounting is not permitted."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Fill the disk with a ballast file; returns it (delete it to give space back)."""
    ballast = disk / "ballast"
    with ballast.open("wb") as file, contextlib.suppress(OSError):
        while True:
            file.write(b"\0" * 65536)
            file.flush()
            os.fsync(file.fileno())
    return ballast


def batches(count: int) -> list[list[ProbeResult]]:
    return [sample_results(200, start_ns=START_NS + n * 10**10) for n in range(count)]


def test_the_original_error_is_kept_and_nothing_committed_is_lost(small_disk: Path) -> None:
    store = Store.open(small_disk / "s.db", site="shanghai")
    store.write_results(sample_results(500))
    ballast = fill(small_disk)
    with pytest.raises(DiskFull, match="database or disk is full"):
        for batch in batches(200):
            store.write_results(batch)
    committed = len(store.query_results(0))
    assert committed >= 500
    ballast.unlink()
    store.write_results(sample_results(10, start_ns=START_NS + 10**13))
    assert len(store.query_results(0)) == committed + 10
    assert store.integrity_check() == "ok"
    store.close()


def test_writes_wait_in_memory_while_full_and_are_stored_when_space_returns(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        store = await AsyncStore.open(small_disk / "s.db", site="shanghai")
        await store.ingest(sample_results(500))
        ballast = fill(small_disk)
        for batch in batches(50):  # never raises: probing goes on
            await store.ingest(batch)
        assert store.full
        ballast.unlink()
        await store.ingest(sample_results(10, start_ns=START_NS + 10**13))
        assert not store.full and store.dropped_rows == 0
        assert len(await store.query_results(0)) == 500 + 50 * 200 + 10
        [event] = await store.query_events(0, kind="storage.full")
        assert "0 rows dropped" in event.text
        await store.close()

    asyncio.run(scenario())
    assert [r.message.startswith("storage.full") for r in caplog.records].count(True) == 2


def test_past_the_spool_cap_the_oldest_waiting_batches_are_dropped_and_counted(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(async_store, "SPOOL_MAX_ROWS", 1000)

    async def scenario() -> None:
        store = await AsyncStore.open(small_disk / "s.db", site="shanghai")
        ballast = fill(small_disk)
        for batch in batches(10):
            await store.ingest(batch)
        assert store.full and store.dropped_rows == 1000  # 2,000 rows, 1,000 kept
        ballast.unlink()
        await store.ingest([])
        stored = await store.query_results(0)
        assert len(stored) == 1000 and stored[0].time_ns == START_NS + 5 * 10**10
        [event] = await store.query_events(0, kind="storage.full")
        assert "1000 rows dropped" in event.text
        await store.close()

    asyncio.run(scenario())


@pytest.mark.influx
def test_export_pauses_on_a_full_disk_and_ships_everything_after(
    small_disk: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = v1_config(influxd, database, retry_max=0.2, batch_size=100)
    store = open_store(small_disk / "s.db", config)
    store.write_results(sample_results(1000))
    exporter = Exporter(store.path, config)
    ballast = fill(small_disk)
    full = exporter.drain(max_seconds=1.0)
    assert not full.caught_up and full.failures >= 1
    ballast.unlink()
    assert exporter.drain(max_seconds=30).caught_up
    assert_same_as_store(store, influxd, database)


@pytest.mark.lab
def test_the_agent_probes_and_steers_on_a_full_disk_and_stores_it_all_after(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    config = write_config(lab, tmp_path)
    with mounted(tmp_path / "data") as data:
        agent = AgentProcess(lab, config)
        try:
            wait_for(lambda: all_steered(agent), timeout=10)
            ballast = fill(data)
            full_at = time.time_ns()
            wait_for(lambda: agent.status()["storage"]["full"], timeout=10)
            start_uplink = lan_uplink(lab, "hkg")
            lab.apply([{"uplink": start_uplink, "pop": "hkg", "blackhole": True}])
            wait_for(lambda: lan_uplink(lab, "hkg") != start_uplink, timeout=10)  # steering
            ballast.unlink()
            empty_at = time.time_ns()
            wait_for(lambda: not agent.status()["storage"]["full"], timeout=10)
            assert agent.status()["storage"]["dropped_rows"] == 0
            assert agent.stop() == 0
        finally:
            agent.stop(signal.SIGKILL)
        with contextlib.closing(Store.open_read_only(data / "borderpath.db")) as store:
            assert store.integrity_check() == "ok"
            [event] = store.query_events(0, kind="storage.full")
            held = [r for r in store.query_results(full_at) if r.time_ns < empty_at]
    assert held, "the results probed while the disk was full were stored after"
    assert event.time_ns >= full_at
    assert agent.output().count("storage.full") == 2 and "Traceback" not in agent.output()
