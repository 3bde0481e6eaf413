"""ICMP echo over IPv4 and IPv6: one raw socket per address family for every series.

Each request carries an identifier and sequence (the key a reply is matched on) and a
random nonce in its payload; a reply that matches the key but not the nonce, or whose
TTL is unlike the PoP's recent replies, is forged and the probe keeps waiting for the
PoP's own. The packet's fwmark rides along as a control message, so one socket serves
every uplink. ICMP errors that quote our TCP or UDP probes are handed to their
transports.
"""

import os
import socket
import struct
import time
from collections.abc import Callable

from borderpath.probes import wire
from borderpath.probes.series import Series
from borderpath.probes.sockets import (
    ICMP6_FILTER,
    ICMP_FILTER,
    SOL_RAW,
    mark_message,
    raw_socket,
    read_all,
    received_ttl,
)
from borderpath.probes.transport import Context, SocketTransport, send_error, wall_ns
from borderpath.probes.validate import Pending

READS_PER_WAKE = 512
IDENTIFIERS = 4
"""Identifiers an engine cycles through: 4 x 65536 sequence numbers in flight at most."""
ICMP4_ACCEPTED = (wire.ICMP4_ECHO_REPLY, wire.ICMP4_UNREACHABLE, wire.ICMP4_TIME_EXCEEDED)
ICMP6_ACCEPTED = (wire.ICMP6_ECHO_REPLY, wire.ICMP6_UNREACHABLE, wire.ICMP6_TIME_EXCEEDED)

EchoKey = tuple[str, int, int]
ErrorHandler = Callable[[wire.IcmpMessage, wire.Quoted], None]


class IcmpTransport(SocketTransport[EchoKey]):
    protocol = "icmp"

    def __init__(self, context: Context, timeout: float) -> None:
        super().__init__(context, timeout)
        self.by_version: dict[int, socket.socket] = {}
        self.error_handlers: dict[int, ErrorHandler] = {}
        """Per quoted protocol (wire.IPPROTO_TCP, IPPROTO_UDP): who owns such probes."""
        self._ident_base = int.from_bytes(os.urandom(2), "big") & ~(IDENTIFIERS - 1)
        self._counter = 0
        self._marks: dict[int, list[tuple[int, int, bytes]]] = {}

    def open(self, series: list[Series]) -> None:
        for version in sorted({s.version for s in series}):
            sock = raw_socket(version, wire.IPPROTO_ICMP if version == 4 else wire.IPPROTO_ICMPV6)
            _only_answers(sock, version)
            self.by_version[version] = sock
            self.watch(sock, self._readable, version)

    def send(self, series: Series) -> None:
        self._counter = (self._counter + 1) & (IDENTIFIERS * 65536 - 1)
        ident, seq = self._ident_base | (self._counter >> 16), self._counter & 0xFFFF
        nonce = os.urandom(wire.NONCE_BYTES)
        packet = wire.echo_request(series.version, ident, seq, nonce)
        marks = self._marks.get(series.mark)
        if marks is None:
            marks = self._marks[series.mark] = mark_message(series.mark)
        time_ns, sent = wall_ns(), time.monotonic()
        try:
            self.by_version[series.version].sendmsg([packet], marks, 0, (series.target, 0))
        except OSError as exc:
            self.context.failure(series, time_ns, send_error(exc))
            return
        self.in_flight.add((series.target, ident, seq), Pending(series, sent, time_ns, nonce))

    def _readable(self, sock: socket.socket, version: int) -> None:
        context = self.context
        now = context.loop.time()
        for data, ancillary, (source, *_) in read_all(sock, READS_PER_WAKE):
            if version == 4:
                message = wire.parse_icmp4(data)
            else:
                message = wire.parse_icmp6(data, source, received_ttl(ancillary))
            if message is None:
                context.drop_malformed(self.protocol)
            elif message.kind == wire.Kind.ECHO_REPLY:
                self._reply(message, context.clock.arrival(ancillary, now))
            elif message.quoted is not None:
                self._error(message, message.quoted)

    def _reply(self, message: wire.IcmpMessage, arrival: float) -> None:
        key = (message.source, message.ident, message.seq)
        probe = self.in_flight.get(key)
        if probe is None:
            return  # another program's ping, or an answer after its timeout
        series = probe.series
        reference = self.context.ttl[series.uplink, series.pop]
        nonce_ok = wire.echo_nonce(message.payload) == probe.nonce
        if not nonce_ok or not reference.authenticated(message.ttl):
            self.context.forged(probe)
            return
        self.in_flight.pop(key)
        self.context.success(probe, arrival, message.ttl)

    def _error(self, message: wire.IcmpMessage, quoted: wire.Quoted) -> None:
        if quoted.protocol in (wire.IPPROTO_ICMP, wire.IPPROTO_ICMPV6):
            key = (quoted.destination, quoted.first, quoted.second)
            probe = self.in_flight.get(key)
            if probe is not None and message.kind == wire.Kind.UNREACHABLE:
                self.in_flight.pop(key)
                self.context.cut(probe)
            return
        handler = self.error_handlers.get(quoted.protocol)
        if handler is not None:
            handler(message, quoted)


def _only_answers(sock: socket.socket, version: int) -> None:
    """Have the kernel drop every ICMP type we never read (echo requests, redirects...)."""
    if version == 4:
        blocked = ~sum(1 << kind for kind in ICMP4_ACCEPTED) & 0xFFFFFFFF
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", blocked))
    else:
        passed = [0] * 8
        for kind in ICMP6_ACCEPTED:
            passed[kind >> 5] |= 1 << (kind & 31)
        blocked_words = [~word & 0xFFFFFFFF for word in passed]
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("8I", *blocked_words))
