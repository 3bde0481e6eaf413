"""The PoP responder: health answers, rate limits, keyed echo, connection cap and
timeouts, no amplification."""

import asyncio
import contextlib
import secrets
import socket
import ssl
import time
from pathlib import Path

from aioquic.asyncio.client import connect
from aioquic.quic.configuration import QuicConfiguration
from hypothesis import given
from hypothesis import strategies as st

from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.core.topology import PopConfig
from borderpath.probes import Engine, wire
from borderpath.probes.quic import ALPN
from borderpath.probes.responder import Responder, ResponderConfig, health_response
from tests.probes.conftest import LOOPBACK, against_responder, fast_probing, in_namespace


def test_health_answers_get_of_its_path_only() -> None:
    assert health_response(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "/health").startswith(
        b"HTTP/1.1 200 OK"
    )
    assert b"404" in health_response(b"GET /other HTTP/1.1\r\n\r\n", "/health")
    assert b"405" in health_response(b"POST /health HTTP/1.1\r\n\r\n", "/health")
    assert b"400" in health_response(b"garbage", "/health")


def test_a_flood_from_one_source_gets_rate_limited_answers(
    scratch_namespace: str, tmp_path: Path
) -> None:
    config = ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path, rate_pps=100, burst=50)
    flood = 2000

    async def main() -> tuple[int, float]:
        responder = Responder(config)
        await responder.start()
        loop = asyncio.get_running_loop()
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        request = wire.udp_echo(wire.UDP_REQUEST, 1, 2, 3)
        started = time.monotonic()
        for _ in range(flood):
            await loop.sock_sendto(client, request, ("127.0.0.1", config.udp_port))
        await asyncio.sleep(0.3)
        elapsed = time.monotonic() - started
        answers = 0
        while True:
            try:
                reply = client.recv(2048)
            except BlockingIOError:
                break
            assert len(reply) == len(request)  # never larger than what was asked
            answers += 1
        client.close()
        responder.close()
        return answers, elapsed

    answers, elapsed = in_namespace(scratch_namespace, main)
    assert 50 <= answers <= 50 + 100 * elapsed + 1
    assert answers < flood / 4


def test_the_certificate_is_created_once_and_kept(tmp_path: Path) -> None:
    first = Responder(ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path)).fingerprint
    second = Responder(ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path)).fingerprint
    assert first == second and len(first) == 95


@given(st.binary(max_size=300))
def test_any_request_head_gets_an_http_answer(head: bytes) -> None:
    assert health_response(head, "/health").startswith(b"HTTP/1.1 ")


def _key_file(directory: Path, key: bytes) -> Path:
    path = directory / "pop.key"
    path.write_text(key.hex() + "\n", encoding="ascii")
    return path


def test_a_keyed_responder_answers_keyed_probes_and_ignores_unkeyed_ones(
    scratch_namespace: str, tmp_path: Path
) -> None:
    key = _key_file(tmp_path, secrets.token_bytes(32))
    (tmp_path / "other").mkdir()
    other = _key_file(tmp_path / "other", secrets.token_bytes(32))
    keyed = {"key_file": key}
    signed = against_responder(
        scratch_namespace, tmp_path, "udp", rounds=3, responder_settings=keyed, key_file=key
    )
    assert [(r.ok, r.error) for r in signed] == [(True, None)] * 3
    unsigned = against_responder(scratch_namespace, tmp_path, "udp", responder_settings=keyed)
    wrong = against_responder(
        scratch_namespace, tmp_path, "udp", responder_settings=keyed, key_file=other
    )
    assert {(r.ok, r.error, r.forged) for r in unsigned + wrong} == {(False, ErrorKind.TIMEOUT, 0)}


