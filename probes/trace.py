"""Traceroute of one path, leaving by its uplink: which hops, so which backbone.

Packets are built with scapy (imported here only, and only when a trace runs: it costs
about a second and 95 MB) and sent on a raw socket carrying the uplink's fwmark, every
TTL at once; answers are read on raw sockets and parsed by wire.py. Each probe carries
its TTL (TCP: in the sequence number, UDP: in the destination port 33434 + TTL, ICMP: in
the sequence), so answers map back to hops. TCP SYN to 443 is the default, as Chinese
route tools do: routers treat ICMP and UDP differently. Several traces are merged by
majority per hop; silent hops stay None.
"""

import asyncio
import collections
import contextlib
import dataclasses
import importlib
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

from borderpath.core.errors import ProbeError
from borderpath.probes import wire
from borderpath.probes.config import TraceConfig
from borderpath.probes.sockets import raw_socket, read_all, received_ttl, source_address

UDP_BASE_PORT = 33434
IPV6_HDRINCL = 36
SEND_SPACING_S = 0.001
"""Between the TTLs of one trace: routers rate-limit the ICMP they send."""
MIN_GRACE_S = 0.05
"""Least wait for the nearer hops' answers once the PoP has answered (see _trace_once)."""


@dataclasses.dataclass(frozen=True)
class Hop:
    ttl: int
    address: str | None
    """Who answered at this TTL (majority over the traces); None if silent."""
    rtt_ms: float | None
    answers: int
    """How many of the merged traces got an answer at this TTL."""


@dataclasses.dataclass(frozen=True)
class TraceResult:
    target: str
    protocol: str
    hops: list[Hop]
    reached: bool
    """The PoP itself answered (SYN-ACK or RST, port unreachable, echo reply)."""

    @property
    def addresses(self) -> list[str | None]:
        return [hop.address for hop in self.hops]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def text(self) -> str:
        lines = [f"trace to {self.target} ({self.protocol}):"]
        for hop in self.hops:
            rtt = "" if hop.rtt_ms is None else f"  {hop.rtt_ms:.2f} ms"
            lines.append(f"{hop.ttl:>3}  {hop.address or '*'}{rtt}")
        return "\n".join(lines)


@dataclasses.dataclass
class _Run:
    """One trace: per TTL the answer's address and RTT."""

    sent: dict[int, float] = dataclasses.field(default_factory=dict)
    answers: dict[int, tuple[str, float]] = dataclasses.field(default_factory=dict)
    reached_at: int | None = None


async def prepare_traces() -> None:
    """Import scapy off the event loop: about a second the probes' timing would lose
    (trace_path does it on first use; the agent at start, so no trace waits for it)."""
    if "scapy.layers.inet6" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "scapy.layers.inet6")


async def trace_path(
    target: str, mark: int, source: str | None, config: TraceConfig
) -> TraceResult:
    """Trace ``target`` ``config.traces`` times over the uplink of ``mark``; merge."""
    await prepare_traces()
    version = ipaddress.ip_address(target).version
    source = source or source_address(version, mark, target)
    if source is None:
        raise ProbeError(f"no route to {target} over the uplink with mark {mark:#x}")
    runs = [await _trace_once(target, version, mark, source, config) for _ in range(config.traces)]
    return merge(target, config.protocol, runs)


def longest_trace_s(config: TraceConfig) -> float:
    """What ``trace_path`` waits at most: every trace of a PoP that never answers sends
    every TTL, then waits hop_timeout (building and sending the packets comes on top)."""
    return config.traces * (config.hop_timeout + config.max_hops * SEND_SPACING_S)


def merge(target: str, protocol: str, runs: Sequence[_Run]) -> TraceResult:
    """Per TTL the address most traces saw (None where none answered), ending at the PoP
    if any trace reached it, else after the last TTL that answered."""
    reached = [run.reached_at for run in runs if run.reached_at is not None]
    if reached:
        last = min(reached)
        final = [run.answers[run.reached_at] for run in runs if run.reached_at is not None]
    else:
        last = 1 + max((ttl for run in runs for ttl in run.answers), default=0)
        final = []
    hops = [
        _majority(ttl, [run.answers[ttl] for run in runs if ttl in run.answers])
        for ttl in range(1, last)
    ]
    if final:
        hops.append(_majority(last, [(target, rtt) for _, rtt in final]))
    return TraceResult(target, protocol, hops, bool(reached))


