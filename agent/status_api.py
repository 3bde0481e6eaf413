"""The agent's local status API: ``/status`` (JSON), ``/metrics`` (Prometheus), ``/healthz``.

Served on a loopback address or a unix socket only, with asyncio streams: three GET
endpoints need no web framework. Each handler is called on the event loop and must be
quick; it returns the content type and the body.
"""

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from borderpath.core.errors import ConfigError

Handler = Callable[[], tuple[str, bytes] | tuple[str, bytes, str]]
"""Content type, body, and the status when it is not "200 OK"."""

REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192
log = logging.getLogger("borderpath.agent.status")


def parse_listen(listen: str) -> tuple[str, int] | Path:
    """``127.0.0.1:19108``, ``[::1]:19108`` or ``localhost:19108`` -> (host, port); a path -> Path.

    Anything that is not loopback is refused (ValueError): the API has no authentication.
    """
    if listen.startswith("/"):
        return Path(listen)
    host, separator, port = listen.rpartition(":")
    host = host.strip("[]")
    if not separator or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r}: write host:port or a unix socket path")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"{listen!r}: only a loopback address or a unix socket (no authentication)"
            )
    return host, int(port)


class StatusServer:
    def __init__(self, listen: str, routes: Mapping[str, Handler]) -> None:
        self.address = parse_listen(listen)
        self.routes = routes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            if isinstance(self.address, Path):
                self.address.unlink(missing_ok=True)
                self._server = await asyncio.start_unix_server(self._serve, path=self.address)
            else:
                host, port = self.address
                self._server = await asyncio.start_server(self._serve, host, port)
        except OSError as exc:
            raise ConfigError(
                f"status.listen: cannot listen on {self.address}: {exc.strerror}"
            ) from exc

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            if isinstance(self.address, Path):
                self.address.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body = await asyncio.wait_for(
                self._answer(reader), REQUEST_TIMEOUT_S
            )
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status, content_type, body = "400 Bad Request", "text/plain", b"bad request\n"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
        request = await reader.readuntil(b"\r\n\r\n")
        if len(request) > MAX_REQUEST_BYTES:
            raise ValueError("request too large")
        method, target, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"only GET\n"
        handler = self.routes.get(target.split("?", 1)[0])
        if handler is None:
            return "404 Not Found", "text/plain", b"not found\n"
        try:
            content_type, body, *status = handler()
        except Exception:
            log.exception("status handler for %s failed", target)
            return "500 Internal Server Error", "text/plain", b"internal error\n"
        return status[0] if status else "200 OK", content_type, body
