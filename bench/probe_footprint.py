"""Memory of a process running the engine with all five protocols against the lab.

    python -m bench.probe_footprint     (as root; writes bench/results/probe_footprint.json)

A child process (so nothing of this one is counted) enters the branch namespace of a
lab of its own, probes every path with icmp, tcp, udp, quic and http for DURATION_S at
the lab agent's pace, and reports its peak and current RSS and whether scapy was ever
imported; then it runs one traceroute and reports the same again (scapy is imported
only for traces).
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from borderpath.lab.lab import Lab

DURATION_S = 20.0
RESULTS = Path(__file__).parent / "results" / "probe_footprint.json"

CHILD = """
import asyncio, json, resource, sys
from borderpath.lab import netns
from borderpath.lab.lab import Lab
from borderpath.probes import Engine, Plumbing
from borderpath.probes.config import ProbingConfig, TraceConfig
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.trace import trace_path

def rss_mb():
    status = open("/proc/self/status").read().split("\\n")
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
            "peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024,
            "scapy_imported": any(name.startswith("scapy") for name in sys.modules)}

lab = Lab(sys.argv[1]); status = lab.status(); duration = float(sys.argv[2])
uplinks = [UplinkConfig(name=u["name"], carrier=u["carrier"], interface=u["interface"],
           gateway=u["gateway"], source=u["address"]) for u in status["uplinks"]]
pops = [PopConfig(name=p["name"], address=p["probe_address"], tls_ca_file=p["certificate"])
        for p in status["pops"]]
probing = ProbingConfig(interval=0.2, intervals={"quic": 1.0, "http": 1.0})
results = []
counted = {"results": 0, "ok": 0}
def on_batch(batch):
    counted["results"] += len(batch); counted["ok"] += sum(r.ok for r in batch)

async def main():
    engine = Engine(uplinks, pops, probing, on_batch)
    await engine.start(); await asyncio.sleep(duration); await engine.stop()

with netns.entered(lab.namespace("branch")):
    plumbing = Plumbing(uplinks, probing); plumbing.apply()
    try:
        asyncio.run(main())
        probing_only = rss_mb()
        asyncio.run(trace_path(pops[0].address.exploded, 0x4251, uplinks[0].source.exploded,
                               TraceConfig(max_hops=12, hop_timeout=0.5, traces=1)))
        after_trace = rss_mb()
    finally:
        plumbing.remove()
print(json.dumps({"probing": probing_only, "after_trace": after_trace, **counted}))
"""


def main() -> int:
    name = f"bfoot{os.getpid() % 10000}"
    lab = Lab.up(name)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(DURATION_S)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        lab.down()
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["duration_s"] = DURATION_S
    result["series"] = 3 * 5 * 5
    result["load_average"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    lines = [f"{'after':<22} {'RSS MB':>8} {'peak MB':>8}  scapy imported"]
    for key, label in (
        ("probing", f"{result['duration_s']:.0f} s of 75 series"),
        ("after_trace", "one traceroute"),
    ):
        row = result[key]
        lines.append(
            f"{label:<22} {row['rss_mb']:>8.1f} {row['peak_rss_mb']:>8.1f}  {row['scapy_imported']}"
        )
    lines.append(f"results: {result['results']} ({result['ok']} ok)")
    lines.append(f"load average: {result['load_average']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
