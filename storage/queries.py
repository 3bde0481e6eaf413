"""Reading the store: raw results, summaries, rollups, hourly counts, events, snapshots,
and the export's bookkeeping (backlog, counters, dead letters).

``Queries`` is the read side of ``Store`` (a ``Store`` is one): every call is one
SELECT on the store's connection, so it runs on that connection's thread. A store
opened read-only (``Store.open_read_only``) answers all of them while the agent writes.
"""

import json
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from typing import NamedTuple, TypedDict, Unpack

from borderpath.core.events import EventKind, EventRecord
from borderpath.core.figures import Sample, Summary, summarize
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.storage import db
from borderpath.storage.db import INFLUX_SINK, PATH_PROTOCOL
from borderpath.storage.export import DEAD_LETTERS, DeadLetter
from borderpath.storage.queue import DurableQueue
from borderpath.storage.rollups import merge

_HOUR_NS = 3600 * 1_000_000_000


class HourCount(NamedTuple):
    """Probes a path sent and lost in one clock hour (``Store.hourly_counts``)."""

    uplink: str
    pop: str
    hour_ns: int
    """Start of the hour (Unix time, ns)."""
    sent: int
    lost: int


class PathFilter(TypedDict, total=False):
    """Only the rows of this uplink and/or PoP (absent or None: any)."""

    uplink: str | None
    pop: str | None


class SeriesFilter(PathFilter, total=False):
    """Only the rows of this uplink, PoP and/or protocol (absent or None: any)."""

    protocol: str | None


