"""A real InfluxDB 1.x server (Debian's ``influxd``) for tests: loopback only, its own
temporary directory and config, started and stopped by the test.

    with running_influxd(tmp_path) as server:
        server.create_database("db")
        server.write("db", b"cpu value=1 1")
        server.query("SELECT * FROM cpu", "db")

``stop()`` then ``start()`` restarts it on the same port with the same data (outages).
"""

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "100ms"
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""


def free_port() -> int:
    """A TCP port nobody listens on right now on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class InfluxServer:
    """One influxd process; ``url`` is its HTTP API."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config_path = root / "influxdb.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._client = httpx.Client(base_url=self.url, timeout=30)

    def start(self, timeout: float = 30.0) -> None:
        """Start influxd and wait until it answers /ping."""
        binary = shutil.which("influxd")
        if binary is None:
            raise RuntimeError("influxd is not installed (make system-deps installs it)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            _CONFIG.format(root=self.root, http_port=self.http_port, rpc_port=self.rpc_port),
            encoding="utf-8",
        )
        log = (self.root / "influxd.log").open("ab")
        self._process = subprocess.Popen(
            [binary, "-config", str(self.config_path)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.root / "influxd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"influxd did not start on {self.url}:\n{tail}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return self._client.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop influxd (SIGTERM, then SIGKILL after 10 s); its data stays on disk."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        self._client.close()

    def query(self, text: str, database: str = "") -> list[dict[str, Any]]:
        """Run InfluxQL; returns the series of the first statement ([] when empty)."""
        response = self._client.post("/query", params={"q": text, "db": database, "epoch": "ns"})
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise RuntimeError(f"{text}: {result['error']}")
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def rows(self, text: str, database: str) -> list[dict[str, Any]]:
        """Rows of a query as dicts (column -> value), tags included, all series."""
        rows: list[dict[str, Any]] = []
        for series in self.query(text, database):
            tags = series.get("tags", {})
            rows += [
                dict(zip(series["columns"], values, strict=True)) | tags
                for values in series["values"]
            ]
        return rows

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def write(self, database: str, body: bytes) -> httpx.Response:
        """A raw v1 write (line protocol, ns precision)."""
        return self._client.post("/write", params={"db": database, "precision": "ns"}, content=body)


@contextlib.contextmanager
def running_influxd(root: Path) -> Iterator[InfluxServer]:
    """A started server in ``root``, always stopped at the end."""
    server = InfluxServer(root)
    try:
        server.start()
        yield server
    finally:
        server.close()
