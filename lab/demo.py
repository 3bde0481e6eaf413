"""``borderpath demo``: bring the lab up, show what it built and measure every path.

The agent's demo replaces this once the agent exists; until then it shows the
instrument everything else is measured against.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from borderpath.lab.lab import Lab
from borderpath.lab.measure import fping_rtts, summary
from borderpath.lab.report import describe

DEMO_NAME = "bpdemo"
SAMPLES = 100
PERIOD_MS = 20


def run_demo(scenario: Path | None = None) -> int:
    Lab(DEMO_NAME).down()  # a demo interrupted earlier leaves nothing in the way
    print("Building the emulated China border (network namespaces)...", flush=True)
    lab = Lab.up(DEMO_NAME, scenario=scenario)
    try:
        print(describe(lab.status()), flush=True)
        print(f"\nMeasuring every path with fping ({SAMPLES} pings each, from the PoP side)...")
        print(measured_table(lab))
    finally:
        lab.down()
        print("\nLab taken down.")
    return 0


def measured_table(lab: Lab) -> str:
    status = lab.status()
    one_way = {
        (row["uplink"], row["pop"], row["direction"]): row["delay_ms"]
        for row in status["conditions"]
        if row["protocol"] == "icmp"
    }
    addresses = {u["address"]: u["name"] for u in status["uplinks"]}
    with ThreadPoolExecutor(len(status["pops"])) as pool:
        runs = {
            pop["name"]: pool.submit(
                fping_rtts, lab.namespace(pop["name"]), list(addresses), SAMPLES, PERIOD_MS
            )
            for pop in status["pops"]
        }
    lines = [f"{'path':<8} {'set RTT':>9} {'measured p50':>13} {'error':>7} {'loss':>7}"]
    for pop, run in runs.items():
        for address, samples in run.result().items():
            uplink = addresses[address]
            expected = one_way[(uplink, pop, "out")] + one_way[(uplink, pop, "in")]
            median, loss = summary(samples)
            measured = f"{median:10.2f} ms" if median is not None else "      lost"
            error = f"{median - expected:+6.2f}" if median is not None else "     -"
            lines.append(
                f"{uplink}/{pop:<5} {expected:6.1f} ms {measured:>13} {error:>7} {loss:6.1%}"
            )
    return "\n".join(lines)
