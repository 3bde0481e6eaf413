"""The impairment engine: a user-space wire for every emulated path.

This kernel has no netem, so each path is two veth ends in the border namespace and
this process moves frames between them: it reads a frame on one end, decides from the
path's current conditions whether to drop it (blackhole, policing, loss), forges the
answers a censor would inject, and sends it out of the other end when its delay is up.
Departures wait on a heap keyed by the monotonic clock; select() sleeps with
microsecond resolution and the timer slack is set to 1 us, so a frame leaves within
tens of microseconds of its due time.

Run by ``lab up`` inside the border namespace: ``python -m borderpath.lab.engine DIR``.
"""

import contextlib
import ctypes
import dataclasses
import heapq
import json
import logging
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from borderpath.lab.conditions import Conditions, ConditionTable, Key
from borderpath.lab.frames import forge, ipv4_ttl, protocol_class, time_exceeded, with_ttl
from borderpath.lab.hops import hop_addresses
from borderpath.lab.layout import LabFiles
from borderpath.lab.scenario import Event, initial_conditions
from borderpath.lab.topology import LabPlan

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
"""Kernel receive timestamps (Python 3.11 does not export the name)."""
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PR_SET_TIMERSLACK = 29
MAX_FRAME = 65_535
READS_PER_WAKE = 64
STATE_INTERVAL_S = 0.5
"""How often the counters reach engine.json (events are written as they apply)."""

MAX_LATENESS_S = 0.001
LATENESS_WEIGHT = 0.05
"""How fast the estimate of the engine's own wake-up lateness follows what it measures."""
_TIMESPEC = struct.Struct("@qq")

HOP_ANSWER_TTL = 255
"""Routers answer with TTL 255 less the hops back to the sender."""

COUNTERS = ("passed", "lost", "blackholed", "policed", "forged")
log = logging.getLogger("borderpath.lab.engine")


@dataclasses.dataclass(eq=False)
class Port:
    """One end of a path's wire: frames read here travel ``direction``, out of ``peer``."""

    sock: socket.socket
    uplink: str
    pop: str
    direction: str
    pop_index: int
    backbone: str
    """The route its path takes unless the conditions name another."""
    peer: "Port | None" = None