def _majority(ttl: int, answers: list[tuple[str, float]]) -> Hop:
    counts = collections.Counter(address for address, _ in answers)
    if not counts:
        return Hop(ttl, None, None, 0)
    address = counts.most_common(1)[0][0]
    rtts = sorted(rtt for a, rtt in answers if a == address)
    return Hop(ttl, address, rtts[len(rtts) // 2], len(answers))


async def _trace_once(
    target: str, version: int, mark: int, source: str, config: TraceConfig
) -> _Run:
    loop = asyncio.get_running_loop()
    flow = int.from_bytes(os.urandom(2), "big") | 0x8000
    matcher = _Matcher(target, version, flow, config)
    packets = [_packet(matcher, source, ttl) for ttl in range(1, config.max_hops + 1)]
    sender = _sender(version, mark)
    listeners = [raw_socket(version, wire.IPPROTO_ICMP if version == 4 else wire.IPPROTO_ICMPV6)]
    if config.protocol == "tcp":
        listeners.append(raw_socket(version, wire.IPPROTO_TCP))
    run = _Run()
    done = loop.create_future()
    grace: asyncio.TimerHandle | None = None

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    def readable(sock: socket.socket) -> None:
        nonlocal grace
        for data, ancillary, (address, *_) in read_all(sock, 256):
            answer = matcher.answer(data, received_ttl(ancillary), address, sock.proto)
            if answer is not None and answer[0] in run.sent and answer[0] not in run.answers:
                ttl, hop, reached = answer
                run.answers[ttl] = (hop, (loop.time() - run.sent[ttl]) * 1000)
                if reached:
                    run.reached_at = min(ttl, run.reached_at or ttl)
        if run.reached_at is None:
            return
        if all(t in run.answers for t in range(1, run.reached_at)):
            finish()
        elif grace is None:
            # A nearer hop answers before the PoP unless it is silent (most traces have
            # one): after the PoP's RTT again, stop waiting for it rather than for
            # hop_timeout (measured: every lab trace took 1.1 s instead of 0.1-0.6 s).
            rtt_s = run.answers[run.reached_at][1] / 1000
            grace = loop.call_later(max(rtt_s, MIN_GRACE_S), finish)

    try:
        for sock in listeners:
            loop.add_reader(sock.fileno(), readable, sock)
        for ttl, packet in enumerate(packets, start=1):
            run.sent[ttl] = loop.time()
            sender.sendto(packet, (target, 0))
            await asyncio.sleep(SEND_SPACING_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, config.hop_timeout)
    except OSError as exc:
        raise ProbeError(f"trace to {target} could not be sent: {exc.strerror}") from exc
    finally:
        if grace is not None:
            grace.cancel()
        for sock in listeners:
            loop.remove_reader(sock.fileno())
            sock.close()
        sender.close()
    return run


def _sender(version: int, mark: int) -> socket.socket:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    try:
        sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError as exc:
        raise ProbeError("traces need raw sockets: run as root or with CAP_NET_RAW") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    if version == 6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HDRINCL, 1)
    return sock


@dataclasses.dataclass(frozen=True)
class _Matcher:
    """What one trace's probes carry, and how an answer maps back to a probe's TTL."""

    target: str
    version: int
    flow: int
    """Source port (TCP, UDP) or identifier (ICMP) of the whole trace."""
    config: TraceConfig

    def answer(
        self, data: bytes, ttl_received: int, address: str, proto: int
    ) -> tuple[int, str, bool] | None:
        """(TTL of the probe answered, who answered, whether it was the PoP itself)."""
        if proto == wire.IPPROTO_TCP:
            return self._from_pop(data, ttl_received, address)
        if self.version == 4:
            message = wire.parse_icmp4(data)
        else:
            message = wire.parse_icmp6(data, address, ttl_received)
        if message is None:
            return None
        if message.kind == wire.Kind.ECHO_REPLY:
            mine = self.config.protocol == "icmp" and message.ident == self.flow
            return (message.seq, self.target, True) if mine else None
        quoted = message.quoted
        ttl = None if quoted is None else self._quoted_ttl(quoted)
        return None if ttl is None else (ttl, message.source, message.source == self.target)

    def _from_pop(
        self, data: bytes, ttl_received: int, address: str
    ) -> tuple[int, str, bool] | None:
        if self.version == 4:
            segment = wire.parse_tcp4(data)
        else:
            segment = wire.parse_tcp6(data, address, ttl_received)
        if (
            segment is None
            or segment.source != self.target
            or segment.destination_port != self.flow
        ):
            return None
        return ((segment.ack - 1) & 0xFFFF, self.target, True)

    def _quoted_ttl(self, quoted: wire.Quoted) -> int | None:
        protocol = self.config.protocol
        if quoted.destination != self.target or quoted.first != self.flow:
            return None
        if protocol == "tcp" and quoted.protocol == wire.IPPROTO_TCP:
            return quoted.tcp_seq & 0xFFFF
        if protocol == "udp" and quoted.protocol == wire.IPPROTO_UDP:
            return quoted.second - UDP_BASE_PORT
        if protocol == "icmp" and quoted.protocol in (wire.IPPROTO_ICMP, wire.IPPROTO_ICMPV6):
            return quoted.second
        return None


def _packet(matcher: _Matcher, source: str, ttl: int) -> bytes:
    """One probe built with scapy: the IP header carries the TTL, the transport too."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    target, flow, config = matcher.target, matcher.flow, matcher.config
    network: Any = (
        IP(src=source, dst=target, ttl=ttl)
        if matcher.version == 4
        else IPv6(src=source, dst=target, hlim=ttl)
    )
    if config.protocol == "tcp":
        transport: Any = TCP(sport=flow, dport=config.port, flags="S", seq=(flow << 16) | ttl)
    elif config.protocol == "udp":
        transport = UDP(sport=flow, dport=UDP_BASE_PORT + ttl)
    elif matcher.version == 4:
        transport = ICMP(id=flow, seq=ttl)
    else:
        transport = ICMPv6EchoRequest(id=flow, seq=ttl)
    return bytes(network / transport)
