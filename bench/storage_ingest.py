"""Ingest rate of the local store (goal: at least 100,000 results/s batched).

    python -m bench.storage_ingest          (writes bench/results/storage_ingest.json)

Three rounds, medians reported. A synthetic stream of 15 paths x 5 protocols (10 %
lost, HTTP extras on one in five) is written in batches of 100, 1,000 and 10,000
results through ``Store.write_results`` (also per CPU second, which the machine's
other load does not change) and through ``AsyncStore.ingest`` (the agent's path: the
worker thread). The anchor in the same round is SQLite's own ceiling here:
``executemany`` of ready-made tuples into the same table and index, in the same WAL
mode, with no conversion from ProbeResult.
"""

import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from borderpath.core.protocols import PROTOCOLS
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.storage import AsyncStore, Store

TOTAL = 300_000
BATCHES = (100, 1_000, 10_000)
GOAL = 100_000
ROUNDS = 3
RESULTS = Path(__file__).parent / "results" / "storage_ingest.json"
START_NS = 1_700_000_000_000_000_000


def stream(count: int) -> list[ProbeResult]:
    uplinks, pops = ("ct", "cu", "cm"), ("hkg", "nrt", "sin", "lax", "fra")
    out = []
    for i in range(count):
        protocol = PROTOCOLS[i % 5]
        lost = i % 10 == 0
        out.append(
            ProbeResult(
                time_ns=START_NS + i * 1_000_000,
                uplink=uplinks[i % 3],
                pop=pops[(i // 3) % 5],
                protocol=protocol,
                ok=not lost,
                rtt_ms=None if lost else 30.0 + (i % 97) / 7,
                error=ErrorKind.TIMEOUT if lost else None,
                ttl=None if lost else 63,
                extras={"status": 200, "connect_ms": 31.5} if protocol == "http" else {},
            )
        )
    return out


def timed(
    write: Callable[[list[ProbeResult]], None], results: list[ProbeResult], batch: int
) -> tuple[float, float]:
    """(results per second, per CPU second) writing ``results`` in batches of ``batch``."""
    start, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, len(results), batch):
        write(results[offset : offset + batch])
    count = len(results)
    return count / (time.perf_counter() - start), count / (time.process_time() - cpu)


def sync_rate(results: list[ProbeResult], batch: int, directory: Path) -> tuple[float, float]:
    store = Store.open(directory / f"sync{batch}.db", site="bench")
    try:
        return timed(store.write_results, results, batch)
    finally:
        store.close()


def async_rate(results: list[ProbeResult], batch: int, directory: Path) -> float:
    async def run() -> float:
        store = await AsyncStore.open(directory / f"async{batch}.db", site="bench")
        start = time.perf_counter()
        for offset in range(0, len(results), batch):
            await store.ingest(results[offset : offset + batch])
        rate = len(results) / (time.perf_counter() - start)
        await store.close()
        return rate

    return asyncio.run(run())


def sqlite_anchor(results: list[ProbeResult], batch: int, directory: Path) -> float:
    """The same rows, already tuples, into the same schema: SQLite's ceiling."""
    store = Store.open(directory / f"anchor{batch}.db", site="bench")
    store.close()
    connection = sqlite3.connect(directory / f"anchor{batch}.db", isolation_level=None)
    connection.execute("PRAGMA synchronous = NORMAL")
    rows = [(r.time_ns, 1, r.ok, r.rtt_ms, r.error, r.forged, r.ttl, None) for r in results]
    start = time.perf_counter()
    for offset in range(0, len(rows), batch):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO results (time_ns, series_id, ok, rtt_ms, error, forged, ttl, extras)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows[offset : offset + batch],
        )
        connection.execute("COMMIT")
    rate = len(rows) / (time.perf_counter() - start)
    connection.close()
    return rate


def one_round(results: list[ProbeResult]) -> dict[int, dict[str, float]]:
    """Every method at every batch size, each into a new database file."""
    rates = {}
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        for batch in BATCHES:
            store, store_cpu = sync_rate(results, batch, directory)
            rates[batch] = {
                "store_write_results_per_s": store,
                "store_write_results_per_cpu_s": store_cpu,
                "async_ingest_results_per_s": async_rate(results, batch, directory),
                "anchor_sqlite_executemany_per_s": sqlite_anchor(results, batch, directory),
            }
    return rates


def main() -> int:
    results = stream(TOTAL)
    rounds = [one_round(results) for _ in range(ROUNDS)]
    rows = [
        {"batch": batch}
        | {key: round(statistics.median(r[batch][key] for r in rounds)) for key in rounds[0][batch]}
        for batch in BATCHES
    ]
    report = {
        "goal_results_per_s": GOAL,
        "results_per_run": TOTAL,
        "rounds": ROUNDS,
        "rows": rows,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    print(f"results/s, median of {ROUNDS} rounds")
    print(
        f"{'batch':>6}  {'Store':>8}  {'per CPU s':>9}  {'AsyncStore':>10}  {'SQLite anchor':>13}"
    )
    for row in rows:
        print(
            f"{row['batch']:>6}  {row['store_write_results_per_s']:>8}"
            f"  {row['store_write_results_per_cpu_s']:>9}"
            f"  {row['async_ingest_results_per_s']:>10}"
            f"  {row['anchor_sqlite_executemany_per_s']:>13}"
        )
    print(f"goal {GOAL}/s; load average {report['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
