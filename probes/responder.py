"""The PoP responder: what the agent's probes talk to on every PoP.

It answers the udp probe (our echo), the tcp probe (a listening port), the quic probe
(an aioquic server, ALPN h3, handshake only) and the http probe (an HTTPS health URL),
on each configured address. It creates a self-signed certificate in ``cert_dir`` when
there is none; the agent pins it by CA file or fingerprint (printed at start).

It faces the Internet, so it spends little on strangers: an echo is never larger than
its request (no amplification); with a ``key_file`` it answers only echoes whose MAC
verifies; every source network (/24, /64) has one bucket in a bounded table shared by
every service (probes/ratelimit.py), checked before any TLS or QUIC handshake; QUIC
makes a client prove its address with a Retry before the server keeps any state;
TLS handshakes and QUIC connections end after ``handshake_timeout``, and at most
``max_connections`` of each are open at once.

Run it with ``borderpath responder --config FILE`` (or ``--listen ADDR --cert-dir DIR``),
or ``python -m borderpath.probes.responder`` with the same options.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Any, cast

import pydantic
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from borderpath.core.errors import BorderpathError, ProbeError
from borderpath.core.keyfile import load_key
from borderpath.core.model import FilePath, IPAddress, Port, Seconds, StrictModel
from borderpath.core.topology import KeyFile
from borderpath.probes import tls, wire
from borderpath.probes.quic import ALPN
from borderpath.probes.ratelimit import RateLimit
from borderpath.probes.sockets import SO_TIMESTAMPNS, kernel_stamp, read_all

log = logging.getLogger("borderpath.responder")

REQUEST_LIMIT = 4096
"""Bytes of an HTTP request head the health endpoint reads before giving up."""
READS_PER_WAKE = 256
RECEIVE_BUFFER = 8 * 1024 * 1024
"""Bytes of the echo socket's receive buffer (the kernel counts about 1 KiB a datagram)."""
SO_RCVBUFFORCE = 33
"""Not exported by Python's socket module."""


class ResponderConfig(StrictModel):
    """The responder's file (``borderpath responder --config FILE``)."""

    listen: list[IPAddress] = pydantic.Field(
        min_length=1, description="Addresses to answer on (the PoP's probe addresses)."
    )
    tcp_port: Port = pydantic.Field(
        443, description="TCP port for tcp probes (shared with HTTPS when equal)."
    )
    udp_port: Port = pydantic.Field(862, description="UDP echo port.")
    quic_port: Port = pydantic.Field(443, description="QUIC port (UDP).")
    http_port: Port = pydantic.Field(443, description="HTTPS health endpoint port.")
    http_path: str = pydantic.Field("/health", pattern=r"^/", description="Health URL path.")
    cert_dir: FilePath = pydantic.Field(
        Path("/var/lib/borderpath/responder"),
        description="Holds cert.pem and key.pem; a self-signed pair is created if missing.",
    )
    server_name: str = pydantic.Field(
        "borderpath-pop", description="Name in the self-signed certificate (the probes' SNI)."
    )
    rate_pps: float = pydantic.Field(
        200.0, gt=0, description="Answers per second one source address may get, all services."
    )
    burst: float = pydantic.Field(
        400.0, ge=1, description="Answers one source may get at once before the rate applies."
    )
    key_file: KeyFile = pydantic.Field(
        None,
        description="File holding this PoP's UDP echo key in hex (the agent's [[pops]] "
        "key_file): only echoes with a valid MAC are answered. Default: every echo is.",
    )
    handshake_timeout: Seconds = pydantic.Field(
        5.0,
        gt=0,
        description="A TLS handshake and its HTTP request, or a QUIC connection, is dropped "
        "after this long.",
    )
    max_connections: int = pydantic.Field(
        512,
        ge=1,
        description="TCP (HTTPS) connections and QUIC connections open at once, each; more "
        "are refused. Keep it under the file descriptor limit.",
    )