class Queries:
    """The queries of one store's connection (``self._db``, set by ``Store``)."""

    _db: sqlite3.Connection

    def query_results(
        self, since_ns: int, until_ns: int | None = None, **only: Unpack[SeriesFilter]
    ) -> list[ProbeResult]:
        """Raw results in ``[since, until)`` in time order (warm start of the selector)."""
        where, params = _filters(since_ns, until_ns, only, time_column="r.time_ns")
        rows = self._db.execute(
            "SELECT r.time_ns, s.uplink, s.pop, s.protocol, r.ok, r.rtt_ms, r.error, r.forged,"
            " r.ttl, r.extras FROM results r JOIN series s ON s.id = r.series_id"
            f" WHERE {where} ORDER BY r.time_ns, r.id",
            params,
        )
        return [
            ProbeResult(
                time_ns=time_ns,
                uplink=up,
                pop=p,
                protocol=proto,
                ok=bool(ok),
                rtt_ms=rtt,
                error=ErrorKind(error) if error else None,
                forged=forged,
                ttl=ttl,
                extras=json.loads(extras) if extras else {},
            )
            for time_ns, up, p, proto, ok, rtt, error, forged, ttl, extras in rows
        ]

    def summarize(
        self,
        since_ns: int,
        until_ns: int | None = None,
        *,
        per_path: bool = False,
        **only: Unpack[SeriesFilter],
    ) -> list[Summary]:
        """One summary per series (or per path, protocol ``*``) of the raw results in
        ``[since, until)``, sorted by uplink, pop, protocol."""
        where, params = _filters(since_ns, until_ns, only, time_column="r.time_ns")
        groups: dict[tuple[str, str, str], list[Sample]] = defaultdict(list)
        rows = self._db.execute(
            "SELECT s.uplink, s.pop, s.protocol, r.time_ns, r.ok, r.rtt_ms, r.forged"
            f" FROM results r JOIN series s ON s.id = r.series_id WHERE {where}",
            params,
        )
        for up, p, proto, time_ns, ok, rtt, forged in rows:
            key = (up, p, PATH_PROTOCOL if per_path else proto)
            groups[key].append((time_ns, bool(ok), rtt, forged))
        return [summarize(*key, since_ns, groups[key]) for key in sorted(groups)]

    def summarize_rollups(
        self,
        step_s: int,
        since_ns: int,
        until_ns: int | None = None,
        *,
        per_path: bool = False,
        **only: Unpack[SeriesFilter],
    ) -> list[Summary]:
        """Like ``summarize`` from the rollups of one step (for windows longer than the
        raw retention, or too long to read raw): see ``rollups.merge``."""
        groups: dict[tuple[str, str, str], list[Summary]] = defaultdict(list)
        for row in self.query_rollups(step_s, since_ns, until_ns, **only):
            if (row.protocol == PATH_PROTOCOL) == per_path:
                groups[(row.uplink, row.pop, row.protocol)].append(row)
        return [merge(*key, since_ns, groups[key]) for key in sorted(groups)]

    def query_rollups(
        self,
        step_s: int,
        since_ns: int,
        until_ns: int | None = None,
        **only: Unpack[SeriesFilter],
    ) -> list[Summary]:
        """Rollup rows of one step (10 or 60) in time order; protocol ``*`` = paths."""
        where, params = _filters(since_ns, until_ns, only, time_column="start_ns", column="{}")
        rows = self._db.execute(
            "SELECT uplink, pop, protocol, start_ns, sent, received, loss, rtt_min_ms,"
            " rtt_p50_ms, rtt_p95_ms, rtt_max_ms, rtt_mean_ms, jitter_ms, forged FROM rollups"
            f" WHERE step_s = ? AND {where} ORDER BY start_ns, uplink, pop",
            (step_s, *params),
        )
        return [Summary(*row) for row in rows]

    def hourly_counts(self, since_ns: int, until_ns: int) -> list[HourCount]:
        """Probes sent and lost per path and clock hour, from the 1 min path rollups
        (kept 400 days by default): the selector's daily peak history at start."""
        rows = self._db.execute(
            "SELECT uplink, pop, start_ns / ? AS hour, SUM(sent), SUM(sent - received)"
            " FROM rollups WHERE step_s = 60 AND protocol = ? AND start_ns >= ? AND start_ns < ?"
            " GROUP BY uplink, pop, hour ORDER BY hour, uplink, pop",
            (_HOUR_NS, PATH_PROTOCOL, since_ns, until_ns),
        )
        return [
            HourCount(uplink, pop, hour * _HOUR_NS, sent, lost)
            for uplink, pop, hour, sent, lost in rows
        ]

    def query_events(
        self,
        since_ns: int,
        until_ns: int | None = None,
        *,
        kind: str | None = None,
        **only: Unpack[PathFilter],
    ) -> list[EventRecord]:
        """Events in time order; ``kind`` matches exactly or as a prefix (``alert``);
        uplink and PoP are the events' labels."""
        where, params = _filters(
            since_ns, until_ns, only, time_column="time_ns", column="json_extract(labels, '$.{}')"
        )
        if kind:
            where += " AND (kind = ? OR kind LIKE ?)"
            params += [kind, f"{kind}.%"]
        rows = self._db.execute(
            'SELECT time_ns, kind, text, labels, "values" FROM events'
            f" WHERE {where} ORDER BY time_ns, id",
            params,
        )
        return [
            EventRecord(
                t, EventKind(k), text, json.loads(labels or "{}"), json.loads(values or "{}")
            )
            for t, k, text, labels, values in rows
        ]

    def query_snapshots(
        self,
        since_ns: int,
        until_ns: int | None = None,
        *,
        latest: bool = False,
        **only: Unpack[PathFilter],
    ) -> list[PathSnapshot]:
        """Selector snapshots in time order; ``latest``: only the last one of each path."""
        where, params = _filters(since_ns, until_ns, only, time_column="n.time_ns")
        if latest:
            where += (
                " AND n.id IN (SELECT max(n2.id) FROM snapshots n2"
                " JOIN series s2 ON s2.id = n2.series_id GROUP BY s2.uplink, s2.pop)"
            )
        columns = ", ".join(f"n.{name}" for name in db.SNAPSHOT_VALUES.split(", "))
        rows = self._db.execute(
            f"SELECT s.uplink, s.pop, {columns} FROM snapshots n"
            f" JOIN series s ON s.id = n.series_id WHERE {where} ORDER BY n.time_ns, n.id",
            params,
        )
        return [db.snapshot_from_row(row[0], row[1], row[2:]) for row in rows]

    def backlog(self, sink: str = INFLUX_SINK) -> dict[str, int]:
        """Rows not yet shipped to ``sink``, per table."""
        return db.backlog(self._db, sink)

    def counters(self) -> dict[str, int]:
        """Cumulative counts: dropped_<reason>_<table>, shipped_<sink>, dead_<sink>..."""
        return db.read_counters(self._db)

    def dead_letters(self, sink: str | None = None) -> list[DeadLetter]:
        """Lines a server refused for good, oldest first (of ``sink``, or of every one)."""
        letters = DurableQueue(self._db, DEAD_LETTERS).peek(sink)
        return [DeadLetter.from_item(item) for item in letters]

    def integrity_check(self) -> str:
        """SQLite's own check: ``ok`` when the file is sound."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _filters(
    since_ns: int,
    until_ns: int | None,
    only: Mapping[str, object],
    *,
    time_column: str,
    column: str = "s.{}",
) -> tuple[str, list[object]]:
    """The WHERE clause of ``[since, until)`` and the filters ``only``; ``column`` is
    where a filter's name is read (``s.uplink`` by default)."""
    where = [f"{time_column} >= ?"]
    params: list[object] = [since_ns]
    if until_ns is not None:
        where.append(f"{time_column} < ?")
        params.append(until_ns)
    for name in ("uplink", "pop", "protocol"):
        if value := only.get(name):
            where.append(f"{column.format(name)} = ?")
            params.append(value)
    return " AND ".join(where), params