class Policer:
    """A token bucket in bits: conforming frames pass, the excess is dropped."""

    BURST_S = 0.05

    def __init__(self) -> None:
        self.tokens = 0.0
        self.updated = 0.0

    def admit(self, rate_kbps: float, bits: int, now: float) -> bool:
        rate = rate_kbps * 1000
        burst = max(rate * self.BURST_S, 12_000.0)
        self.tokens = min(burst, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens < bits:
            return False
        self.tokens -= bits
        return True


class Engine:
    def __init__(
        self, plan: LabPlan, files: LabFiles, table: ConditionTable, events: list[Event]
    ) -> None:
        self.plan = plan
        self.files = files
        self.table = table
        self.scenario_events = events
        self.started_unix: float | None = None
        self.started = 0.0
        self.pending: list[tuple[float, int, Event]] = []
        self.applied: list[dict[str, Any]] = []
        self.heap: list[tuple[float, int, socket.socket, bytes]] = []
        self.sequence = 0
        self.random = random.Random()
        self.counters: dict[Key, list[int]] = {}
        self.policers: dict[Key, Policer] = {}
        self.hop_cache: dict[tuple[str, int, str], list[bytes | None]] = {}
        self.ports: dict[int, Port] = {}
        self.control = self._open_control()
        self.stopping = False
        self.state_due = 0.0
        self.lateness = 0.0
        self.realtime_offset = time.time() - time.monotonic()

    def open_wires(self) -> None:
        for path in self.plan.paths:
            where = (path.uplink.name, path.pop.name)
            route = (self.plan.pops.index(path.pop) + 1, path.uplink.backbone)
            carrier_side = Port(_packet_socket(path.wire_carrier), *where, "out", *route)
            pop_side = Port(_packet_socket(path.wire_pop), *where, "in", *route)
            carrier_side.peer, pop_side.peer = pop_side, carrier_side
            self.ports[carrier_side.sock.fileno()] = carrier_side
            self.ports[pop_side.sock.fileno()] = pop_side

    def run(self) -> None:
        readers: list[Any] = [port.sock for port in self.ports.values()] + [self.control]
        self.write_state(ready=True)
        while not self.stopping:
            now = time.monotonic()
            self.send_due(now)
            self.apply_due(now)
            if now >= self.state_due:
                self.write_state(ready=True)
            try:
                readable, _, _ = select.select(readers, [], [], self.timeout(time.monotonic()))
            except InterruptedError:
                continue
            now = time.monotonic()
            for sock in readable:
                if sock is self.control:
                    self.read_control(now)
                else:
                    self.drain(self.ports[sock.fileno()], now)
        self.write_state(ready=False)

    def timeout(self, now: float) -> float:
        """Sleep until the next due time, less the lateness this engine usually wakes with."""
        wake = self.state_due
        if self.heap:
            wake = min(wake, self.heap[0][0] - self.lateness)
        if self.pending:
            wake = min(wake, self.pending[0][0])
        return max(0.0, wake - now)

    def drain(self, port: Port, now: float) -> None:
        """Read what has arrived; each frame's delay counts from its kernel arrival time."""
        for _ in range(READS_PER_WAKE):
            try:
                frame, ancillary, _, _ = port.sock.recvmsg(MAX_FRAME, 64)
            except BlockingIOError:
                return
            self.handle(port, frame, self.arrival(ancillary, now))

    def arrival(self, ancillary: list[tuple[int, int, bytes]], now: float) -> float:
        for level, kind, data in ancillary:
            if (
                level == socket.SOL_SOCKET
                and kind == SO_TIMESTAMPNS
                and len(data) >= _TIMESPEC.size
            ):
                seconds, nanoseconds = _TIMESPEC.unpack_from(data)
                kernel_time: float = seconds + nanoseconds / 1e9 - self.realtime_offset
                return min(now, kernel_time)
        return now

    def handle(self, port: Port, frame: bytes, now: float) -> None:
        assert port.peer is not None
        protocol = protocol_class(frame)
        if protocol is None:
            self.transmit(port.peer.sock, frame)
            return
        key = (port.uplink, port.pop, port.direction, protocol)
        conditions = self.table.get(*key)
        counters = self.counters.setdefault(key, [0] * len(COUNTERS))
        if port.direction == "out" and conditions.inject != "none":
            counters[4] += self.inject(port, frame, conditions)
        if conditions.blackhole:
            counters[2] += 1
        elif conditions.rate_kbps and not self.policer(key).admit(
            conditions.rate_kbps, len(frame) * 8, now
        ):
            counters[3] += 1
        elif conditions.loss and self.random.random() < conditions.loss:
            counters[1] += 1
        else:
            counters[0] += 1
            self.forward(port, frame, conditions, now)

    def forward(self, port: Port, frame: bytes, conditions: Conditions, now: float) -> None:
        """Cross the path's routers, then its delay; a TTL that runs out on the way gets
        the time-exceeded of the router it ran out at (unless that router is silent)."""
        assert port.peer is not None
        hops = self.hops(port, conditions.route or port.backbone)
        ttl = ipv4_ttl(frame)
        if ttl is not None and ttl <= len(hops):
            router = hops[ttl - 1]
            if router is not None:
                there_and_back = 2 * self.delay_s(conditions) * ttl / (len(hops) + 1)
                answer = time_exceeded(frame, router, HOP_ANSWER_TTL - ttl)
                self.schedule(now + there_and_back, port.sock, answer)
            return
        if ttl is not None:
            frame = with_ttl(frame, ttl - len(hops))
        delay = self.delay_s(conditions)
        if delay:
            self.schedule(now + delay, port.peer.sock, frame)
        else:
            self.transmit(port.peer.sock, frame)

    def hops(self, port: Port, route: str) -> list[bytes | None]:
        """The routers in the order this port's frames meet them (reversed coming back)."""
        key = (route, port.pop_index, port.direction)
        if key not in self.hop_cache:
            addresses = [a.packed if a else None for a in hop_addresses(route, port.pop_index)]
            self.hop_cache[key] = addresses if port.direction == "out" else addresses[::-1]
        return self.hop_cache[key]

    def inject(self, port: Port, frame: bytes, conditions: Conditions) -> int:
        wanted = "tcp" if conditions.inject == "rst" else ("icmp", "udp")
        if protocol_class(frame) not in wanted:
            return 0
        forged = forge(frame)
        for packet in forged:
            self.transmit(port.sock, packet)
        return len(forged)

    def delay_s(self, conditions: Conditions) -> float:
        delay = conditions.delay_ms
        if conditions.jitter_ms:
            delay = max(0.0, self.random.gauss(delay, conditions.jitter_ms))
        return delay / 1000

    def policer(self, key: Key) -> Policer:
        return self.policers.setdefault(key, Policer())

    def schedule(self, due: float, sock: socket.socket, frame: bytes) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (due, self.sequence, sock, frame))

    def send_due(self, now: float) -> None:
        """Send every frame due by now; learn how late (or early) the wake-up was."""
        if self.heap and self.heap[0][0] <= now + self.lateness:
            error = now - self.heap[0][0]
            self.lateness = min(MAX_LATENESS_S, max(0.0, self.lateness + LATENESS_WEIGHT * error))
        while self.heap and self.heap[0][0] <= now + self.lateness:
            _, _, sock, frame = heapq.heappop(self.heap)
            self.transmit(sock, frame)

    def transmit(self, sock: socket.socket, frame: bytes) -> None:
        try:
            sock.send(frame)
        except OSError as exc:
            log.warning("dropped a frame the kernel refused: %s", exc)

    def apply_due(self, now: float) -> None:
        changed = False
        while self.pending and self.pending[0][0] <= now:
            _, _, event = self.pending.pop(0)
            self.table.apply(event)
            self.applied.append(
                {
                    "at": round(now - self.started, 3),
                    "unix": round(time.time(), 3),
                    "event": event.model_dump(exclude_none=True, exclude={"at"}),
                }
            )
            changed = True
        if changed:
            self.write_state(ready=True)

    def read_control(self, now: float) -> None:
        """``{"start": true}`` starts the scenario clock (``lab up`` sends it once the lab
        answers); ``{"events": [...]}`` comes from ``lab apply``, each ``at`` counting from
        the moment it arrives."""
        try:
            data, sender = self.control.recvfrom(MAX_FRAME)
        except OSError:
            return
        try:
            message = json.loads(data)
            events = [
                Event.model_validate(e, context=self.context()) for e in message.get("events", [])
            ]
        except (ValueError, AttributeError) as exc:
            log.warning("ignored a control message: %s", exc)
            self.reply(sender, {"error": str(exc).splitlines()[0]})
            return
        if message.get("start") and self.started_unix is None:
            self.started, self.started_unix = now, time.time()
            events = self.scenario_events + events
        self.schedule_events(events, now)
        self.reply(sender, {"ok": True})

    def reply(self, sender: str | None, message: dict[str, Any]) -> None:
        if sender:
            with contextlib.suppress(OSError):
                self.control.sendto(json.dumps(message).encode(), sender)

    def schedule_events(self, events: list[Event], now: float) -> None:
        for event in events:
            self.sequence += 1
            self.pending.append((now + event.at, self.sequence, event))
        self.pending.sort(key=lambda item: item[:2])
        self.apply_due(now)
        self.write_state(ready=True)

    def context(self) -> dict[str, list[str]]:
        return {"uplinks": self.plan.topology.uplink_names, "pops": self.plan.topology.pop_names}

    def write_state(self, *, ready: bool) -> None:
        self.state_due = time.monotonic() + STATE_INTERVAL_S
        self.realtime_offset = time.time() - time.monotonic()
        state = {
            "ready": ready,
            "pid": os.getpid(),
            "started_unix": self.started_unix,
            "events": self.applied,
            "pending": len(self.pending),
            "conditions": self.table.rows(),
            "counters": [
                {
                    "uplink": k[0],
                    "pop": k[1],
                    "direction": k[2],
                    "protocol": k[3],
                    **dict(zip(COUNTERS, v, strict=True)),
                }
                for k, v in sorted(self.counters.items())
            ],
        }
        self.files.write_json(self.files.engine_state, state)

    def _open_control(self) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            self.files.control.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self.files.control))
        sock.setblocking(False)
        return sock


def _packet_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((interface, 0))
    sock.setblocking(False)
    return sock


def _tune_process() -> None:
    """Precise wake-ups: 1 us timer slack and, where allowed, a real-time priority."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    files = LabFiles(Path(argv[0]))
    plan, scenario = files.load_plan()
    engine = Engine(
        plan, files, initial_conditions(plan.topology, scenario), scenario.sorted_events()
    )
    engine.open_wires()
    _tune_process()

    def stop(signum: int, frame: object) -> None:
        engine.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "engine up: %d paths, %d scenario events", len(plan.paths), len(engine.scenario_events)
    )
    engine.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
