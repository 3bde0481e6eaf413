"""Configuration of the local store and the InfluxDB export (``[storage]``)."""

import re
from pathlib import Path
from typing import Annotated, Literal, Self

import pydantic

from borderpath.core.model import FilePath, LocatedError, Seconds, StrictModel, require_order

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}


MAX_SIZE = 2**50
"""1 PiB: larger is a typo (SQLite itself stops at 281 TB)."""


def parse_size(value: object) -> int:
    """Bytes from "1GiB", "500MB", "64KiB" or a plain number of bytes."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a size such as '1GiB' or a number of bytes")
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size (write e.g. '1GiB', '500MB', '64KiB')")
        value = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if not value >= 0:  # NaN fails every comparison
        raise ValueError("a size cannot be negative or NaN")
    if value > MAX_SIZE:
        raise ValueError("a size cannot be above 1PiB")
    return int(value)


Bytes = Annotated[int, pydantic.BeforeValidator(parse_size)]
"""A size written as "1GiB", "500MB" or a number of bytes."""


class InfluxConfig(StrictModel):
    """Export to an InfluxDB server (``[storage.influxdb]``); absent = local store only.

    Secrets are never written here: give a file (``token_file``, ``password_file``) or
    the name of an environment variable (``token_env``, ``password_env``).
    """

    url: str = pydantic.Field(
        "http://127.0.0.1:8086", description="Base URL of the InfluxDB server."
    )
    api: Literal["v2", "v1"] = pydantic.Field(
        "v2",
        description=(
            "Write API: v2 (/api/v2/write with a token: InfluxDB 1.8+, 2.x, 3.x) "
            "or v1 (/write?db= with user and password: InfluxDB 1.x)."
        ),
    )
    org: str = pydantic.Field("-", description="v2: organisation ('-' for InfluxDB 1.8).")
    bucket: str = pydantic.Field(
        "borderpath", description="v2: bucket (for InfluxDB 1.8: 'database/retention-policy')."
    )
    database: str = pydantic.Field("borderpath", description="v1: database.")
    retention_policy: str = pydantic.Field(
        "", description="v1: retention policy (empty: the database's default)."
    )
    username: str = pydantic.Field("", description="v1: user name (empty: no authentication).")
    token_file: FilePath | None = pydantic.Field(
        None, description="v2: file holding the API token (InfluxDB 1.8: 'user:password')."
    )
    token_env: str = pydantic.Field(
        "", description="v2: environment variable holding the token, if no token_file."
    )
    password_file: FilePath | None = pydantic.Field(
        None, description="v1: file holding the password of 'username'."
    )
    password_env: str = pydantic.Field(
        "", description="v1: environment variable holding the password, if no password_file."
    )
    batch_size: int = pydantic.Field(
        10_000, ge=1, le=100_000, description="Most points sent in one write request."
    )
    flush_interval: Seconds = pydantic.Field(
        10.0, gt=0, description="Longest a stored point waits before it is shipped."
    )
    timeout: Seconds = pydantic.Field(10.0, gt=0, description="Timeout of one write request.")
    retry_min: Seconds = pydantic.Field(
        1.0, gt=0, description="First wait after a failed write; doubles on every failure."
    )
    retry_max: Seconds = pydantic.Field(
        300.0, gt=0, description="Longest wait between two tries (before jitter)."
    )
    spool_max_age: Seconds = pydantic.Field(
        7 * 86400.0,
        gt=0,
        description="Unshipped points older than this are dropped (counted, reported as events).",
    )
    spool_max_size: Bytes = pydantic.Field(
        2**30,
        gt=0,
        description=(
            "Largest estimated size of unshipped points (bytes, or '1GiB'); past it the "
            "oldest are dropped, counted and reported as an event."
        ),
    )
    dead_letters_max: int = pydantic.Field(
        10_000,
        ge=0,
        le=10_000_000,
        description=(
            "Most dead letters kept (lines the server refused as malformed, kept for "
            "'borderpath export dead-letters'); past it the oldest are dropped and counted."
        ),
    )

    @pydantic.model_validator(mode="after")
    def _credentials_given_once(self) -> Self:
        if self.token_file and self.token_env:
            raise ValueError("give token_file or token_env, not both")
        if self.password_file and self.password_env:
            raise ValueError("give password_file or password_env, not both")
        if self.api == "v2" and not (self.token_file or self.token_env):
            raise ValueError("the v2 API needs token_file or token_env")
        if self.api == "v1" and self.username and not (self.password_file or self.password_env):
            raise ValueError("username needs password_file or password_env")
        require_order(self, "retry_min", "retry_max")
        if not re.match(r"^https?://[^/?#\s]+", self.url):
            raise LocatedError("must be an http:// or https:// URL with a host", "url")
        return self


class StorageConfig(StrictModel):
    """The embedded SQLite store, always on."""

    path: FilePath | None = pydantic.Field(
        None, description="SQLite database file (default: DATA_DIR/borderpath.db)."
    )
    retention_raw: Seconds = pydantic.Field(
        48 * 3600.0, gt=0, description="How long every probe result is kept (once shipped)."
    )
    retention_10s: Seconds = pydantic.Field(
        14 * 86400.0, gt=0, description="How long the 10 s rollups are kept."
    )
    retention_1m: Seconds = pydantic.Field(
        400 * 86400.0, gt=0, description="How long the 1 min rollups are kept."
    )
    retention_snapshots: Seconds = pydantic.Field(
        48 * 3600.0, gt=0, description="How long the selector's path snapshots are kept."
    )
    retention_events: Seconds = pydantic.Field(
        400 * 86400.0, gt=0, description="How long events (decisions, alerts...) are kept."
    )
    max_size: Bytes = pydantic.Field(
        4 * 2**30,
        gt=0,
        description=(
            "Size cap of the database (bytes, or '4GiB'): past it the oldest raw results, "
            "then snapshots, then 10 s rollups are dropped and counted."
        ),
    )
    rollup_delay: Seconds = pydantic.Field(
        5.0,
        ge=0,
        description="A step is rolled up this long after it ends, so late answers count.",
    )
    influxdb: InfluxConfig | None = pydantic.Field(
        None, description="Export to InfluxDB; absent = local store only."
    )

    def database_path(self, data_dir: Path) -> Path:
        """Where the database lives: ``path``, or ``DATA_DIR/borderpath.db``."""
        return self.path if self.path is not None else data_dir / "borderpath.db"
