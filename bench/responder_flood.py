"""The PoP responder under a flood of spoofed sources, while a genuine agent probes it.

    python -m bench.responder_flood     (as root; writes bench/results/responder_flood.json)

A namespace of our own holds a real ``borderpath responder`` process on 198.18.0.1, a
genuine agent engine probing it by UDP echo from 198.18.1.1 every 10 ms, and a flooder
process sending echo requests from spoofed sources in 100.64.0.0/10 on a raw socket at
FLOOD_PPS; the answers to the spoofed sources leave by a veth whose peer discards them
(sent to a MAC address nobody has). Each phase (PHASES) floods from 1 k, 64 k or 1 M
distinct addresses, every request a valid one (the rate limiter's worst case); the
last phase against a keyed responder, whose flood is unsigned. Measured per phase:
the responder's CPU per request it read (/proc/PID/stat), requests the kernel dropped
for a full socket buffer, answers sent to spoofed sources (within their network's
rate: an answer costs a send, a refusal does not), and the genuine probes answered
(goal: at least 99 %).

Then the rate-limit table alone, in this process: µs per packet at 1 k, 64 k and 1 M
distinct networks (IPv6 /64s of 2001:db8::/32, as strings: no packet is sent), for the
bounded table and for its anchor, the per-address table the responder had before
(forgotten idle entries by rebuilding the whole table once 65,536 sources were known),
which is timed on ANCHOR_PACKETS packets only past that point.
"""

import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.lab import netns
from borderpath.probes import Engine, wire
from borderpath.probes.config import ProbingConfig
from borderpath.probes.ratelimit import RateLimit

RESPONDER = "198.18.0.1"
CLIENT = "198.18.1.1"
SPOOFED_BASE = int.from_bytes(socket.inet_aton("100.64.0.0"), "big")
UDP_PORT = 862
FLOOD_PPS = 12_000
"""What a Python responder on a shared 2-core machine keeps up with; past that the kernel
drops requests (genuine ones too) for want of CPU, whatever the rate limit does."""
PHASES = (
    (1_000, 300_000, False),
    (65_536, 300_000, False),
    (1_000_000, 1_000_000, False),
    (1_000_000, 300_000, True),
)
"""(distinct sources, requests, keyed responder)."""
REQUESTS = 1_000_000
"""Packets per table measurement."""
DISTINCT = (1_000, 65_536, 1_000_000)
GENUINE_INTERVAL_S = 0.01
RATE_PPS, BURST = 200.0, 400.0
ANCHOR_SIZE = 65536
ANCHOR_PACKETS = 200
RESULTS = Path(__file__).parent / "results" / "responder_flood.json"


