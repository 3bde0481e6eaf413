"""The SQLite file: tables, pragmas, and opening it with errors mapped to StorageError.

WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed
(kill -9) and the file is never corrupted; only a power cut may lose the last
commits. Ids of exported tables use AUTOINCREMENT so they never go back: the
exporter's cursors are ids.
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from borderpath.core.errors import StorageError
from borderpath.core.events import EventRecord
from borderpath.core.records import PathSnapshot

SCHEMA_VERSION = 2
"""2: the alert queue and the dead letters became one table, ``queue`` (storage/queue.py)."""

EXPORTED_TABLES = ("results", "snapshots", "events")
"""Tables an exporter ships from, each with its own cursor per sink."""

INFLUX_SINK = "influxdb"
"""Cursor name of the InfluxDB sink (one per store)."""

PATH_PROTOCOL = "*"
"""The protocol of a rollup over every protocol of a path."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    uplink TEXT NOT NULL, pop TEXT NOT NULL, protocol TEXT NOT NULL,
    carrier TEXT NOT NULL, region TEXT NOT NULL, address TEXT NOT NULL, route TEXT NOT NULL,
    UNIQUE (uplink, pop, protocol, carrier, region, address, route)
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL, series_id INTEGER NOT NULL, ok INTEGER NOT NULL,
    rtt_ms REAL, error TEXT, forged INTEGER NOT NULL, ttl INTEGER, extras TEXT
);
CREATE INDEX IF NOT EXISTS results_time ON results (time_ns);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL, series_id INTEGER NOT NULL, state TEXT NOT NULL,
    loss REAL, loss_upper REAL, rtt_p50_ms REAL, rtt_p95_ms REAL, jitter_ms REAL,
    mos REAL, score REAL, selected INTEGER NOT NULL, sla TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_time ON snapshots (time_ns);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    labels TEXT, "values" TEXT
);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ns);
CREATE TABLE IF NOT EXISTS rollups (
    step_s INTEGER NOT NULL, uplink TEXT NOT NULL, pop TEXT NOT NULL, protocol TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    sent INTEGER NOT NULL, received INTEGER NOT NULL, loss REAL NOT NULL,
    rtt_min_ms REAL, rtt_p50_ms REAL, rtt_p95_ms REAL, rtt_max_ms REAL, rtt_mean_ms REAL,
    jitter_ms REAL, forged INTEGER NOT NULL,
    PRIMARY KEY (step_s, uplink, pop, protocol, start_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_time ON rollups (step_s, start_ns);
CREATE TABLE IF NOT EXISTS cursors (
    sink TEXT NOT NULL, source TEXT NOT NULL, last_id INTEGER NOT NULL,
    PRIMARY KEY (sink, source)
);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, consumer TEXT NOT NULL, time_ns INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_consumer ON queue (name, consumer, id);
"""

_FROM_VERSION_1 = (
    "INSERT INTO queue (name, consumer, time_ns, body)"
    " SELECT 'alerts', receiver, time_ns, body FROM alert_queue ORDER BY id",
    "INSERT INTO queue (name, consumer, time_ns, body)"
    " SELECT 'dead_letters', sink, time_ns, json_object('source', source, 'status', status,"
    " 'message', message, 'line', line) FROM dead_letters ORDER BY id",
    "DROP TABLE alert_queue",
    "DROP TABLE dead_letters",
)
"""A version 1 file's alert queue and dead letters, moved into ``queue`` in their order."""


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open (creating unless ``read_only``) the database with its pragmas and tables."""
    try:
        if read_only:
            require_database(path)
            connection = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 10000")
        if not read_only:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(_TABLES)
            _upgrade(connection)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{path}: cannot open the database ({exc})") from exc
    return connection


def require_database(path: Path) -> None:
    """StorageError unless the database exists (a command that is not the agent never
    creates one)."""
    if not path.exists():
        raise StorageError(f"{path}: no such database (has the agent run yet?)")


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring a file written by an older version to this one (a new file is created at it)."""
    connection.execute(
        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    with transaction(connection):  # checked inside: two openers never upgrade twice
        if get_meta(connection, "schema_version") == "1":
            for statement in _FROM_VERSION_1:
                connection.execute(statement)
            set_meta(connection, "schema_version", str(SCHEMA_VERSION))


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one batch, all or nothing. Inside
    a transaction already, it joins that one (it commits or rolls back as a whole)."""
    if connection.in_transaction:
        yield connection
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")  # a full disk may fail here, in WAL mode
    except BaseException:
        if connection.in_transaction:  # SQLite itself rolls back after a full disk
            connection.execute("ROLLBACK")
        raise


def used_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of the file in use (free pages left by deletions are reused, not counted)."""
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    size: int = connection.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def add_counter(connection: sqlite3.Connection, name: str, amount: int) -> None:
    connection.execute(
        "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + ?",
        (name, amount, amount),
    )


def read_counters(connection: sqlite3.Connection) -> dict[str, int]:
    return dict(connection.execute("SELECT name, value FROM counters ORDER BY name"))


def get_meta(connection: sqlite3.Connection, key: str) -> str | None:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def set_meta(connection: sqlite3.Connection, key: str, value: str) -> None:
    connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def get_cursor(connection: sqlite3.Connection, sink: str, source: str) -> int:
    row = connection.execute(
        "SELECT last_id FROM cursors WHERE sink = ? AND source = ?", (sink, source)
    ).fetchone()
    return int(row[0]) if row else 0


def backlog(connection: sqlite3.Connection, sink: str) -> dict[str, int]:
    """Rows not yet shipped to ``sink``, per exported table."""
    return {
        table: connection.execute(
            f"SELECT count(*) FROM {table} WHERE id > ?", (get_cursor(connection, sink, table),)
        ).fetchone()[0]
        for table in EXPORTED_TABLES
    }


def set_cursor(connection: sqlite3.Connection, sink: str, source: str, last_id: int) -> None:
    connection.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?, ?)", (sink, source, last_id))


def encode_extras(extras: Mapping[str, float | int | str]) -> str | None:
    """A result's extras as stored: compact JSON, or NULL when there are none."""
    return json.dumps(dict(extras), separators=(",", ":")) if extras else None


def insert_events(connection: sqlite3.Connection, events: Iterable[EventRecord]) -> None:
    """Add events (inside the caller's transaction); labels and values as JSON."""
    connection.executemany(
        'INSERT INTO events (time_ns, kind, text, labels, "values") VALUES (?, ?, ?, ?, ?)',
        [
            (
                e.time_ns,
                e.kind,
                e.text,
                json.dumps(dict(e.labels)) if e.labels else None,
                json.dumps(dict(e.values)) if e.values else None,
            )
            for e in events
        ],
    )


SNAPSHOT_VALUES = (
    "time_ns, state, loss, loss_upper, rtt_p50_ms, rtt_p95_ms, jitter_ms, mos, score, selected, sla"
)
"""The snapshot columns ``snapshot_from_row`` reads, in its order."""


def snapshot_from_row(uplink: str, pop: str, row: tuple[Any, ...]) -> PathSnapshot:
    """A PathSnapshot from the SNAPSHOT_VALUES columns of one row."""
    time_ns, state, loss, loss_upper, p50, p95, jitter, mos, score, selected, sla = row
    return PathSnapshot(
        time_ns=time_ns,
        uplink=uplink,
        pop=pop,
        state=state,
        loss=loss,
        loss_upper=loss_upper,
        rtt_p50_ms=p50,
        rtt_p95_ms=p95,
        jitter_ms=jitter,
        mos=mos,
        score=score,
        selected=bool(selected),
        sla=json.loads(sla) if sla else {},
    )