def test_an_answer_whose_mac_fails_counts_as_forged(scratch_namespace: str, tmp_path: Path) -> None:
    """A forger on the path sees the signed request; turning it into a reply breaks the MAC."""
    key = _key_file(tmp_path, secrets.token_bytes(16))
    pop = PopConfig(name="self", address="127.0.0.1", protocols=["udp"], key_file=key)
    results: list[ProbeResult] = []

    async def main() -> None:
        forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        forger.bind(("127.0.0.1", pop.udp_port))
        forger.setblocking(False)

        def forge() -> None:
            request, address = forger.recvfrom(2048)
            reply = request[:3] + bytes([wire.UDP_REPLY]) + request[4:]
            forger.sendto(reply, address)

        loop = asyncio.get_running_loop()
        loop.add_reader(forger.fileno(), forge)
        engine = Engine([LOOPBACK], [pop], fast_probing(timeout=0.3), results.extend, rounds=3)
        try:
            await engine.start()
            await engine.finished()
            await engine.stop()
        finally:
            loop.remove_reader(forger.fileno())
            forger.close()

    in_namespace(scratch_namespace, main)
    assert [(r.ok, r.error, r.forged) for r in results] == [(False, ErrorKind.FORGED, 1)] * 3


def test_the_cap_refuses_connections_and_the_timeout_drops_a_silent_one(
    scratch_namespace: str, tmp_path: Path
) -> None:
    config = ResponderConfig(
        listen=["127.0.0.1"], cert_dir=tmp_path, max_connections=1, handshake_timeout=0.3
    )

    async def main() -> tuple[bytes, bytes, float, bool]:
        responder = Responder(config)
        await responder.start()
        try:
            silent_reader, silent = await asyncio.open_connection("127.0.0.1", config.http_port)
            await asyncio.sleep(0.05)
            refused_reader, refused = await asyncio.open_connection("127.0.0.1", config.http_port)
            refused_at_once = await asyncio.wait_for(refused_reader.read(), 0.2)
            started = time.monotonic()
            dropped = await asyncio.wait_for(silent_reader.read(), 2.0)
            held = time.monotonic() - started
            served = await _health_check(config.http_port, responder.certificate)
            for writer in (silent, refused):
                writer.close()
            return refused_at_once, dropped, held, served
        finally:
            responder.close()

    refused_at_once, dropped, held, served = in_namespace(scratch_namespace, main)
    assert refused_at_once == b"" and dropped == b""  # closed by the responder, no TLS
    assert 0.1 < held < 1.0
    assert served  # the cap freed again


def test_over_its_rate_a_source_gets_no_tls_handshake(
    scratch_namespace: str, tmp_path: Path
) -> None:
    config = ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path, rate_pps=0.1, burst=1)

    async def main() -> list[bool]:
        responder = Responder(config)
        await responder.start()
        try:
            return [await _health_check(config.http_port, responder.certificate) for _ in "ab"]
        finally:
            responder.close()

    assert in_namespace(scratch_namespace, main) == [True, False]


async def _health_check(port: int, certificate: Path) -> bool:
    """GET /health over TLS; False if the responder closed before its handshake."""
    context = ssl.create_default_context(cafile=str(certificate))
    context.check_hostname = False
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return False
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer.startswith(b"HTTP/1.1 200")


def test_quic_connections_are_capped_and_live_no_longer_than_the_handshake_timeout(
    scratch_namespace: str, tmp_path: Path
) -> None:
    config = ResponderConfig(
        listen=["127.0.0.1"], cert_dir=tmp_path, max_connections=1, handshake_timeout=1.0
    )

    async def main() -> list[tuple[bool, bool]]:
        responder = Responder(config)
        await responder.start()
        try:
            held = asyncio.create_task(_quic(config.quic_port, wait=2.0, hold=3.0))
            await asyncio.sleep(0.5)
            refused = await _quic(config.quic_port, wait=0.3)
            return [await held, refused, await _quic(config.quic_port, wait=2.0)]
        finally:
            responder.close()

    held, refused, again = in_namespace(scratch_namespace, main)
    assert held == (True, True)  # connected, then closed by the responder after 1 s
    assert refused == (False, False)  # while the one allowed was open
    assert again[0]  # the cap freed again


async def _quic(port: int, wait: float, hold: float = 0.0) -> tuple[bool, bool]:
    """(handshake done within ``wait``, then closed by the responder within ``hold``)."""
    client = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="x")
    client.verify_mode = ssl.CERT_NONE
    try:
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(wait):
                quic = await stack.enter_async_context(
                    connect("127.0.0.1", port, configuration=client)
                )
            try:
                await asyncio.wait_for(quic.wait_closed(), hold)
            except TimeoutError:
                return True, False
            return True, True
    except (TimeoutError, ConnectionError):
        return False, False
