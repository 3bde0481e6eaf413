"""How many ICMP probes per second the engine sustains on one core, next to fping.

    python -m bench.probe_rate          (as root; writes bench/results/probe_rate.json)

Targets: 100 loopback addresses (127.0.0.1-100) inside a namespace of our own, so the
kernel answers and nothing leaves the machine. For each offered rate the engine probes
every target for DURATION_S and we record what it sent, what came back in time, and
the process CPU per probe. fping then pings the same 100 targets in the same run,
as fast as it goes (-i 0 between packets, -p per target), with its CPU per probe.
A rate counts as sustained when the loss is zero.

Then the udp probe against a real responder (another process, its rate limit raised
above UDP_RATE: every target shares the source 127.0.0.0/24) on UDP_TARGETS of those
addresses at UDP_RATE, unkeyed and keyed (a BLAKE2s MAC on every request and reply):
the engine's CPU per probe, and what the key adds to it.
"""

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.responder_flood import responder_process, write_key
from borderpath.core.protocols import ProtocolName
from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.lab import netns
from borderpath.probes import Engine
from borderpath.probes.config import ProbingConfig

TARGETS = [f"127.0.0.{n}" for n in range(1, 101)]
RATES = (5_000, 10_000, 20_000, 30_000, 40_000, 50_000)
DURATION_S = 3.0
FPING_COUNT = 300
UDP_TARGETS = TARGETS[:10]
UDP_RATE = 2_000
RESULTS = Path(__file__).parent / "results" / "probe_rate.json"
LOOPBACK = UplinkConfig(name="lo", carrier="none", interface="lo", gateway="127.0.0.1")


def engine_run(
    rate: int,
    protocol: ProtocolName = "icmp",
    targets: list[str] = TARGETS,
    key: Path | None = None,
) -> dict[str, Any]:
    pops = [
        PopConfig(name=f"p{index}", address=address, protocols=[protocol], key_file=key)
        for index, address in enumerate(targets)
    ]
    interval = len(targets) / rate
    probing = ProbingConfig(interval=interval, timeout=1.0, batch_interval=0.1)
    rounds = max(1, round(DURATION_S / interval))
    received = 0
    total = 0

    def count(batch: list[ProbeResult]) -> None:
        nonlocal received, total
        total += len(batch)
        received += sum(1 for result in batch if result.ok)

    async def main() -> float:
        engine = Engine([LOOPBACK], pops, probing, count, rounds=rounds)
        started = time.monotonic()
        await engine.start()
        await engine.finished()
        elapsed = time.monotonic() - started
        await engine.stop()
        return elapsed

    cpu_before = time.process_time()
    elapsed = asyncio.run(main())
    cpu = time.process_time() - cpu_before
    return {
        "offered_per_s": rate,
        "sent": total,
        "received": received,
        "loss": 1 - received / total if total else 1.0,
        "achieved_per_s": total / elapsed,
        "cpu_us_per_probe": cpu / total * 1e6 if total else None,
    }


def udp_runs(namespace: str) -> list[dict[str, Any]]:
    """The udp probe at UDP_RATE against a responder, without a key and with one."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for key in (None, write_key(Path(work))):
            with (
                responder_process(namespace, UDP_TARGETS, Path(work), key, rate_pps=UDP_RATE * 2),
                netns.entered(namespace),
            ):
                row = engine_run(UDP_RATE, "udp", UDP_TARGETS, key)
            rows.append({**row, "keyed": key is not None})
    return rows


def fping_run(namespace: str) -> dict[str, Any]:
    argv = ["fping", "-q", "-C", str(FPING_COUNT), "-i", "0", "-p", "5", "-t", "1000", *TARGETS]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        netns.exec_argv(namespace, argv), capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    samples = [
        value
        for line in done.stderr.splitlines()
        if " : " in line
        for value in line.split(" : ", 1)[1].split()
    ]
    sent = len(samples)
    received = sum(1 for value in samples if value != "-")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "sent": sent,
        "received": received,
        "loss": 1 - received / sent if sent else 1.0,
        "achieved_per_s": sent / elapsed,
        "cpu_us_per_probe": cpu / sent * 1e6 if sent else None,
    }


def main() -> int:
    namespace = f"bench{os.getpid() % 10000}-rate"
    netns.add(namespace)
    try:
        with netns.entered(namespace):
            engine = [engine_run(rate) for rate in RATES]
        fping = fping_run(namespace)
        udp = udp_runs(namespace)
    finally:
        netns.delete(namespace)
    sustained = [row["achieved_per_s"] for row in engine if row["loss"] == 0]
    result = {
        "targets": len(TARGETS),
        "duration_s": DURATION_S,
        "engine": engine,
        "engine_sustained_per_s": max(sustained, default=0.0),
        "fping": fping,
        "udp": udp,
        "udp_key_cost_us_per_probe": udp[1]["cpu_us_per_probe"] - udp[0]["cpu_us_per_probe"],
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    lines = [f"{'run':<16} {'sent':>8} {'loss':>7} {'probes/s':>10} {'CPU us/probe':>13}"]
    for row in result["engine"]:
        lines.append(_row(f"engine {row['offered_per_s']}/s", row))
    lines.append(_row("fping -i 0", result["fping"]))
    for row in result["udp"]:
        lines.append(_row(f"udp {'keyed' if row['keyed'] else 'unkeyed'} {UDP_RATE}/s", row))
    lines.append(f"the key costs {result['udp_key_cost_us_per_probe']:.1f} us per udp probe")
    lines.append(f"engine sustained with no loss: {result['engine_sustained_per_s']:.0f}/s")
    lines.append(f"load average: {result['load_average']}")
    return "\n".join(lines)


def _row(name: str, row: dict[str, Any]) -> str:
    return (
        f"{name:<16} {row['sent']:>8} {row['loss']:>7.2%} {row['achieved_per_s']:>10.0f} "
        f"{row['cpu_us_per_probe'] or 0:>13.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
