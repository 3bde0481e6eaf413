"""InfluxDB sinks: one write request of line protocol, 2xx or ``WriteFailed``.

The v2 sink (``/api/v2/write``, token) goes through influxdb-client's synchronous
write call, never its batching WriteApi, which keeps failed batches in memory and
drops them after its retry budget: here the store is the queue and the exporter
retries. The v1 sink (``/write?db=&rp=``, user and password) is plain httpx.
Both send gzip bodies and ns timestamps. Secrets are read from a file or an
environment variable and never appear in a message or a log line.
"""

import gzip
import json
import os
from pathlib import Path
from typing import Any, Protocol

import httpx
import urllib3

from borderpath.core.errors import StorageError
from borderpath.storage.config import InfluxConfig

_RETRYABLE = frozenset({408, 429})
_MALFORMED = frozenset({400, 422})
"""Answers about the lines themselves (a parse error, a field type conflict): InfluxDB
1.x says 400, some 2.x versions 422. Any other 4xx refuses the request, not its lines."""


class WriteFailed(Exception):
    """A write that did not get a 2xx: ``status`` None = no answer at all."""

    def __init__(self, status: int | None, message: str, retry_after: float | None = None):
        super().__init__(f"{status or 'no answer'}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """The same request may succeed later (server down, busy, overloaded)."""
        return self.status is None or self.status >= 500 or self.status in _RETRYABLE

    @property
    def malformed(self) -> bool:
        """The server refused some of the lines as they are: only they can never succeed."""
        return self.status in _MALFORMED


class Sink(Protocol):
    """Where an Exporter sends line protocol: V2Sink, V1Sink, or your own."""

    def write(self, body: bytes) -> None:
        """Send ``body`` (line protocol, ns precision); raise WriteFailed unless 2xx."""

    def close(self) -> None: ...


def read_secret(file: Path | None, env: str, key: str) -> str:
    """The secret held by ``file`` or the environment variable ``env``; '' if neither is
    configured. ``key`` names the config key in the error message."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StorageError(
                f"storage.influxdb.{key}_file: cannot read {file} ({exc.strerror})"
            ) from None
    if env:
        value = os.environ.get(env)
        if value is None:
            raise StorageError(
                f"storage.influxdb.{key}_env: the environment variable {env} is not set"
            )
        return value.strip()
    return ""


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from InfluxDB: ignored)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(document, dict):
        return str(document.get("error") or document.get("message") or text)[:500]
    return text[:500]


class V1Sink:
    """InfluxDB 1.x ``/write?db=&rp=&precision=ns`` with HTTP basic authentication."""

    def __init__(self, config: InfluxConfig) -> None:
        password = read_secret(config.password_file, config.password_env, "password")
        self._params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            self._params["rp"] = config.retention_policy
        self._client = httpx.Client(
            base_url=config.url,
            timeout=config.timeout,
            auth=httpx.BasicAuth(config.username, password) if config.username else None,
        )

    def write(self, body: bytes) -> None:
        try:
            response = self._client.post(
                "/write",
                params=self._params,
                content=gzip.compress(body, compresslevel=1),
                headers={
                    "Content-Encoding": "gzip",
                    "Content-Type": "text/plain; charset=utf-8",
                },
            )
        except httpx.HTTPError as exc:
            raise WriteFailed(None, str(exc) or type(exc).__name__) from None
        if not response.is_success:
            raise WriteFailed(
                response.status_code,
                _server_message(response.content),
                _retry_after(response.headers.get("Retry-After")),
            )

    def close(self) -> None:
        self._client.close()


class V2Sink:
    """InfluxDB ``/api/v2/write`` (1.8+, 2.x, 3.x) with a token, via influxdb-client."""

    def __init__(self, config: InfluxConfig) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        token = read_secret(config.token_file, config.token_env, "token")
        self._client: Any = InfluxDBClient(
            url=config.url,
            token=token,
            org=config.org,
            timeout=int(config.timeout * 1000),
            enable_gzip=True,
        )
        self._writer: Any = self._client.write_api(write_options=SYNCHRONOUS)
        self._bucket = config.bucket
        self._org = config.org

    def write(self, body: bytes) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision

        try:
            self._writer.write(self._bucket, self._org, body, write_precision=WritePrecision.NS)
        except InfluxDBError as exc:
            status = getattr(exc.response, "status", None)
            message = str(exc.message)[:500]  # the server's JSON "message", parsed by the client
            raise WriteFailed(status, message, _retry_after(exc.retry_after)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise WriteFailed(None, str(exc) or type(exc).__name__) from None

    def close(self) -> None:
        self._client.close()


def open_sink(config: InfluxConfig) -> Sink:
    """The sink ``config.api`` names; a missing secret raises StorageError."""
    return V2Sink(config) if config.api == "v2" else V1Sink(config)
