"""HTTPS GET of the responder's health URL with httpx, timed phase by phase.

The request is bound to the uplink by its source address (``local_address``): the
probe plumbing routes every packet from that address through the uplink's table. The
fwmark cannot be used here, because httpcore sets socket options after ``connect()``
(the handshake would leave by one uplink and the rest by another). Connections are not
reused, so every probe times TCP connect and TLS again; the phases come from httpcore's
``trace`` extension.

``rtt_ms`` is the kernel's RTT sample of the connection's handshake (SYN to SYN-ACK,
from TCP_INFO: one round trip, comparable with the other protocols); ``extras`` has
connect_ms, tls_ms, ttfb_ms, total_ms (as the client saw them), status and
content_length (the body's bytes). A handshake
that needed a retransmission has no ``rtt_ms`` (``extras["retransmits"]`` says how
many): when the PoP's SYN-ACK was lost, its second one echoes the timestamp of our first
SYN and the kernel's sample is 1 s + RTT, not a round trip of the path.
"""

import socket
import ssl
import sys
from collections.abc import Iterator
from typing import Any

import httpx

from borderpath.core.results import ErrorKind
from borderpath.probes import tls
from borderpath.probes.series import Series
from borderpath.probes.sockets import source_address
from borderpath.probes.transport import UNREACHABLE_ERRNOS, Context, HandshakeTransport

_PHASES = {
    "connection.connect_tcp": "connect_ms",
    "connection.start_tls": "tls_ms",
}
_TTFB_START = "http11.send_request_headers.started"
_TTFB_END = "http11.receive_response_headers.complete"


class _Timeline:
    """Collects the trace events of one request on the loop's clock."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.at: dict[str, float] = {}
        self.certificate: bytes | None = None
        self.kernel_rtt_ms: float | None = None
        self.retransmits = 0

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.at[name] = self.clock()
        if name == "connection.connect_tcp.complete" and "return_value" in info:
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                self.kernel_rtt_ms, self.retransmits = _handshake(sock)
        if name == "connection.start_tls.complete" and "return_value" in info:
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            if ssl_object is not None:
                self.certificate = ssl_object.getpeercert(binary_form=True)

    def phases(self) -> dict[str, float | int | str]:
        phases: dict[str, float | int | str] = {}
        for event, name in _PHASES.items():
            started, completed = self.at.get(f"{event}.started"), self.at.get(f"{event}.complete")
            if started is not None and completed is not None:
                phases[name] = (completed - started) * 1000
        if _TTFB_START in self.at and _TTFB_END in self.at:
            phases["ttfb_ms"] = (self.at[_TTFB_END] - self.at[_TTFB_START]) * 1000
        return phases


class HttpTransport(HandshakeTransport):
    protocol = "http"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._clients: dict[tuple[str, str, str], httpx.AsyncClient] = {}
        """Per (uplink, PoP, source): the source binds the uplink, the PoP its trust."""

    def open(self, series: list[Series]) -> None:
        for one in series:
            if one.pop not in self._contexts:
                self._contexts[one.pop] = tls.client_context(one.pop_config)

    def _client(self, series: Series, source: str) -> httpx.AsyncClient:
        key = (series.uplink, series.pop, source)
        client = self._clients.get(key)
        if client is None:
            transport = httpx.AsyncHTTPTransport(
                verify=self._contexts[series.pop],
                local_address=source,
                limits=httpx.Limits(max_keepalive_connections=0),
                retries=0,
            )
            client = self._clients[key] = httpx.AsyncClient(transport=transport)
        return client

    async def exchange(self, series: Series, time_ns: int) -> None:
        source = series.source or source_address(series.version, series.mark, series.target)
        if source is None:  # the uplink has no route: fail here rather than leak elsewhere
            self.context.failure(series, time_ns, ErrorKind.UNREACHABLE)
            return
        pop = series.pop_config
        host = f"[{series.target}]" if series.version == 6 else series.target
        timeline = _Timeline(self.context.loop.time)
        started = self.context.loop.time()
        try:
            response = await self._client(series, source).get(
                f"https://{host}:{pop.http_port}{pop.http_path}",
                headers={"Host": pop.tls_server_name},
                extensions={"sni_hostname": pop.tls_server_name, "trace": timeline},
            )
        except httpx.HTTPError as exc:
            self.context.failure(series, time_ns, _error_kind(exc), extras=timeline.phases())
            return
        self._report(series, time_ns, started, timeline, response)

    def _report(
        self,
        series: Series,
        time_ns: int,
        started: float,
        timeline: _Timeline,
        response: httpx.Response,
    ) -> None:
        extras = timeline.phases()
        extras["total_ms"] = (self.context.loop.time() - started) * 1000
        status = extras["status"] = response.status_code
        extras["content_length"] = len(response.content)
        if not tls.pinned(series.pop_config, timeline.certificate):
            extras["reason"] = "pin"
            self.context.failure(series, time_ns, ErrorKind.TLS, extras=extras)
        elif not 200 <= status < 300:
            self.context.failure(series, time_ns, ErrorKind.HTTP_STATUS, extras=extras)
        else:
            rtt_ms: float | None = None
            if timeline.retransmits:
                extras["retransmits"] = timeline.retransmits
            else:
                rtt_ms = timeline.kernel_rtt_ms or float(
                    extras.get("connect_ms", extras["total_ms"])
                )
            self.context.succeeded(series, time_ns, rtt_ms, None, extras)

    async def close(self) -> None:
        await super().close()
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _handshake(sock: socket.socket) -> tuple[float | None, int]:
    """The kernel's RTT of a fresh connection (its one sample is SYN to SYN-ACK, timed by
    the kernel rather than by a busy event loop) and the segments it retransmitted."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except OSError:
        return None, 0
    if len(info) < _TCP_INFO_SIZE:
        return None, 0
    rtt_us, retransmits = (_u32(info, offset) for offset in (_TCPI_RTT, _TCPI_TOTAL_RETRANS))
    return (rtt_us / 1000 if rtt_us else None), retransmits


def _u32(info: bytes, offset: int) -> int:
    return int.from_bytes(info[offset : offset + 4], sys.byteorder)


_TCP_INFO_SIZE = 104
_TCPI_RTT, _TCPI_TOTAL_RETRANS = 68, 100
"""struct tcp_info: 8 bytes of u8 fields, then u32 fields; tcpi_rtt is the 16th (in µs),
tcpi_total_retrans the 24th."""


def _error_kind(exc: httpx.HTTPError) -> ErrorKind:
    causes = list(_causes(exc))
    if any(isinstance(cause, ssl.SSLError) for cause in causes):
        return ErrorKind.TLS
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return ErrorKind.REFUSED
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno in UNREACHABLE_ERRNOS:
            return ErrorKind.UNREACHABLE
    if isinstance(exc, httpx.TimeoutException):
        return ErrorKind.TIMEOUT
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ErrorKind.RESET
    return ErrorKind.LOCAL


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it was raised from, down the chain (httpx wraps httpcore,
    which wraps the OSError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
