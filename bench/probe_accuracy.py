"""How close the engine's RTT p50 comes to the lab's configured delay, next to fping.

    python -m bench.probe_accuracy      (as root; writes bench/results/probe_accuracy.json)

A lab of its own (default Shanghai topology; ``lab up`` starts the PoP responders).
Uplink by uplink, the engine pings the five PoPs SAMPLES times (every 20 ms per PoP), then fping
does the same over the same uplink (``-S`` its source address, through the same probe
plumbing): the same load on the lab's user-space wire for both. Last, the engine's TCP
and UDP probes (keyed, as the lab's agents probe) of every path at once (for
information: fping has no TCP or UDP). The error is
p50 - (delay out + delay in) as the lab reports them; the lab adds 1 ms of jitter per
direction, so a p50 of SAMPLES samples wanders by about 1.8 / sqrt(SAMPLES) ms.
"""

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing
from borderpath.probes.config import ProbingConfig

SAMPLES = 200
PERIOD_MS = 20
JITTER_MS = 1.0
NOISE_FLOOR_MS = math.sqrt(2 / math.pi) * 1.2533 * math.sqrt(2) * JITTER_MS / math.sqrt(SAMPLES)
"""Mean |p50 - truth| that the lab's jitter alone gives a perfect meter: the median of n
normal samples has a spread of 1.2533 sigma / sqrt(n), with sigma = sqrt(2) x 1 ms."""
RESULTS = Path(__file__).parent / "results" / "probe_accuracy.json"


def main() -> int:
    lab = Lab.up(f"bacc{os.getpid() % 10000}")
    try:
        result = measure(lab)
    finally:
        lab.down()
    result["load_average"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


def measure(lab: Lab) -> dict[str, Any]:
    status = lab.status()
    truth = {
        (uplink, pop, protocol): rtt
        for protocol in ("icmp", "tcp", "udp")
        for (uplink, pop), rtt in lab.configured_rtts(protocol).items()
    }
    uplinks = [
        UplinkConfig(
            name=u["name"],
            carrier=u["carrier"],
            interface=u["interface"],
            gateway=u["gateway"],
            source=u["address"],
        )
        for u in status["uplinks"]
    ]
    pops = [
        PopConfig(
            name=p["name"],
            address=p["probe_address"],
            protocols=["icmp", "tcp", "udp"],
            key_file=p["key_file"],  # keyed udp, as the lab's agents probe
        )
        for p in status["pops"]
    ]
    probing = ProbingConfig(interval=PERIOD_MS / 1000, timeout=1.0)
    plumbing = Plumbing(uplinks, probing)
    results: list[ProbeResult] = []

    async def run(**only: set[str]) -> None:
        engine = Engine(uplinks, pops, probing, results.extend, rounds=SAMPLES, **only)
        await engine.start()
        await engine.finished()
        await engine.stop()

    branch = lab.namespace("branch")
    fping: dict[tuple[str, str], list[float]] = {}
    with netns.entered(branch):
        plumbing.apply()
        try:
            for uplink in uplinks:
                # The same load on the lab as fping's: one uplink's ICMP at a time.
                asyncio.run(run(only_uplinks={uplink.name}, only_protocols={"icmp"}))
                targets = {str(p.address): p.name for p in pops}
                samples = _fping(branch, list(targets), str(uplink.source))
                for address, rtts in samples.items():
                    fping[uplink.name, targets[address]] = [r for r in rtts if r is not None]
            asyncio.run(run(only_protocols={"tcp", "udp"}))
        finally:
            plumbing.remove()
    rows = []
    for uplink in uplinks:
        for pop in pops:
            row: dict[str, Any] = {"path": f"{uplink.name}/{pop.name}"}
            row["truth_ms"] = truth[uplink.name, pop.name, "icmp"]
            for protocol in ("icmp", "tcp", "udp"):
                series = (uplink.name, pop.name, protocol)
                row[f"{protocol}_error_ms"] = (
                    statistics.median(_rtts(results, series)) - truth[series]
                )
            row["fping_error_ms"] = (
                statistics.median(fping[uplink.name, pop.name]) - row["truth_ms"]
            )
            rows.append(row)
    return {
        "samples_per_series": SAMPLES,
        "noise_floor_ms": NOISE_FLOOR_MS,
        "fping_resolution": "0.1 ms below 100 ms, 1 ms above (its -C output)",
        "paths": rows,
        "mean_abs_error_ms": {
            key: statistics.fmean(abs(row[key]) for row in rows)
            for key in ("icmp_error_ms", "tcp_error_ms", "udp_error_ms", "fping_error_ms")
        },
    }


def _rtts(results: list[ProbeResult], series: tuple[str, str, str]) -> list[float]:
    rtts = []
    for result in results:
        if result.series == series and result.rtt_ms is not None:
            rtts.append(result.rtt_ms)
    return rtts


def _fping(namespace: str, targets: list[str], source: str) -> dict[str, list[float | None]]:
    """fping over one uplink (``-S``: its source address, which the probe plumbing's
    source rule routes through the uplink; Debian's fping 5.1 has no fwmark option)."""
    argv = ["fping", "-q", "-S", source, "-C", str(SAMPLES), "-p", str(PERIOD_MS)]
    argv += ["-t", "1000", *targets]
    done = subprocess.run(
        netns.exec_argv(namespace, argv), capture_output=True, text=True, check=False
    )
    parsed: dict[str, list[float | None]] = {}
    for line in done.stderr.splitlines():
        target, separator, samples = line.partition(" : ")
        if separator:
            parsed[target.strip()] = [None if v == "-" else float(v) for v in samples.split()]
    return parsed


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'path':<8} {'truth':>7} {'icmp':>7} {'tcp':>7} {'udp':>7} {'fping':>7}"
        "  (p50 - truth, ms)"
    ]
    for row in result["paths"]:
        lines.append(
            f"{row['path']:<8} {row['truth_ms']:>7.1f} {row['icmp_error_ms']:>7.3f} "
            f"{row['tcp_error_ms']:>7.3f} {row['udp_error_ms']:>7.3f} {row['fping_error_ms']:>7.3f}"
        )
    means = result["mean_abs_error_ms"]
    lines.append(
        "mean |error|     "
        + " ".join(
            f"{means[k]:>7.3f}"
            for k in ("icmp_error_ms", "tcp_error_ms", "udp_error_ms", "fping_error_ms")
        )
    )
    lines.append(
        f"noise floor (a perfect meter, this many samples): {result['noise_floor_ms']:.3f} ms; "
        f"fping resolution: {result['fping_resolution']}"
    )
    lines.append(f"load average: {result['load_average']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
