"""The PoP responder: what the agent's probes talk to on every PoP.

It answers the udp probe (our echo), the tcp probe (a listening port), the quic probe
(an aioquic server, ALPN h3, handshake only) and the http probe (an HTTPS health URL),
on each configured address. It creates a self-signed certificate in ``cert_dir`` when
there is none; the agent pins it by CA file or fingerprint (printed at start).

It cannot be used as an amplifier: an echo is never larger than its request, each
source address gets a token bucket shared by every service, and a QUIC server sends at
most three times what it received before the client proves its address (RFC 9000).

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration

from borderpath.core.errors import BorderpathError, ProbeError
from borderpath.core.model import FilePath, IPAddress, Port, StrictModel
from borderpath.probes import tls, wire
from borderpath.probes.quic import ALPN
from borderpath.probes.sockets import SO_TIMESTAMPNS, kernel_stamp, read_all

log = logging.getLogger("borderpath.responder")

REQUEST_LIMIT = 4096
"""Bytes of an HTTP request head the health endpoint reads before giving up."""
REQUEST_TIMEOUT_S = 5.0
READS_PER_WAKE = 256
MAX_SOURCES = 65536
"""Token buckets kept before the idle ones are forgotten."""


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


class RateLimit:
    """A token bucket per source address: answers beyond the rate are not sent."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self.refused = 0

    def allow(self, source: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= MAX_SOURCES and source not in self._buckets:
            self._forget_idle(now)
        if tokens < 1:
            self._buckets[source] = (tokens, now)
            self.refused += 1
            return False
        self._buckets[source] = (tokens - 1, now)
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop buckets full again (idle long enough to have refilled)."""
        refill = self.burst / self.rate
        self._buckets = {s: b for s, b in self._buckets.items() if now - b[1] < refill}


class _LimitedQuicServer(QuicServer):
    """Drops datagrams from a source over its rate before aioquic spends a cycle on them."""

    def __init__(self, limit: RateLimit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self.limit.allow(str(addr[0])):
            super().datagram_received(data, addr)


class _UdpEcho:
    """Answers our UDP echo with the time the request spent here (kernel receive stamp
    to the reply's send), which the agent takes off the round trip."""

    def __init__(self, sock: socket.socket, limit: RateLimit) -> None:
        self.sock, self.limit = sock, limit

    def readable(self) -> None:
        for data, ancillary, address in read_all(self.sock, READS_PER_WAKE):
            if not self.limit.allow(str(address[0])):
                continue
            received = kernel_stamp(ancillary)
            dwell_us = 0 if received is None else int((time.time() - received) * 1e6)
            reply = wire.udp_echo_reply(data, dwell_us)
            if reply is not None:
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
        self._closers: list[asyncio.BaseTransport | asyncio.Server | _UdpEcho] = []
        self.certificate, self.key = tls.ensure_certificate(config.cert_dir, config.server_name)

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
        echo = _UdpEcho(_bound_udp(host, config.udp_port), self.limit)
        loop.add_reader(echo.sock.fileno(), echo.readable)
        self._closers.append(echo)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(self.certificate, self.key)
        self._closers.append(
            await asyncio.start_server(
                self._health, host, config.http_port, ssl=server_context, reuse_address=True
            )
        )
        if config.tcp_port != config.http_port:
            self._closers.append(
                await asyncio.start_server(self._accept, host, config.tcp_port, reuse_address=True)
            )
        quic = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
        quic.load_cert_chain(self.certificate, self.key)
        quic_transport, _ = await loop.create_datagram_endpoint(
            lambda: _LimitedQuicServer(
                self.limit, configuration=quic, create_protocol=QuicConnectionProtocol
            ),
            local_addr=(host, config.quic_port),
        )
        self._closers.append(quic_transport)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def _health(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            if peer is None or not self.limit.allow(str(peer[0])):
                return
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            writer.write(health_response(head[:REQUEST_LIMIT], self.config.http_path))
            await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
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
    return sock


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


def config_from(arguments: argparse.Namespace) -> ResponderConfig:
    """The config file (if any) with the command line's --listen and --cert-dir on top."""
    from borderpath.core.errors import ConfigError
    from borderpath.core.tomlfile import read_toml

    document = read_toml(arguments.config)[0] if arguments.config else {}
    if arguments.listen:
        document["listen"] = arguments.listen
    if arguments.cert_dir:
        document["cert_dir"] = str(arguments.cert_dir)
    try:
        return ResponderConfig.model_validate(document)
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        source = arguments.config or "the command line"
        raise ConfigError(f"{source}: {where}: {problem['msg']}") from None


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