class _LimitedQuicServer(QuicServer):
    """Drops datagrams from a source over its rate before aioquic spends a cycle on them,
    asks every new client for a Retry (address proven before any handshake state), and
    bounds how many connections live at once and for how long."""

    def __init__(
        self,
        limit: RateLimit,
        live: dict[QuicConnectionProtocol, asyncio.TimerHandle],
        config: "ResponderConfig",
        **kwargs: Any,
    ) -> None:
        super().__init__(retry=True, create_protocol=self._connection, **kwargs)
        self.limit, self.live = limit, live
        """Connections open on every address (with their deadlines): one cap for all."""
        self.cap, self.lifetime = config.max_connections, config.handshake_timeout

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if not self.limit.allow(str(addr[0])):
            return
        if len(self.live) >= self.cap and _opens_connection(cast(bytes, data), self._protocols):
            return
        super().datagram_received(data, addr)

    def _connection(self, quic: QuicConnection, **kwargs: Any) -> QuicConnectionProtocol:
        protocol = QuicConnectionProtocol(quic, **kwargs)
        self.live[protocol] = self._loop.call_later(self.lifetime, protocol.close)
        return protocol

    def _connection_terminated(self, protocol: QuicConnectionProtocol) -> None:
        super()._connection_terminated(protocol)
        deadline = self.live.pop(protocol, None)
        if deadline is not None:
            deadline.cancel()


def _opens_connection(data: bytes, known: dict[bytes, QuicConnectionProtocol]) -> bool:
    """A long-header packet (Initial) for a connection ID the server does not know."""
    if len(data) < 6 or not data[0] & 0x80:
        return False
    return data[6 : 6 + data[5]] not in known


class _UdpEcho:
    """Answers our UDP echo with the time the request spent here (kernel receive stamp
    to the reply's send), which the agent takes off the round trip. A request that is
    not ours (or not signed with the key) costs no token of its source's bucket."""

    def __init__(self, sock: socket.socket, limit: RateLimit, key: bytes | None) -> None:
        self.sock, self.limit, self.key = sock, limit, key

    def readable(self) -> None:
        for data, ancillary, address in read_all(self.sock, READS_PER_WAKE):
            received = kernel_stamp(ancillary)
            dwell_us = 0 if received is None else int((time.time() - received) * 1e6)
            reply = wire.udp_echo_reply(data, dwell_us, self.key)
            if reply is not None and self.limit.allow(str(address[0])):
                with contextlib.suppress(OSError):
                    self.sock.sendto(reply, address)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


