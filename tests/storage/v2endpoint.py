"""A stand-in for InfluxDB's ``/api/v2/write`` in front of a real influxd 1.6 (which has
none): it checks each request exactly as a 1.8+/2.x/3.x server would receive it, then
forwards the body to influxd's ``/write`` so the points can be read back.

Checked: POST to /api/v2/write, org, bucket, precision=ns, ``Authorization: Token T``,
``Content-Encoding: gzip``, a text/plain body. A wrong token gets 401 as InfluxDB 2
answers it; any other mismatch gets 400 and is listed in ``violations``.
"""

import gzip
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


class V2Endpoint:
    def __init__(self, influx_url: str, *, org: str, bucket: str, token: str) -> None:
        self.influx_url = influx_url
        self.org = org
        self.bucket = bucket
        self.token = token
        self.violations: list[str] = []
        self.bodies: list[bytes] = []
        """Decompressed bodies of the accepted requests."""
        self.fail_next: list[tuple[int, dict[str, str]]] = []
        """Answers (status, headers) to give instead of forwarding, one per request."""
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _check(self, path: str, headers: dict[str, str]) -> str | None:
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        expected = {"org": [self.org], "bucket": [self.bucket], "precision": ["ns"]}
        problems = [
            f"path {url.path!r}" if url.path != "/api/v2/write" else "",
            f"query {query}" if query != expected else "",
            "not gzip" if headers.get("content-encoding") != "gzip" else "",
            "not text/plain"
            if not headers.get("content-type", "").startswith("text/plain")
            else "",
        ]
        problem = "; ".join(p for p in problems if p)
        return problem or None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest shows failures, not every request."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                if headers.get("authorization") != f"Token {endpoint.token}":
                    self._answer(401, b'{"code":"unauthorized","message":"unauthorized access"}')
                    return
                problem = endpoint._check(self.path, headers)
                if problem:
                    endpoint.violations.append(problem)
                    self._answer(400, f'{{"code":"invalid","message":"{problem}"}}'.encode())
                    return
                if endpoint.fail_next:
                    status, extra = endpoint.fail_next.pop(0)
                    self._answer(status, b'{"code":"unavailable","message":"busy"}', extra)
                    return
                lines = gzip.decompress(body)
                forwarded = httpx.post(
                    f"{endpoint.influx_url}/write",
                    params={"db": endpoint.bucket, "precision": "ns"},
                    content=lines,
                )
                if forwarded.is_success:
                    endpoint.bodies.append(lines)
                self._answer(forwarded.status_code, forwarded.content)

            def _answer(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    @contextmanager
    def serving(self) -> Iterator["V2Endpoint"]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


def main() -> None:
    """``python -m tests.storage.v2endpoint INFLUX_URL ORG BUCKET TOKEN``: serve in a
    process of its own (benchmarks), printing the URL, until stdin closes."""
    import sys

    influx_url, org, bucket, token = sys.argv[1:5]
    endpoint = V2Endpoint(influx_url, org=org, bucket=bucket, token=token)
    with endpoint.serving():
        print(endpoint.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
