"""The NOC's own tools in a lab namespace for tests: a real Prometheus or Alertmanager
on the namespace's loopback (its own config and data directory, a free port), always
stopped, and plain HTTP GETs into that namespace from this process."""

import contextlib
import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from borderpath.lab import netns

START_TIMEOUT_S = 30.0


def free_port(namespace: str) -> int:
    """A TCP port nothing listens on in ``namespace``'s loopback now."""
    with contextlib.closing(netns.socket_in(namespace, socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(namespace: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET http://127.0.0.1:port/path inside ``namespace``: (status, body)."""
    sock = netns.socket_in(namespace, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sock.connect(("127.0.0.1", port))
        connection.sock = sock  # already connected in the namespace: http.client uses it
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
        sock.close()


def get_json(namespace: str, port: int, path: str) -> Any:
    status, body = get(namespace, port, path)
    if status != 200:
        raise AssertionError(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


@contextlib.contextmanager
def running(namespace: str, argv: Sequence[str], port: int, log: Path) -> Iterator[None]:
    """Run ``argv`` in ``namespace`` until the block ends; wait until ``port`` answers
    ``/-/ready`` (Prometheus' and Alertmanager's readiness endpoint)."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            netns.exec_argv(namespace, argv), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(namespace, port, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(namespace: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{log.name}: exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(namespace, port, "/-/ready")[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{log.name}: not ready in time: {log.read_text()[-2000:]}")