class Responder:
    """The running services; ``close()`` stops them."""

    def __init__(self, config: ResponderConfig) -> None:
        self.config = config
        self.limit = RateLimit(config.rate_pps, config.burst)
        self.echo_key = load_key(config.key_file, "key_file")
        self.tcp_open = 0
        """HTTPS connections open now (at most max_connections)."""
        self.quic_live: dict[QuicConnectionProtocol, asyncio.TimerHandle] = {}
        self._closers: list[asyncio.BaseTransport | asyncio.Server | _UdpEcho] = []
        self.certificate, self.key = tls.ensure_certificate(config.cert_dir, config.server_name)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(self.certificate, self.key)

    @property
    def fingerprint(self) -> str:
        return tls.fingerprint(ssl.PEM_cert_to_DER_cert(self.certificate.read_text()))

    async def start(self) -> None:
        try:
            for address in self.config.listen:
                await self._serve(str(address))
        except OSError as exc:
            self.close()
            raise ProbeError(f"the responder cannot listen: {exc.strerror or exc}") from exc

    async def _serve(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        echo = _UdpEcho(_bound_udp(host, config.udp_port), self.limit, self.echo_key)
        loop.add_reader(echo.sock.fileno(), echo.readable)
        self._closers.append(echo)
        self._closers.append(
            await asyncio.start_server(
                self._health, host, config.http_port, limit=REQUEST_LIMIT, reuse_address=True
            )
        )
        if config.tcp_port != config.http_port:
            self._closers.append(
                await asyncio.start_server(self._accept, host, config.tcp_port, reuse_address=True)
            )
        quic = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
        quic.load_cert_chain(self.certificate, self.key)
        quic_transport, _ = await loop.create_datagram_endpoint(
            lambda: _LimitedQuicServer(self.limit, self.quic_live, config, configuration=quic),
            local_addr=(host, config.quic_port),
        )
        self._closers.append(quic_transport)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def _health(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The HTTPS health URL. The rate limit and the connection cap come before the TLS
        handshake (the costly part), and one deadline covers handshake and request."""
        peer = writer.get_extra_info("peername")
        welcome = self.tcp_open < self.config.max_connections
        if peer is None or not welcome or not self.limit.allow(str(peer[0])):
            writer.close()
            return
        self.tcp_open += 1
        try:
            async with asyncio.timeout(self.config.handshake_timeout):
                await writer.start_tls(self._tls)
                head = await reader.readuntil(b"\r\n\r\n")
            writer.write(health_response(head, self.config.http_path))
            await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.tcp_open -= 1
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def close(self) -> None:
        for closer in self._closers:
            closer.close()
        self._closers.clear()


def _bound_udp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    _deepen(sock)
    return sock


def _deepen(sock: socket.socket) -> None:
    """A receive buffer deep enough for a flood to wait out a scheduling gap: Linux's
    default (about 270 datagrams) overflows in 20 ms at 12,000/s, and genuine probes are
    dropped with the flood. Past net.core.rmem_max only with CAP_NET_ADMIN (FORCE)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def health_response(head: bytes, path: str) -> bytes:
    """The answer to an HTTP request head: 200 for GET of the health path, else 404/405."""
    request_line = head.split(b"\r\n", 1)[0].split(b" ")
    if len(request_line) != 3:
        status, body = "400 Bad Request", b"bad request\n"
    elif request_line[0] != b"GET":
        status, body = "405 Method Not Allowed", b"method not allowed\n"
    elif request_line[1].split(b"?", 1)[0] != path.encode():
        status, body = "404 Not Found", b"not found\n"
    else:
        status, body = "200 OK", b"ok\n"
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


async def serve_forever(config: ResponderConfig) -> None:
    """Run the responder until SIGTERM or SIGINT."""
    responder = Responder(config)
    await responder.start()
    listening = ", ".join(str(a) for a in config.listen)
    print(
        f"responder on {listening}: udp {config.udp_port}, tcp {config.tcp_port}, "
        f"quic {config.quic_port}, https {config.http_port}{config.http_path}; "
        f"certificate {responder.certificate} sha256 {responder.fingerprint}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        responder.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="responder TOML file")
    parser.add_argument(
        "--listen", action="append", help="address to answer on (repeat; replaces the file's)"
    )
    parser.add_argument("--cert-dir", type=Path, help="certificate directory")
    parser.add_argument("--key-file", type=Path, help="UDP echo key file (replaces the file's)")


def config_from(arguments: argparse.Namespace) -> ResponderConfig:
    """The config file (if any) with the command line's --listen, --cert-dir and
    --key-file on top;
    a mistake is one line naming the file, the line and the key, as the agent's."""
    from borderpath.core.tomlfile import read_toml, validate_document

    document, text = read_toml(arguments.config) if arguments.config else ({}, "")
    if arguments.listen:
        document["listen"] = arguments.listen
    if arguments.cert_dir:
        document["cert_dir"] = str(arguments.cert_dir)
    if arguments.key_file:
        document["key_file"] = str(arguments.key_file)
    source = arguments.config or Path("the command line")
    return validate_document(document, text, source, ResponderConfig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borderpath-responder", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(arguments: argparse.Namespace) -> int:
    try:
        asyncio.run(serve_forever(config_from(arguments)))
    except BorderpathError as exc:
        print(f"borderpath responder: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
