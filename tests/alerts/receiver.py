"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 inside a namespace
(the lab's branch, where the agent runs) or in this one, recording every body it takes.
It can answer slowly (``delay``) or refuse (``status`` 503)."""

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from borderpath.lab import netns
from borderpath.lab.lab import Lab
from tests.conftest import unique_lab_name


class Receiver:
    """``start()`` / ``stop()`` may be repeated: it comes back on the same port."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace
        self.port = 0
        self.status = 200
        self.delay = 0.0
        self.bodies: list[tuple[float, str, Any]] = []
        """(arrival time, path, parsed JSON body)."""
        self.headers: list[dict[str, str]] = []
        """The headers of each body taken, in the same order."""
        self._server: http.server.HTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        if self.namespace is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            listener = netns.socket_in(self.namespace, socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        server = http.server.HTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        server.socket.close()
        server.socket = listener
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def names(self) -> list[tuple[str, str]]:
        return [(alert["status"], alert["name"]) for alert in self.alerts()]

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every generic body, in arrival order."""
        with self._lock:
            return [alert for _, _, body in self.bodies for alert in body["alerts"]]

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """The alerts once at least ``count`` have arrived (all of them on timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.alerts()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.alerts()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                time.sleep(receiver.delay)
                if receiver.status == 200:
                    with receiver._lock:
                        receiver.bodies.append((time.time(), self.path, body))
                        receiver.headers.append(dict(self.headers))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextlib.contextmanager
def lab_with_receiver() -> Iterator[tuple[Lab, Receiver]]:
    """A lab of its own with a receiver in its branch; both gone after the block."""
    name = unique_lab_name()
    try:
        lab = Lab.up(name)
        receiver = Receiver(lab.namespace("branch")).start()
        try:
            yield lab, receiver
        finally:
            receiver.stop()
    finally:
        Lab(name).down()
