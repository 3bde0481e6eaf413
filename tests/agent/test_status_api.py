"""The status API answers on loopback or a unix socket, and refuses anything else."""

import asyncio
from pathlib import Path

import httpx
import pytest

from borderpath.agent.status_api import StatusServer, parse_listen

ROUTES = {
    "/healthz": lambda: ("text/plain", b"ok\n"),
    "/status": lambda: ("application/json", b'{"paths": []}'),
}


def test_loopback_and_unix_sockets_are_accepted(tmp_path: Path) -> None:
    assert parse_listen("127.0.0.1:19108") == ("127.0.0.1", 19108)
    assert parse_listen("[::1]:19108") == ("::1", 19108)
    assert parse_listen(str(tmp_path / "status.sock")) == tmp_path / "status.sock"


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:19108", "192.0.2.1:80", "example.com:80", "19108", "127.0.0.1:0"]
)
def test_anything_else_is_refused_with_one_line(listen: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|host:port"):
        parse_listen(listen)


async def serve_and_get(
    listen: str, transport: httpx.AsyncBaseTransport | None, base: str
) -> list[httpx.Response]:
    server = StatusServer(listen, ROUTES)
    await server.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            return [
                await client.get("/healthz"),
                await client.get("/status?pretty=1"),
                await client.get("/nope"),
                await client.post("/status"),
            ]
    finally:
        await server.close()


def test_serves_on_a_unix_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "status.sock"
    transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
    responses = asyncio.run(serve_and_get(str(socket_path), transport, "http://agent"))
    assert [r.status_code for r in responses] == [200, 200, 404, 405]
    assert responses[1].json() == {"paths": []}
    assert not socket_path.exists()


def test_serves_on_loopback() -> None:
    responses = asyncio.run(serve_and_get("127.0.0.1:39108", None, "http://127.0.0.1:39108"))
    assert responses[0].text == "ok\n"
