"""Drain rate of the outbox into a real local influxd (goal: at least 50,000 points/s).

    python -m bench.storage_drain           (writes bench/results/storage_drain.json)

Three rounds, medians reported. In each, a backlog of probe results is stored (as
after an outage), then ``Exporter.drain()`` ships it to Debian's influxd 1.6.7 started
on a loopback port: through the v1 sink, and through the v2 sink via the tests'
/api/v2/write stand-in (a Python proxy in front of influxd's /write, in a process of
its own: that figure includes the proxy's cost). The anchor in the same round is the
server's ceiling: the same line protocol, rendered beforehand, POSTed gzip-compressed
in the same batch size straight to /write.
"""

import contextlib
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.storage_ingest import stream
from borderpath.core.results import ProbeResult
from borderpath.storage import Exporter, InfluxConfig, StorageConfig, Store
from borderpath.storage.line_protocol import SeriesInfo, StoredResult, result_line
from tests.influxd import running_influxd

BACKLOG = 200_000
V2_BACKLOG = 50_000
BATCH = 10_000
GOAL = 50_000
ROUNDS = 3
RESULTS = Path(__file__).parent / "results" / "storage_drain.json"


def exporter_rate(path: Path, config: InfluxConfig, count: int) -> tuple[float, float]:
    """(points per second, points per CPU second of this process) draining ``count``."""
    store = Store.open(path, site="bench", config=StorageConfig(influxdb=config))
    store.write_results(stream(count))
    store.close()
    exporter = Exporter(path, config)
    cpu = time.process_time()
    report = exporter.drain(max_seconds=600)
    cpu = time.process_time() - cpu
    exporter.close()
    if not report.caught_up or report.points != count:
        raise RuntimeError(f"drain incomplete: {report}")
    return report.points / report.seconds, report.points / cpu


def anchor_rate(url: str, database: str, count: int) -> float:
    """Pre-rendered lines, gzip, straight to /write: what the server itself sustains."""
    lines = [
        result_line("bench", SeriesInfo(r.uplink, r.pop, r.protocol), _stored(r))
        for r in stream(count)
    ]
    with httpx.Client(base_url=url, timeout=60) as client:
        start = time.perf_counter()
        for offset in range(0, count, BATCH):
            body = gzip.compress("\n".join(lines[offset : offset + BATCH]).encode(), 1)
            response = client.post(
                "/write",
                params={"db": database, "precision": "ns"},
                content=body,
                headers={"Content-Encoding": "gzip"},
            )
            response.raise_for_status()
        return count / (time.perf_counter() - start)


def _stored(result: ProbeResult) -> StoredResult:
    return StoredResult(
        result.time_ns,
        result.ok,
        result.rtt_ms,
        result.error,
        result.forged,
        result.ttl,
        result.extras,
    )


@contextlib.contextmanager
def v2_endpoint(influx_url: str, bucket: str, token: str) -> Iterator[str]:
    """The tests' /api/v2/write stand-in in a process of its own (no shared GIL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.v2endpoint", influx_url, "noc", bucket, token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def measure(server_url: str, directory: Path, run: int) -> dict[str, float]:
    """One round: anchor, v1 and v2, each into databases of its own."""
    names = {kind: f"{kind}{run}" for kind in ("anchor", "v1", "v2")}
    anchor = anchor_rate(server_url, names["anchor"], BACKLOG)
    v1, v1_cpu = exporter_rate(
        directory / f"{names['v1']}.db",
        InfluxConfig(url=server_url, api="v1", database=names["v1"], batch_size=BATCH),
        BACKLOG,
    )
    os.environ["BENCH_TOKEN"] = "bench"
    with v2_endpoint(server_url, bucket=names["v2"], token="bench") as endpoint_url:
        v2, _ = exporter_rate(
            directory / f"{names['v2']}.db",
            InfluxConfig(
                url=endpoint_url,
                org="noc",
                bucket=names["v2"],
                token_env="BENCH_TOKEN",
                batch_size=BATCH,
            ),
            V2_BACKLOG,
        )
    return {"anchor": anchor, "v1": v1, "v1_cpu": v1_cpu, "v2": v2}


def main() -> int:
    rounds = []
    with tempfile.TemporaryDirectory() as name, running_influxd(Path(name) / "influxd") as server:
        for run in range(ROUNDS):
            for kind in ("anchor", "v1", "v2"):
                server.create_database(f"{kind}{run}")
            rounds.append(measure(server.url, Path(name), run))
    median = {kind: statistics.median(r[kind] for r in rounds) for kind in rounds[0]}
    report = {
        "goal_points_per_s": GOAL,
        "batch_size": BATCH,
        "rounds": ROUNDS,
        "anchor_direct_write_points_per_s": round(median["anchor"]),
        "v1_exporter_points_per_s": round(median["v1"]),
        "v2_exporter_via_proxy_points_per_s": round(median["v2"]),
        "v1_exporter_points_per_cpu_s": round(median["v1_cpu"]),
        "every_round": [{kind: round(rate) for kind, rate in r.items()} for r in rounds],
        "backlog": BACKLOG,
        "v2_backlog": V2_BACKLOG,
        "server": "influxd 1.6.7 (Debian), loopback, same machine",
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    print(f"{'path (median of ' + str(ROUNDS) + ' rounds)':<36} {'points/s':>10}")
    for label, key in (
        ("anchor: rendered lines to /write", "anchor_direct_write_points_per_s"),
        ("Exporter, v1 sink", "v1_exporter_points_per_s"),
        ("Exporter, v2 sink via test proxy", "v2_exporter_via_proxy_points_per_s"),
        ("Exporter, v1: points per CPU second", "v1_exporter_points_per_cpu_s"),
    ):
        print(f"{label:<36} {report[key]:>10}")
    print(f"goal {GOAL}/s; load average {report['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