def main() -> int:
    namespace = f"bench{os.getpid() % 10000}-flood"
    netns.add(namespace)
    key_dir = Path(tempfile.mkdtemp(prefix=namespace))
    key = write_key(key_dir)
    try:
        netns.ip_batch(
            namespace,
            [
                f"address add {RESPONDER}/32 dev lo",
                f"address add {CLIENT}/32 dev lo",
                "link add sink type veth peer name drain",
                "link set sink up",
                "link set drain up",
                "address add 198.18.2.1/30 dev sink",
                "neighbour add 198.18.2.2 lladdr 02:00:00:00:00:02 dev sink nud permanent",
                "route add 100.64.0.0/10 via 198.18.2.2 dev sink",
            ],
        )
        phases = [
            flood_phase(namespace, key_dir, distinct, requests, key if keyed else None)
            for distinct, requests, keyed in PHASES
        ]
    finally:
        netns.delete(namespace)
        shutil.rmtree(key_dir)
    result = {
        "flood_pps": FLOOD_PPS,
        "phases": phases,
        "table": [table_cost(distinct) for distinct in DISTINCT],
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    RESULTS.write_text(json.dumps(result, indent=1))
    print(report(result))
    return 0


def flood_phase(
    namespace: str, work: Path, distinct: int, requests: int, key: Path | None
) -> dict[str, Any]:
    """One responder, one flood from ``distinct`` sources, the genuine client throughout."""
    with responder_process(namespace, [RESPONDER], work, key) as pid:
        dropped_before, cpu_before = _rcvbuf_errors(namespace), _cpu_s(pid)
        replied_before = _replies_sent(namespace)
        with netns.entered(namespace):
            flooder = multiprocessing.get_context("fork").Process(
                target=flood, args=(distinct, requests)
            )
            flooder.start()
            genuine = asyncio.run(_genuine(key, flooder.is_alive))
            flooder.join()
        cpu = _cpu_s(pid) - cpu_before
        dropped = _rcvbuf_errors(namespace) - dropped_before
        replied = _replies_sent(namespace) - replied_before
    read = requests - dropped + len(genuine)
    answered = sum(1 for result in genuine if result.ok)
    return {
        "distinct_sources": distinct,
        "requests": requests,
        "keyed": key is not None,
        "dropped_by_kernel": dropped,
        "replied_to_spoofed": replied,
        "responder_us_per_request": cpu / read * 1e6,
        "genuine_sent": len(genuine),
        "genuine_answered": answered / len(genuine) if genuine else 0.0,
    }


def write_key(directory: Path) -> Path:
    """A fresh UDP echo key file in ``directory``."""
    path = directory / "pop.key"
    path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    return path


@contextlib.contextmanager
def responder_process(
    namespace: str, listen: list[str], work: Path, key: Path | None, rate_pps: float = RATE_PPS
) -> Iterator[int]:
    """A ``borderpath responder`` in ``namespace``, listening once this yields its pid."""
    config = work / "responder.toml"
    config.write_text(f"listen = []\nrate_pps = {rate_pps}\nburst = {2 * rate_pps}\n")
    argv = [sys.executable, "-m", "borderpath.probes.responder", "--config", str(config)]
    argv += ["--cert-dir", str(work)]
    argv += [argument for address in listen for argument in ("--listen", address)]
    argv += ["--key-file", str(key)] if key else []
    process = subprocess.Popen(
        netns.exec_argv(namespace, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # it prints one line once listening
        yield process.pid
    finally:
        process.terminate()
        process.wait()


def flood(distinct: int, requests: int) -> None:
    """Spoofed echo requests, paced at FLOOD_PPS (runs in a child process)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    destination = socket.inet_aton(RESPONDER)
    payload = wire.udp_echo(wire.UDP_REQUEST, 1, 2, 3)
    udp = struct.pack("!HHHH", 40000, UDP_PORT, 8 + len(payload), 0) + payload
    head = struct.Struct("!BBHHHBBH4s4s")
    started = time.monotonic()
    for index in range(requests):
        source = (SPOOFED_BASE + index % distinct).to_bytes(4, "big")
        packet = head.pack(0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, source, destination) + udp
        sock.sendto(packet, (RESPONDER, 0))
        if index % 256 == 0:
            ahead = started + index / FLOOD_PPS - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    sock.close()


async def _genuine(key: Path | None, flooding: Callable[[], bool]) -> list[ProbeResult]:
    """The agent's udp probes from CLIENT for as long as the flood lasts."""
    uplink = UplinkConfig(
        name="lo", carrier="none", interface="lo", gateway="127.0.0.1", source=CLIENT
    )
    pop = PopConfig(name="pop", address=RESPONDER, protocols=["udp"], key_file=key)
    probing = ProbingConfig(interval=GENUINE_INTERVAL_S, timeout=1.0, batch_interval=0.1)
    results: list[ProbeResult] = []
    engine = Engine([uplink], [pop], probing, results.extend)
    await engine.start()
    while flooding():
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the last probes' answers
    await engine.stop()
    return results


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _replies_sent(namespace: str) -> int:
    """Packets out of the sink veth: the answers to spoofed sources (within their rate)."""
    path = "/sys/class/net/sink/statistics/tx_packets"
    return int(netns.run_in(namespace, ["cat", path]))


def _rcvbuf_errors(namespace: str) -> int:
    lines = [
        line.split() for line in netns.run_in(namespace, ["cat", "/proc/net/snmp"]).splitlines()
    ]
    names, values = [line for line in lines if line[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


class PerAddressTable:
    """The anchor: the table the responder had before, one bucket per source address,
    rebuilt without its idle entries whenever a new source came to a full table."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, source: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= ANCHOR_SIZE and source not in self._buckets:
            refill = self.burst / self.rate
            self._buckets = {s: b for s, b in self._buckets.items() if now - b[1] < refill}
        allowed = tokens >= 1
        self._buckets[source] = (tokens - allowed, now)
        return allowed


def table_cost(distinct: int) -> dict[str, Any]:
    """µs per packet of each table over REQUESTS packets from ``distinct`` networks; the
    anchor, past its limit, over ANCHOR_PACKETS only, as each then costs a rebuild."""
    sources = [f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1" for n in range(distinct)]
    packets = (sources * (REQUESTS // distinct + 1))[:REQUESTS]
    bounded, anchor = RateLimit(RATE_PPS, BURST), PerAddressTable(RATE_PPS, BURST)
    timed = {"bounded": (bounded.allow, packets), "anchor": (anchor.allow, packets)}
    if distinct > ANCHOR_SIZE:
        for source in packets[:ANCHOR_SIZE]:
            anchor.allow(source)
        timed["anchor"] = (anchor.allow, packets[ANCHOR_SIZE : ANCHOR_SIZE + ANCHOR_PACKETS])
    row: dict[str, Any] = {"distinct_sources": distinct}
    for name, (allow, sample) in timed.items():
        started = time.perf_counter()
        for source in sample:
            allow(source)
        row[f"{name}_us_per_packet"] = (time.perf_counter() - started) / len(sample) * 1e6
    row["bounded_networks_kept"] = len(bounded)
    return row


def report(result: dict[str, Any]) -> str:
    lines = [
        f"flood of spoofed requests at {result['flood_pps']}/s, "
        f"genuine udp probes every {GENUINE_INTERVAL_S * 1000:.0f} ms",
        f"{'sources':>9} {'requests':>9} {'keyed':>6} {'dropped':>8} {'replied':>8} "
        f"{'us/request':>11} {'genuine':>8} {'answered':>9}",
    ]
    for row in result["phases"]:
        lines.append(
            f"{row['distinct_sources']:>9} {row['requests']:>9} "
            f"{'yes' if row['keyed'] else 'no':>6} "
            f"{row['dropped_by_kernel']:>8} {row['replied_to_spoofed']:>8} "
            f"{row['responder_us_per_request']:>11.1f} "
            f"{row['genuine_sent']:>8} {row['genuine_answered']:>9.2%}"
        )
    lines.append(f"{'sources':>9} {'table us/pkt':>13} {'anchor us/pkt':>14} {'kept':>7}")
    for row in result["table"]:
        lines.append(
            f"{row['distinct_sources']:>9} {row['bounded_us_per_packet']:>13.2f} "
            f"{row['anchor_us_per_packet']:>14.1f} {row['bounded_networks_kept']:>7}"
        )
    lines.append(f"load average: {result['load_average']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
