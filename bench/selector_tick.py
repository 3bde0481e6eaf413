"""One selector tick over 10,000 series (goal: at most 10 ms).

    python -m bench.selector_tick

400 PoPs x 5 uplinks x 5 protocols = 10,000 series, windows full (320 probes each, a
minute at 200 ms), then ticks timed at a steady state with fresh probes between ticks.
The first (cold) tick judges every series and every PoP and is reported apart.
Writes bench/results/selector_tick.json.
"""

import json
import os
import random
import statistics
import time
from pathlib import Path

from borderpath.core.protocols import PROTOCOLS
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.selector import Selector, SelectorConfig

POPS = 400
UPLINKS = 5
INTERVAL_S = 0.2
TICKS = 50
GOAL_MS = 10.0
RESULT = Path(__file__).parent / "results" / "selector_tick.json"


def build() -> Selector:
    uplinks = [
        UplinkConfig(name=f"u{i}", carrier="x", interface=f"u{i}", gateway=f"100.64.{i}.1")
        for i in range(UPLINKS)
    ]
    pops = [
        PopConfig(name=f"p{i}", address=f"198.18.{i // 250}.{i % 250 + 1}") for i in range(POPS)
    ]
    return Selector(SelectorConfig(), uplinks, pops)


def batch(selector: Selector, now: float, rng: random.Random) -> list[ProbeResult]:
    """One probe of every series at ``now``: 0.5 % loss, RTT 30-200 ms with jitter."""
    time_ns = int(now * 1e9)
    results = []
    for pop_index, pop in enumerate(selector.layout.pops):
        for uplink_index, uplink in enumerate(selector.layout.uplinks):
            base = 30 + (pop_index * 7 + uplink_index * 13) % 170
            for protocol in PROTOCOLS:
                if rng.random() < 0.005:
                    results.append(
                        ProbeResult(time_ns, uplink, pop, protocol, False, error=ErrorKind.TIMEOUT)
                    )
                else:
                    rtt = base + abs(rng.gauss(0, 2))
                    results.append(ProbeResult(time_ns, uplink, pop, protocol, True, rtt_ms=rtt))
    return results


def main() -> None:
    rng = random.Random(1)
    selector = build()
    now = 1_700_000_000.0
    samples = selector.config.windows.samples
    for _ in range(samples):
        selector.ingest(batch(selector, now, rng))
        now += INTERVAL_S
    started = time.perf_counter()
    selector.tick(now)
    cold_ms = (time.perf_counter() - started) * 1000
    ingest_s, tick_ms = [], []
    for _ in range(TICKS):
        fresh = batch(selector, now, rng)
        started = time.perf_counter()
        selector.ingest(fresh)
        ingest_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        selector.tick(now)
        tick_ms.append((time.perf_counter() - started) * 1000)
        now += INTERVAL_S
    series = POPS * UPLINKS * len(PROTOCOLS)
    result = {
        "series": series,
        "paths": POPS * UPLINKS,
        "window_samples": samples,
        "ticks": TICKS,
        "cold_tick_ms": round(cold_ms, 2),
        "tick_ms_p50": round(statistics.median(tick_ms), 2),
        "tick_ms_max": round(max(tick_ms), 2),
        "goal_ms": GOAL_MS,
        "ingest_us_per_result": round(statistics.median(ingest_s) / series * 1e6, 2),
        "loadavg": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    header = ("series", "cold tick ms", "tick p50 ms", "tick max ms", "goal ms", "us/result")
    print(" ".join(f"{h:>12}" for h in header))
    row = [series, result["cold_tick_ms"], result["tick_ms_p50"], result["tick_ms_max"]]
    row += [GOAL_MS, result["ingest_us_per_result"]]
    print(" ".join(f"{value:>12}" for value in row))


if __name__ == "__main__":
    main()
