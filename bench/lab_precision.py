"""How faithful is the lab? RTT p50 against the configured delay, loss against its
binomial bound, while all 15 paths carry 2,000 packets/s in total.

    python -m bench.lab_precision            (as root; writes bench/results/lab_precision.json)

Load: one fping per PoP pinging the three uplink addresses every 7.5 ms (5 x 3 x 133/s).
Measurement: a raw ICMP socket per PoP with kernel receive timestamps, 20 probes/s per
path on top of the load, so the figures are not limited by fping's printed resolution.
fping's own p50 on the same paths in the same run is reported next to it.
"""

import json
import math
import os
import select
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from borderpath.lab import netns
from borderpath.lab.frames import checksum
from borderpath.lab.lab import Lab
from borderpath.lab.measure import fping_rtts, summary

DURATION_S = 10.0
PROBE_INTERVAL_S = 0.05
LOSSY_PATH = ("cm", "nrt")
LOSSY_ONE_WAY = 0.05
SO_TIMESTAMPNS = 35
Z_99 = 2.576
RESULTS = Path(__file__).parent / "results" / "lab_precision.json"


def main() -> int:
    name = f"bench{os.getpid() % 10000}"
    lab = Lab.up(name)
    try:
        uplink, pop = LOSSY_PATH
        lab.apply([{"uplink": uplink, "pop": pop, "loss": LOSSY_ONE_WAY}])
        result = measure(lab)
    finally:
        lab.down()
    result["load_average"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


def measure(lab: Lab) -> dict[str, Any]:
    status = lab.status()
    configured = lab.configured_rtts()
    addresses = {u["address"]: u["name"] for u in status["uplinks"]}
    pops = [p["name"] for p in status["pops"]]
    count = int(DURATION_S * 1000 / 7.5)
    with ThreadPoolExecutor(len(pops) + 1) as pool:
        load = {
            p: pool.submit(fping_rtts, lab.namespace(p), list(addresses), count, 7.5) for p in pops
        }
        raw = pool.submit(raw_pings, lab, pops, list(addresses))
        samples = raw.result()
    rows: list[dict[str, Any]] = []
    for pop in pops:
        fping_samples = load[pop].result()
        for address, uplink in addresses.items():
            expected = configured[(uplink, pop)]
            measured, _ = summary(samples[(pop, address)])
            fping_p50, _ = summary(fping_samples[address])
            both = samples[(pop, address)] + fping_samples[address]
            rows.append(
                {
                    "path": f"{uplink}/{pop}",
                    "set_rtt_ms": expected,
                    "p50_ms": measured,
                    "error_ms": None if measured is None else round(measured - expected, 3),
                    "fping_p50_ms": fping_p50,
                    "loss": round(summary(both)[1], 4),
                    "samples": len(both),
                }
            )
    lossy = next(r for r in rows if r["path"] == "/".join(LOSSY_PATH))
    expected_loss = 1 - (1 - LOSSY_ONE_WAY) ** 2
    bound = Z_99 * math.sqrt(expected_loss * (1 - expected_loss) / lossy["samples"])
    return {
        "rows": rows,
        "packets_per_second": len(pops) * len(addresses) * (1000 / 7.5 + 1 / PROBE_INTERVAL_S),
        "max_abs_error_ms": max(abs(r["error_ms"]) for r in rows if r["error_ms"] is not None),
        "lossy_path": {
            "path": "/".join(LOSSY_PATH),
            "expected": expected_loss,
            "observed": lossy["loss"],
            "bound_99": round(bound, 4),
            "within": abs(lossy["loss"] - expected_loss) <= bound,
        },
    }


def raw_pings(
    lab: Lab, pops: list[str], targets: list[str]
) -> dict[tuple[str, str], list[float | None]]:
    """Echo requests from each PoP to each target; RTT from the kernel's receive stamp."""
    sockets = {}
    for pop in pops:
        sock = netns.socket_in(
            lab.namespace(pop), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP
        )
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        sockets[sock] = pop
    identifier = os.getpid() & 0xFFFF
    sent: dict[tuple[str, str, int], int] = {}
    rtts: dict[tuple[str, str, int], float] = {}
    sequence, next_send, end = 0, time.monotonic(), time.monotonic() + DURATION_S
    while time.monotonic() < end + 1.0:
        now = time.monotonic()
        if now >= next_send and now < end:
            sequence += 1
            for sock, pop in sockets.items():
                for target in targets:
                    sent[(pop, target, sequence)] = time.time_ns()
                    sock.sendto(echo(identifier, sequence), (target, 0))
            next_send += PROBE_INTERVAL_S
        readable, _, _ = select.select(list(sockets), [], [], max(0.0, min(next_send - now, 0.01)))
        for sock in readable:
            read_replies(sock, sockets[sock], identifier, sent, rtts)
    for sock in sockets:
        sock.close()
    out: dict[tuple[str, str], list[float | None]] = {}
    for key in sent:
        out.setdefault(key[:2], []).append(rtts.get(key))
    return out


def read_replies(
    sock: socket.socket,
    pop: str,
    identifier: int,
    sent: dict[tuple[str, str, int], int],
    rtts: dict[tuple[str, str, int], float],
) -> None:
    while True:
        try:
            packet, ancillary, _, address = sock.recvmsg(2048, 64)
        except BlockingIOError:
            return
        if (
            len(packet) < 28
            or packet[20] != 0
            or struct.unpack("!H", packet[24:26])[0] != identifier
        ):
            continue
        sequence = struct.unpack("!H", packet[26:28])[0]
        stamp = next(
            (
                struct.unpack("@qq", data[:16])
                for level, kind, data in ancillary
                if kind == SO_TIMESTAMPNS
            ),
            None,
        )
        key = (pop, address[0], sequence)
        if stamp and key in sent:
            rtts[key] = (stamp[0] * 1e9 + stamp[1] - sent[key]) / 1e6


def echo(identifier: int, sequence: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, identifier, sequence & 0xFFFF) + b"borderpath-bench"
    return header[:2] + struct.pack("!H", checksum(header)) + header[4:]


def table(result: dict[str, Any]) -> str:
    lines = [f"{'path':<8} {'set RTT':>8} {'p50':>9} {'error':>8} {'fping p50':>10} {'loss':>6}"]
    for row in result["rows"]:
        set_rtt, p50, error = row["set_rtt_ms"], row["p50_ms"], row["error_ms"]
        lines.append(
            f"{row['path']:<8} {set_rtt:8.1f} {p50:9.3f} {error:+8.3f} "
            f"{row['fping_p50_ms']:10.2f} {row['loss']:6.1%}"
        )
    lossy = result["lossy_path"]
    rate, worst = result["packets_per_second"], result["max_abs_error_ms"]
    observed, expected, bound = lossy["observed"], lossy["expected"], lossy["bound_99"]
    lines.append(f"max |error| {worst:.3f} ms at {rate:.0f} packets/s")
    lines.append(f"loss on {lossy['path']}: {observed:.2%} vs {expected:.2%} ± {bound:.2%} (99 %)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
