"""The PoP responder: health answers, per-source rate limits, no amplification."""

import asyncio
import socket
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from borderpath.probes import wire
from borderpath.probes.responder import RateLimit, Responder, ResponderConfig, health_response
from tests.probes.conftest import in_namespace


def test_health_answers_get_of_its_path_only() -> None:
    assert health_response(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "/health").startswith(
        b"HTTP/1.1 200 OK"
    )
    assert b"404" in health_response(b"GET /other HTTP/1.1\r\n\r\n", "/health")
    assert b"405" in health_response(b"POST /health HTTP/1.1\r\n\r\n", "/health")
    assert b"400" in health_response(b"garbage", "/health")


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limit = RateLimit(rate=10, burst=5, clock=lambda: now[0])
    assert [limit.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("b")  # every source has its own bucket
    now[0] = 0.25
    assert [limit.allow("a") for _ in range(3)] == [True, True, False]


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
