"""QUIC handshake time to the responder, with aioquic, on a socket bound to the uplink.

aioquic's own ``connect()`` binds ``::`` and takes no socket options, so each probe
builds its UDP socket (fwmark set before the first send, bound to the uplink's source),
wraps it in a datagram endpoint and times ``connect`` to ``HandshakeCompleted``. The
result carries the ALPN, the QUIC version and whether the server asked for a Retry
(one more round trip inside the handshake). ``rtt_ms`` is the first flight: from the
client's first datagram to the server's first answer; ``handshake_ms`` the whole handshake.
"""

import asyncio
import ssl
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent

from borderpath.core.results import ErrorKind
from borderpath.core.topology import PopConfig
from borderpath.probes import tls
from borderpath.probes.series import Series
from borderpath.probes.sockets import marked_datagram_socket
from borderpath.probes.transport import Context, HandshakeTransport

ALPN = "h3"


class _Probe(QuicConnectionProtocol):
    """Resolves ``done`` with the handshake's outcome: an event, or the termination.

    It also notes when the first datagram left and when the server's first one came
    back: that first flight is one round trip (plus the server's key exchange), while
    the whole handshake adds the client's own certificate checks.
    """

    def __init__(self, quic: QuicConnection) -> None:
        loop = asyncio.get_running_loop()
        super().__init__(quic)
        self.clock = loop.time
        self.done: asyncio.Future[QuicEvent] = loop.create_future()
        self.first_sent: float | None = None
        self.first_received: float | None = None

    def transmit(self) -> None:
        super().transmit()
        if self.first_sent is None:
            self.first_sent = self.clock()

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self.first_received is None:
            self.first_received = self.clock()
        super().datagram_received(data, addr)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted | ConnectionTerminated) and not self.done.done():
            self.done.set_result(event)


class QuicTransport(HandshakeTransport):
    protocol = "quic"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._configurations: dict[str, QuicConfiguration] = {}

    def open(self, series: list[Series]) -> None:
        for one in series:
            self._configurations.setdefault(one.pop, configuration(one.pop_config))

    async def exchange(self, series: Series, time_ns: int) -> None:
        loop = self.context.loop
        sock = marked_datagram_socket(series.version, series.mark, series.source)
        quic = QuicConnection(configuration=self._configurations[series.pop])
        transport, protocol = await loop.create_datagram_endpoint(lambda: _Probe(quic), sock=sock)
        try:
            started = loop.time()
            address: tuple[str | int, ...] = (series.target, series.pop_config.quic_port)
            if series.version == 6:  # as the socket reports its peers, so answers match
                address = (*address, 0, 0)
            protocol.connect(address)
            event = await protocol.done
            handshake_ms = (loop.time() - started) * 1000
            self._report(series, time_ns, protocol, handshake_ms, event)
        finally:
            quic.close()
            protocol.transmit()
            transport.close()

    def _report(
        self,
        series: Series,
        time_ns: int,
        probe: _Probe,
        handshake_ms: float,
        event: QuicEvent,
    ) -> None:
        if not isinstance(event, HandshakeCompleted):
            self.context.failure(series, time_ns, _termination_error(event))
            return
        quic = probe._quic
        peer = quic.tls._peer_certificate
        der = None
        if peer is not None:
            from cryptography.hazmat.primitives.serialization import Encoding

            der = peer.public_bytes(Encoding.DER)
        if not tls.pinned(series.pop_config, der):
            self.context.failure(series, time_ns, ErrorKind.TLS, extras={"reason": "pin"})
            return
        extras: dict[str, float | int | str] = {
            "alpn": event.alpn_protocol or "",
            "version": f"0x{quic._version:08x}",
            "retry": int(quic._retry_count > 0),
            "handshake_ms": handshake_ms,
        }
        rtt_ms = handshake_ms
        if probe.first_sent is not None and probe.first_received is not None:
            rtt_ms = (probe.first_received - probe.first_sent) * 1000
        self.context.succeeded(series, time_ns, rtt_ms, None, extras)


def _termination_error(event: QuicEvent) -> ErrorKind:
    if isinstance(event, ConnectionTerminated) and 0x100 <= event.error_code < 0x200:
        return ErrorKind.TLS  # a CRYPTO_ERROR: certificate, ALPN or TLS alert
    return ErrorKind.REFUSED


def configuration(pop: PopConfig) -> QuicConfiguration:
    """The client configuration for one PoP, built once and shared by its probes."""
    config = QuicConfiguration(
        is_client=True, alpn_protocols=[ALPN], server_name=pop.tls_server_name
    )
    if pop.fingerprint is not None:
        config.verify_mode = ssl.CERT_NONE
    else:
        config.cadata = tls.ca_data(pop)
    return config
