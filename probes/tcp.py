"""TCP connect time: SYN to SYN-ACK, sent and read on raw sockets.

The kernel's own connect() cannot tell an injected RST from the PoP's refusal, and a
forged RST would abort it before the PoP's SYN-ACK arrives. So the SYN is built here and
every TCP answer is read on a raw socket: a SYN-ACK acknowledging our sequence is the
PoP answering (the kernel then resets the half-open connection for us), a RST with the
PoP's TTL is a refusal, and a RST with another TTL is forged and the probe keeps
waiting. With no reference TTL yet, a lone RST is believed (a kernel sends one), a burst
of them is not (injectors send several).

Source ports are reserved by binding ordinary TCP sockets, so no other program's
connection can collide with a probe.
"""

import os
import socket
import time

from borderpath.core.results import ErrorKind
from borderpath.probes import wire
from borderpath.probes.series import Series
from borderpath.probes.sockets import (
    IPV6_CHECKSUM_OFFSET_TCP,
    mark_message,
    raw_socket,
    read_all,
    received_ttl,
    source_address,
)
from borderpath.probes.transport import Context, SocketTransport, send_error, wall_ns
from borderpath.probes.validate import Pending

PORTS = 8
"""Source ports a family's probes rotate through, so consecutive probes of a series do
not reuse one 4-tuple while the PoP may still hold the last half-open connection."""
READS_PER_WAKE = 512

SynKey = tuple[str, int, int]
"""(PoP address, our source port, the acknowledgement number the answer must carry)."""


class TcpTransport(SocketTransport[SynKey]):
    protocol = "tcp"
    ip_protocol = wire.IPPROTO_TCP
    """ICMP errors quoting this protocol are this transport's (ReadsIcmpErrors)."""

    def __init__(self, context: Context, timeout: float) -> None:
        super().__init__(context, timeout)
        self.by_version: dict[int, socket.socket] = {}
        self._reserved: dict[int, list[socket.socket]] = {}
        self._ports: dict[int, list[int]] = {}
        self._sources: dict[Series, str | None] = {}
        self._counter = 0

    def open(self, series: list[Series]) -> None:
        for version in sorted({s.version for s in series}):
            sock = raw_socket(version, wire.IPPROTO_TCP)
            if version == 6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, IPV6_CHECKSUM_OFFSET_TCP)
            self.by_version[version] = sock
            self._reserve_ports(version)
            self.watch(sock, self._readable, version)

    def _reserve_ports(self, version: int) -> None:
        family = socket.AF_INET if version == 4 else socket.AF_INET6
        holders = []
        for _ in range(PORTS):
            holder = socket.socket(family, socket.SOCK_STREAM)
            holder.bind(("0.0.0.0" if version == 4 else "::", 0))
            holders.append(holder)
        self._reserved[version] = holders
        self._ports[version] = [h.getsockname()[1] for h in holders]

    def send(self, series: Series) -> None:
        time_ns = wall_ns()
        source = self._source(series)
        if source is None:
            self.context.failure(series, time_ns, ErrorKind.UNREACHABLE)
            return
        self._counter += 1
        ports = self._ports[series.version]
        port = ports[self._counter % len(ports)]
        seq = int.from_bytes(os.urandom(4), "big")
        pop_port = series.pop_config.tcp_port
        segment = wire.tcp_syn(source, series.target, port, pop_port, seq)
        sent = time.monotonic()
        try:
            self.by_version[series.version].sendmsg(
                [segment], mark_message(series.mark), 0, (series.target, 0)
            )
        except OSError as exc:
            self.context.failure(series, time_ns, send_error(exc))
            return
        key = (series.target, port, (seq + 1) & 0xFFFFFFFF)
        self.in_flight.add(key, Pending(series, sent, time_ns, seq))

    def _source(self, series: Series) -> str | None:
        """The uplink's source address: configured, or what the uplink's table gives."""
        if series.source is not None:
            return series.source
        source = self._sources.get(series)
        if source is None:  # unknown yet, or the uplink had no route last time
            source = self._sources[series] = source_address(
                series.version, series.mark, series.target
            )
        return source

    def _readable(self, sock: socket.socket, version: int) -> None:
        context = self.context
        now = context.loop.time()
        ports = self._ports[version]
        for data, ancillary, (source, *_) in read_all(sock, READS_PER_WAKE):
            if version == 4:
                segment = wire.parse_tcp4(data)
            else:
                segment = wire.parse_tcp6(data, source, received_ttl(ancillary))
            if segment is None:
                context.drop_malformed(self.protocol)
            elif segment.destination_port in ports:
                self._answer(segment, context.clock.arrival(ancillary, now))

    def _answer(self, segment: wire.TcpSegment, arrival: float) -> None:
        key = (segment.source, segment.destination_port, segment.ack)
        probe = self.in_flight.get(key)
        if probe is None or probe.series.pop_config.tcp_port != segment.source_port:
            return
        series = probe.series
        reference = self.context.ttl[series.uplink, series.pop]
        if segment.flags & wire.TCP_RST:
            genuine = reference.matches(segment.ttl)
            if genuine is None:
                probe.resets.append(segment.ttl)
            elif genuine:
                self.in_flight.pop(key)
                self._refused(probe, segment.ttl)
            else:
                self.context.forged(probe)
        elif segment.flags & wire.TCP_SYN and segment.flags & wire.TCP_ACK:
            if not reference.authenticated(segment.ttl):
                self.context.forged(probe)
                return
            for _ in probe.resets:  # the PoP accepted: resets that came first were not its
                self.context.forged(probe)
            self.in_flight.pop(key)
            self.context.success(probe, arrival, segment.ttl)

    def icmp_error(self, message: wire.IcmpMessage, quoted: wire.Quoted) -> None:
        """An ICMP error quoting one of our SYNs: the path is cut there."""
        key = (quoted.destination, quoted.first, (quoted.tcp_seq + 1) & 0xFFFFFFFF)
        probe = self.in_flight.get(key)
        if probe is not None and message.kind == wire.Kind.UNREACHABLE:
            self.in_flight.pop(key)
            self.context.cut(probe)

    def _refused(self, probe: Pending, ttl: int) -> None:
        self.context.failure(
            probe.series, probe.time_ns, ErrorKind.REFUSED, forged=probe.forged, ttl=ttl
        )

    def lost(self, probe: Pending) -> None:
        """Timed out: RSTs that could not be judged count as a refusal if one came alone."""
        if len(probe.resets) == 1:
            self._refused(probe, probe.resets[0])
            return
        for _ in probe.resets:
            self.context.forged(probe)
        self.context.timed_out(probe)

    async def close(self) -> None:
        await super().close()
        for holders in self._reserved.values():
            for holder in holders:
                holder.close()
