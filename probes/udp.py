"""UDP echo against the PoP responder: our own small protocol, TWAMP-light in spirit.

A request carries the series' sequence number, a random 64-bit nonce and the send time;
the responder returns it marked as a reply. Loss is what never returns, duplicates are
replies to a sequence already answered, reordering is a reply older than the newest one
seen. A reply with the right sequence but not our nonce (an injector copying the first
bytes) or with a TTL unlike the PoP's is forged. With a PoP ``key_file``, requests and
replies carry a keyed MAC over the whole header, and a reply whose MAC fails is forged
too: an on-path injector sees the nonce, but cannot sign. One socket per uplink and
family, marked and bound to the uplink's source.
"""

import collections
import os
import socket
import time

from borderpath.core.keyfile import load_key
from borderpath.core.results import ErrorKind
from borderpath.probes import wire
from borderpath.probes.series import Series
from borderpath.probes.sockets import marked_datagram_socket, read_all, received_ttl
from borderpath.probes.transport import Context, SocketTransport, send_error, wall_ns
from borderpath.probes.validate import Pending

READS_PER_WAKE = 256
ANSWERED_MEMORY = 1024
"""Answered sequence numbers remembered per series, to recognise duplicates."""

EchoKey = tuple[Series, int]


class _Order:
    """What a series has received so far: duplicates and reordering."""

    __slots__ = ("answered", "highest", "recent")

    def __init__(self) -> None:
        self.highest = -1
        self.answered: set[int] = set()
        self.recent: collections.deque[int] = collections.deque()

    def remember(self, seq: int) -> bool:
        """Record an answered sequence; True if it came after a newer one (reordered)."""
        self.answered.add(seq)
        self.recent.append(seq)
        if len(self.recent) > ANSWERED_MEMORY:
            self.answered.discard(self.recent.popleft())
        reordered = seq < self.highest
        self.highest = max(self.highest, seq)
        return reordered


class UdpTransport(SocketTransport[EchoKey]):
    protocol = "udp"
    ip_protocol = wire.IPPROTO_UDP
    """ICMP errors quoting this protocol are this transport's (ReadsIcmpErrors)."""

    def __init__(self, context: Context, timeout: float) -> None:
        super().__init__(context, timeout)
        self.by_uplink: dict[tuple[int, int], socket.socket] = {}
        """Per (mark, family version)."""
        self._by_target: dict[tuple[int, str], Series] = {}
        self._seq: dict[Series, int] = {}
        self._order: dict[Series, _Order] = {}
        self._keys: dict[Series, bytes | None] = {}

    def open(self, series: list[Series]) -> None:
        for one in series:
            key = (one.mark, one.version)
            if key not in self.by_uplink:
                sock = marked_datagram_socket(one.version, one.mark, one.source)
                self.by_uplink[key] = sock
                self.watch(sock, self._readable, one.mark)
            self._by_target[one.mark, one.target] = one
            self._seq[one] = 0
            self._order[one] = _Order()
            self._keys[one] = load_key(one.pop_config.key_file, f"pops.{one.pop}.key_file")

    def send(self, series: Series) -> None:
        seq = self._seq[series] = (self._seq[series] + 1) & 0xFFFFFFFF
        nonce = int.from_bytes(os.urandom(8), "big")
        time_ns = wall_ns()
        packet = wire.udp_echo(wire.UDP_REQUEST, seq, nonce, time_ns, key=self._keys[series])
        sock = self.by_uplink[series.mark, series.version]
        sent = time.monotonic()
        try:
            sock.sendto(packet, (series.target, series.pop_config.udp_port))
        except OSError as exc:
            self.context.failure(series, time_ns, send_error(exc))
            return
        self.in_flight.add((series, seq), Pending(series, sent, time_ns, nonce))

    def _readable(self, sock: socket.socket, mark: int) -> None:
        context = self.context
        now = context.loop.time()
        for data, ancillary, (source, *_) in read_all(sock, READS_PER_WAKE):
            series = self._by_target.get((mark, source))
            echo = wire.parse_udp_echo(data, None if series is None else self._keys[series])
            if echo is None:
                context.drop_malformed(self.protocol)
            elif series is not None:
                arrival = context.clock.arrival(ancillary, now)
                self._reply(series, echo, received_ttl(ancillary), arrival)

    def _reply(self, series: Series, echo: wire.UdpEcho, ttl: int, arrival: float) -> None:
        order = self._order[series]
        probe = self.in_flight.get((series, echo.seq))
        if probe is None:
            if echo.kind == wire.UDP_REPLY and echo.authentic and echo.seq in order.answered:
                self.context.count(series).duplicates += 1
            return
        reference = self.context.ttl[series.uplink, series.pop]
        genuine = echo.kind == wire.UDP_REPLY and echo.authentic and echo.nonce == probe.nonce
        if not genuine or not reference.authenticated(ttl):
            self.context.forged(probe)
            return
        self.in_flight.pop((series, echo.seq))
        reordered = order.remember(echo.seq)
        if reordered:
            self.context.count(series).reordered += 1
        extras: dict[str, float | int | str] = {
            "seq": echo.seq,
            "reordered": int(reordered),
            "responder_ms": echo.dwell_us / 1000,
        }
        self.context.success(probe, arrival - echo.dwell_us / 1e6, ttl, extras)

    def icmp_error(self, message: wire.IcmpMessage, quoted: wire.Quoted) -> None:
        """A port unreachable from the PoP means no responder there: refused. Any other
        unreachable means the path is cut."""
        found = next(
            (
                (key, probe)
                for key, probe in self.in_flight.items()
                if key[0].target == quoted.destination
                and key[0].pop_config.udp_port == quoted.second
            ),
            None,
        )
        if found is None:
            return
        key, probe = found
        series = key[0]
        self.in_flight.pop(key)
        port_unreachable = _PORT_UNREACHABLE[series.version]
        refused = message.source == quoted.destination and message.code == port_unreachable
        error = ErrorKind.REFUSED if refused else ErrorKind.UNREACHABLE
        self.context.failure(series, probe.time_ns, error, forged=probe.forged, ttl=message.ttl)


_PORT_UNREACHABLE = {4: wire.ICMP4_PORT_UNREACHABLE, 6: wire.ICMP6_PORT_UNREACHABLE}
