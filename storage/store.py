"""The embedded store: every probe result, rollups, snapshots and events in SQLite.

``Store`` is synchronous and must be used by one thread at a time; the agent uses
``AsyncStore``, which runs every call on one dedicated worker thread so the event
loop never waits for SQLite. The store is also the export queue: rows not yet
shipped to every configured sink are kept past their retention, up to the spool cap.
"""

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

from borderpath.core.errors import StorageError
from borderpath.core.figures import Sample, Summary, median, summarize
from borderpath.core.records import EventRecord, PathSnapshot
from borderpath.probes.config import PopConfig, UplinkConfig
from borderpath.probes.result import ErrorKind, ProbeResult
from borderpath.storage import db
from borderpath.storage.config import StorageConfig
from borderpath.storage.rollups import STEPS_S, merge
from borderpath.storage.schema import SeriesInfo, encode_extras

log = logging.getLogger("borderpath.storage")

INFLUX_SINK = "influxdb"
"""Cursor name of the InfluxDB sink (one per store)."""

PATH_PROTOCOL = "*"
"""The protocol of a rollup over every protocol of a path."""

_NS = 1_000_000_000
_HOUR_NS = 3600 * _NS
_DELETE_CHUNK = 50_000

T = TypeVar("T")

_OLDEST_FIRST = {
    "results": (
        "SELECT max(id) - min(id) + 1 FROM results",
        "DELETE FROM results WHERE id IN (SELECT id FROM results ORDER BY id LIMIT ?)",
    ),
    "snapshots": (
        "SELECT max(id) - min(id) + 1 FROM snapshots",
        "DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots ORDER BY id LIMIT ?)",
    ),
    "rollups_10s": (
        "SELECT count(*) FROM rollups WHERE step_s = 10",
        "DELETE FROM rollups WHERE step_s = 10 AND start_ns <= (SELECT start_ns FROM rollups"
        " WHERE step_s = 10 ORDER BY start_ns LIMIT 1 OFFSET ? - 1)",
    ),
}
"""What the size cap drops, in order: (estimated rows, delete the oldest N) per table."""


@dataclasses.dataclass(frozen=True, slots=True)
class Baseline:
    """A path's (or series') usual quality in one hour of the week, from 1 min rollups."""

    hour_of_week: int
    """0 = Monday 00:00-01:00 in the time zone asked for, 167 = Sunday 23:00-24:00."""
    minutes: int
    loss: float
    """Sent-weighted mean loss fraction."""
    rtt_p50_ms: float | None
    """Median of the minutes' median RTTs."""
    rtt_p95_ms: float | None
    """Median of the minutes' 95th percentile RTTs."""


class HourCount(NamedTuple):
    """Probes a path sent and lost in one clock hour (``Store.hourly_counts``)."""

    uplink: str
    pop: str
    hour_ns: int
    """Start of the hour (Unix time, ns)."""
    sent: int
    lost: int


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    """A line a server refused for good, with its answer (``Store.dead_letters``)."""

    time_ns: int
    sink: str
    source: str
    status: int | None
    message: str
    line: str


@dataclasses.dataclass(slots=True)
class HousekeepingReport:
    """What one ``housekeeping()`` did."""

    rolled_up: int = 0
    """Rollup rows written."""
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    """Rows dropped, by reason and table (retention_results, spool_events, size_results...)."""


class Store:
    """One SQLite database of one site. Open with ``Store.open``; close when done."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        site: str,
        config: StorageConfig,
        uplinks: Iterable[UplinkConfig],
        pops: Iterable[PopConfig],
        clock: Callable[[], int],
    ) -> None:
        self.path = path
        self.site = site
        self.config = config
        self._db = connection
        self._clock = clock
        self._carriers = {u.name: u.carrier for u in uplinks}
        pops = list(pops)
        self._regions = {p.name: p.region for p in pops}
        self._addresses = {p.name: str(p.address) for p in pops}
        self._routes: dict[tuple[str, str], str] = {}
        self._series_ids: dict[tuple[str, str, str], int] = {}
        self.sinks = (INFLUX_SINK,) if config.influxdb is not None else ()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        site: str,
        config: StorageConfig | None = None,
        uplinks: Iterable[UplinkConfig] = (),
        pops: Iterable[PopConfig] = (),
        clock: Callable[[], int] = time.time_ns,
    ) -> Self:
        """Open or create the store of ``site``; uplinks and pops give the series tags."""
        connection = db.connect(path)
        db.set_meta(connection, "site", site)
        store = cls(
            connection,
            path,
            site=site,
            config=config or StorageConfig(),
            uplinks=uplinks,
            pops=pops,
            clock=clock,
        )
        store._routes = {
            (uplink, pop): route
            for uplink, pop, route in connection.execute(
                "SELECT uplink, pop, route FROM series WHERE protocol = '' ORDER BY id"
            )
        }
        return store

    @classmethod
    def open_read_only(cls, path: Path, config: StorageConfig | None = None) -> Self:
        """Open an existing store for queries only (safe while the agent writes)."""
        connection = db.connect(path, read_only=True)
        try:
            site = db.get_meta(connection, "site") or ""
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: not a borderpath database ({exc})") from exc
        return cls(
            connection,
            path,
            site=site,
            config=config or StorageConfig(),
            uplinks=(),
            pops=(),
            clock=time.time_ns,
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; an SQLite failure (disk full, I/O error) is a StorageError,
        and series ids cached during the rolled-back transaction are forgotten."""
        try:
            with db.transaction(self._db):
                yield
        except sqlite3.Error as exc:
            self._series_ids.clear()
            raise StorageError(f"{self.path}: cannot write to the database ({exc})") from exc

    def write_results(self, batch: Sequence[ProbeResult]) -> None:
        """Store one batch of probe results in one transaction (all or nothing)."""
        ids = self._series_ids
        with self._transaction():
            rows = [
                (
                    result.time_ns,
                    ids.get(result.series) or self._series_id(*result.series),
                    result.ok,
                    result.rtt_ms,
                    result.error,
                    result.forged,
                    result.ttl,
                    encode_extras(result.extras) if result.extras else None,
                )
                for result in batch
            ]
            self._db.executemany(
                "INSERT INTO results (time_ns, series_id, ok, rtt_ms, error, forged, ttl, extras)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def add_events(self, events: Iterable[EventRecord]) -> None:
        with self._transaction():
            db.insert_events(self._db, events)

    def add_snapshots(self, snapshots: Iterable[PathSnapshot]) -> None:
        """Store the selector's per-path state (exported as ``borderpath_path``)."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO snapshots (time_ns, series_id, state, loss, loss_upper, rtt_p50_ms,"
                " rtt_p95_ms, jitter_ms, mos, score, selected, sla)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.time_ns,
                        self._series_id(s.uplink, s.pop, ""),
                        s.state,
                        s.loss,
                        s.loss_upper,
                        s.rtt_p50_ms,
                        s.rtt_p95_ms,
                        s.jitter_ms,
                        s.mos,
                        s.score,
                        s.selected,
                        json.dumps(dict(s.sla)) if s.sla else None,
                    )
                    for s in snapshots
                ],
            )

    def set_path_labels(self, routes: Mapping[tuple[str, str], str]) -> None:
        """Set the route label (from tracing) of paths ``(uplink, pop)``: a ``route`` tag
        on every row stored from now on. An empty label removes it."""
        self._routes.update(routes)
        self._series_ids.clear()

    def _series_id(self, uplink: str, pop: str, protocol: str) -> int:
        info = SeriesInfo(
            uplink=uplink,
            pop=pop,
            protocol=protocol,
            carrier=self._carriers.get(uplink, ""),
            region=self._regions.get(pop, ""),
            address=self._addresses.get(pop, ""),
            route=self._routes.get((uplink, pop), ""),
        )
        values = dataclasses.astuple(info)
        self._db.execute(
            "INSERT OR IGNORE INTO series (uplink, pop, protocol, carrier, region, address, route)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        row = self._db.execute(
            "SELECT id FROM series WHERE uplink = ? AND pop = ? AND protocol = ? AND carrier = ?"
            " AND region = ? AND address = ? AND route = ?",
            values,
        ).fetchone()
        series_id = int(row[0])
        self._series_ids[(uplink, pop, protocol)] = series_id
        return series_id

    # -- housekeeping --------------------------------------------------------------

    def housekeeping(self, now_ns: int | None = None) -> HousekeepingReport:
        """Rollups, spool cap, retention and size cap: call every minute or so."""
        now_ns = self._clock() if now_ns is None else now_ns
        report = HousekeepingReport()
        report.rolled_up = self.rollup(now_ns)
        self._enforce_spool(now_ns, report)
        self._apply_retention(now_ns, report)
        self._enforce_size_cap(now_ns, report)
        dropped = {name: count for name, count in report.dropped.items() if count}
        report.dropped = dropped
        if dropped:
            log.info("storage.housekeeping dropped %s", dropped)
            with self._transaction():
                for name, count in dropped.items():
                    db.add_counter(self._db, f"dropped_{name}", count)
        return report

    def rollup(self, now_ns: int | None = None) -> int:
        """Roll up every step that ended ``rollup_delay`` ago; returns rows written."""
        now_ns = self._clock() if now_ns is None else now_ns
        written = 0
        for step_s in STEPS_S:
            step_ns = step_s * _NS
            end = (now_ns - int(self.config.rollup_delay * _NS)) // step_ns * step_ns
            start = self._rollup_start(step_s)
            while start is not None and start < end:
                chunk_end = min(end, start + max(_HOUR_NS, step_ns))
                written += self._rollup_window(step_s, start, chunk_end)
                start = chunk_end
        return written

    def _rollup_start(self, step_s: int) -> int | None:
        done = db.get_meta(self._db, f"rollup_until_{step_s}")
        if done is not None:
            return int(done)
        first = self._db.execute("SELECT min(time_ns) FROM results").fetchone()[0]
        step_ns = step_s * _NS
        return None if first is None else int(first) // step_ns * step_ns

    def _rollup_window(self, step_s: int, start: int, end: int) -> int:
        step_ns = step_s * _NS
        groups: dict[tuple[str, str, str, int], list[Sample]] = defaultdict(list)
        rows = self._db.execute(
            "SELECT s.uplink, s.pop, s.protocol, r.time_ns, r.ok, r.rtt_ms, r.forged"
            " FROM results r JOIN series s ON s.id = r.series_id"
            " WHERE r.time_ns >= ? AND r.time_ns < ?",
            (start, end),
        )
        for uplink, pop, protocol, time_ns, ok, rtt, forged in rows:
            sample = (time_ns, bool(ok), rtt, forged)
            bucket = time_ns // step_ns * step_ns
            groups[(uplink, pop, protocol, bucket)].append(sample)
            groups[(uplink, pop, PATH_PROTOCOL, bucket)].append(sample)
        summaries = [summarize(*key[:3], key[3], samples) for key, samples in groups.items()]
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO rollups VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(step_s, *_summary_row(summary)) for summary in summaries],
            )
            db.set_meta(self._db, f"rollup_until_{step_s}", str(end))
        return len(summaries)

    def _min_cursor(self, table: str) -> int | None:
        """Highest id shipped to every sink (None: no sink, everything may go)."""
        if not self.sinks:
            return None
        return min(db.get_cursor(self._db, sink, table) for sink in self.sinks)

    def _apply_retention(self, now_ns: int, report: HousekeepingReport) -> None:
        config = self.config
        keep = {
            "results": config.retention_raw,
            "snapshots": config.retention_snapshots,
            "events": config.retention_events,
        }
        for table, seconds in keep.items():
            cutoff = now_ns - int(seconds * _NS)
            shipped = self._min_cursor(table)
            where = "time_ns < ?" + (" AND id <= ?" if shipped is not None else "")
            params = (cutoff,) if shipped is None else (cutoff, shipped)
            report.dropped[f"retention_{table}"] = self._delete_where(table, where, params)
        for step_s, seconds in ((10, config.retention_10s), (60, config.retention_1m)):
            cutoff = now_ns - int(seconds * _NS)
            with self._transaction():
                deleted = self._db.execute(
                    "DELETE FROM rollups WHERE step_s = ? AND start_ns < ?", (step_s, cutoff)
                ).rowcount
            report.dropped[f"retention_rollups_{step_s}s"] = deleted

    def _delete_where(self, table: str, where: str, params: tuple[int, ...]) -> int:
        """Delete in chunks so no single transaction holds the writer for long."""
        total = 0
        while True:
            with self._transaction():
                deleted = self._db.execute(
                    f"DELETE FROM {table} WHERE id IN"
                    f" (SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT {_DELETE_CHUNK})",
                    params,
                ).rowcount
            total += deleted
            if deleted < _DELETE_CHUNK:
                return total

    def _enforce_spool(self, now_ns: int, report: HousekeepingReport) -> None:
        """Skip (drop) unshipped rows past the spool cap: too old, or too many bytes."""
        influx = self.config.influxdb
        if influx is None:
            return
        cutoff = now_ns - int(influx.spool_max_age * _NS)
        for sink in self.sinks:
            for table in db.EXPORTED_TABLES:
                cursor = db.get_cursor(self._db, sink, table)
                last, count = self._db.execute(
                    f"SELECT max(id), count(*) FROM {table} WHERE id > ? AND time_ns < ?",
                    (cursor, cutoff),
                ).fetchone()
                if count:
                    self._skip(
                        sink, table, last, count, why="older than the spool age", report=report
                    )
            self._enforce_spool_size(sink, influx.spool_max_size, report)

    def _enforce_spool_size(self, sink: str, budget: int, report: HousekeepingReport) -> None:
        """The spool's size is estimated as unshipped rows x the file's bytes per row
        (both from ids: counting millions of rows every minute would cost seconds)."""
        row_bytes = self._bytes_per_row()
        cursors = {table: db.get_cursor(self._db, sink, table) for table in db.EXPORTED_TABLES}
        pending = {
            table: max(0, self._id_range(table)[1] - cursor) for table, cursor in cursors.items()
        }
        excess = sum(pending.values()) - budget // row_bytes
        for table in db.EXPORTED_TABLES:  # the oldest raw results go first
            drop = min(excess, pending[table])
            if drop <= 0:
                continue
            last = self._db.execute(
                f"SELECT id FROM {table} WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?",
                (cursors[table], drop - 1),
            ).fetchone()[0]
            self._skip(sink, table, last, drop, why="past the spool size", report=report)
            excess -= drop

    def _bytes_per_row(self) -> int:
        rows = 0
        for table in db.EXPORTED_TABLES:
            first, last = self._id_range(table)
            rows += last - first + 1 if last else 0
        return max(1, db.used_bytes(self._db) // max(1, rows))

    def _id_range(self, table: str) -> tuple[int, int]:
        """(first, last) id of a table, (0, 0) when empty. Ids only grow and the oldest
        rows go first, so ``last - first + 1`` estimates the rows without counting them."""
        first, last = self._db.execute(f"SELECT min(id), max(id) FROM {table}").fetchone()
        return (int(first), int(last)) if last is not None else (0, 0)

    def _skip(
        self,
        sink: str,
        table: str,
        last_id: int,
        count: int,
        *,
        why: str,
        report: HousekeepingReport,
    ) -> None:
        text = f"{count} unshipped {table} rows for {sink} dropped: {why}"
        log.warning("storage.spool.dropped %s", text)
        with self._transaction():
            db.set_cursor(self._db, sink, table, last_id)
            event = EventRecord(
                self._clock(),
                "storage.dropped",
                text,
                labels={"sink": sink, "table": table},
                values={"rows": count},
            )
            db.insert_events(self._db, [event])
        name = f"spool_{table}"
        report.dropped[name] = report.dropped.get(name, 0) + count

    def _enforce_size_cap(self, now_ns: int, report: HousekeepingReport) -> None:
        """Past ``max_size``, drop the oldest raw results, then snapshots, then 10 s rollups."""
        cap = self.config.max_size
        for name, (count_sql, delete_sql) in _OLDEST_FIRST.items():
            while (used := db.used_bytes(self._db)) > cap:
                rows = self._db.execute(count_sql).fetchone()[0] or 0
                if not rows:
                    break
                # the share of rows to drop, a little more so one pass usually does
                chunk = min(rows, int(rows * (used - cap) / used * 1.1) + 1, _DELETE_CHUNK)
                with self._transaction():
                    deleted = self._db.execute(delete_sql, (chunk,)).rowcount
                report.dropped[f"size_{name}"] = report.dropped.get(f"size_{name}", 0) + deleted
        size_drops = sum(n for name, n in report.dropped.items() if name.startswith("size_"))
        if size_drops:
            text = f"database reached its size cap ({cap} bytes): {size_drops} oldest rows dropped"
            log.warning("storage.size_cap %s", text)
            self.add_events(
                [EventRecord(now_ns, "storage.dropped", text, values={"rows": size_drops})]
            )

    # -- queries -------------------------------------------------------------------

    def query_results(
        self,
        since_ns: int,
        until_ns: int | None = None,
        *,
        uplink: str | None = None,
        pop: str | None = None,
        protocol: str | None = None,
    ) -> list[ProbeResult]:
        """Raw results in ``[since, until)`` in time order (warm start of the selector)."""
        where, params = _filters(
            since_ns, until_ns, uplink=uplink, pop=pop, protocol=protocol, time_column="r.time_ns"
        )
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
        uplink: str | None = None,
        pop: str | None = None,
        protocol: str | None = None,
        per_path: bool = False,
    ) -> list[Summary]:
        """One summary per series (or per path, protocol ``*``) of the raw results in
        ``[since, until)``, sorted by uplink, pop, protocol."""
        where, params = _filters(
            since_ns, until_ns, uplink=uplink, pop=pop, protocol=protocol, time_column="r.time_ns"
        )
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
        uplink: str | None = None,
        pop: str | None = None,
        protocol: str | None = None,
        per_path: bool = False,
    ) -> list[Summary]:
        """Like ``summarize`` from the rollups of one step (for windows longer than the
        raw retention, or too long to read raw): see ``rollups.merge``."""
        groups: dict[tuple[str, str, str], list[Summary]] = defaultdict(list)
        rows = self.query_rollups(
            step_s, since_ns, until_ns, uplink=uplink, pop=pop, protocol=protocol
        )
        for row in rows:
            if (row.protocol == PATH_PROTOCOL) == per_path:
                groups[(row.uplink, row.pop, row.protocol)].append(row)
        return [merge(*key, since_ns, groups[key]) for key in sorted(groups)]

    def query_rollups(
        self,
        step_s: int,
        since_ns: int,
        until_ns: int | None = None,
        *,
        uplink: str | None = None,
        pop: str | None = None,
        protocol: str | None = None,
    ) -> list[Summary]:
        """Rollup rows of one step (10 or 60) in time order; protocol ``*`` = paths."""
        where, params = _filters(
            since_ns,
            until_ns,
            uplink=uplink,
            pop=pop,
            protocol=protocol,
            time_column="start_ns",
            prefix="",
        )
        rows = self._db.execute(
            "SELECT uplink, pop, protocol, start_ns, sent, received, loss, rtt_min_ms,"
            " rtt_p50_ms, rtt_p95_ms, rtt_max_ms, rtt_mean_ms, jitter_ms, forged FROM rollups"
            f" WHERE step_s = ? AND {where} ORDER BY start_ns, uplink, pop",
            (step_s, *params),
        )
        return [Summary(*row) for row in rows]

    def baseline(
        self,
        uplink: str,
        pop: str,
        protocol: str = PATH_PROTOCOL,
        *,
        since_ns: int | None = None,
        tz: datetime.tzinfo = datetime.UTC,
    ) -> dict[int, Baseline]:
        """Usual quality per hour of the week (in ``tz``) from the 1 min rollups since
        ``since_ns`` (default: the last 4 weeks), keyed by hour of week."""
        since = self._clock() - 28 * 86400 * _NS if since_ns is None else since_ns
        hours: dict[int, list[Summary]] = defaultdict(list)
        for row in self.query_rollups(60, since, uplink=uplink, pop=pop, protocol=protocol):
            moment = datetime.datetime.fromtimestamp(row.start_ns / _NS, tz)
            hours[moment.weekday() * 24 + moment.hour].append(row)
        return {hour: _baseline(hour, rows) for hour, rows in sorted(hours.items())}

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
        uplink: str | None = None,
        pop: str | None = None,
    ) -> list[EventRecord]:
        """Events in time order; ``kind`` matches exactly or as a prefix (``alert``)."""
        where = ["time_ns >= ?"]
        params: list[object] = [since_ns]
        if until_ns is not None:
            where.append("time_ns < ?")
            params.append(until_ns)
        if kind:
            where.append("(kind = ? OR kind LIKE ?)")
            params += [kind, f"{kind}.%"]
        for key, value in (("uplink", uplink), ("pop", pop)):
            if value:
                where.append(f"json_extract(labels, '$.{key}') = ?")
                params.append(value)
        rows = self._db.execute(
            'SELECT time_ns, kind, text, labels, "values" FROM events'
            f" WHERE {' AND '.join(where)} ORDER BY time_ns, id",
            params,
        )
        return [
            EventRecord(t, k, text, json.loads(labels or "{}"), json.loads(values or "{}"))
            for t, k, text, labels, values in rows
        ]

    def query_snapshots(
        self,
        since_ns: int,
        until_ns: int | None = None,
        *,
        uplink: str | None = None,
        pop: str | None = None,
        latest: bool = False,
    ) -> list[PathSnapshot]:
        """Selector snapshots in time order; ``latest``: only the last one of each path."""
        where, params = _filters(
            since_ns, until_ns, uplink=uplink, pop=pop, protocol=None, time_column="n.time_ns"
        )
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
        rows = self._db.execute(
            "SELECT time_ns, sink, source, status, message, line FROM dead_letters"
            " WHERE ? IS NULL OR sink = ? ORDER BY id",
            (sink, sink),
        )
        return [DeadLetter(*row) for row in rows]

    # -- the alert queue: notifications waiting for each receiver, in order -----------

    def queue_alerts(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Queue ``(receiver, time_ns, body)`` notifications; they stay until acknowledged."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO alert_queue (receiver, time_ns, body) VALUES (?, ?, ?)", rows
            )

    def queued_alerts(self, receiver: str, limit: int) -> list[tuple[int, int, str]]:
        """The oldest ``limit`` notifications of ``receiver``: ``(id, time_ns, body)``."""
        rows = self._db.execute(
            "SELECT id, time_ns, body FROM alert_queue WHERE receiver = ? ORDER BY id LIMIT ?",
            (receiver, limit),
        )
        return [(int(i), int(t), str(body)) for i, t, body in rows]

    def ack_alerts(self, receiver: str, through_id: int) -> None:
        """The receiver took every notification up to ``through_id``: forget them."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM alert_queue WHERE receiver = ? AND id <= ?", (receiver, through_id)
            )

    def expire_alerts(self, before_ns: int) -> int:
        """Drop notifications queued before ``before_ns`` (counted as ``dropped_alerts``)."""
        with self._transaction():
            dropped = self._db.execute(
                "DELETE FROM alert_queue WHERE time_ns < ?", (before_ns,)
            ).rowcount
            if dropped:
                db.add_counter(self._db, "dropped_alerts", dropped)
        return int(dropped)

    def alert_queue(self) -> dict[str, int]:
        """Notifications waiting, per receiver."""
        rows = self._db.execute("SELECT receiver, count(*) FROM alert_queue GROUP BY receiver")
        return {str(receiver): int(count) for receiver, count in rows}

    def integrity_check(self) -> str:
        """SQLite's own check: ``ok`` when the file is sound."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _filters(
    since_ns: int,
    until_ns: int | None,
    *,
    uplink: str | None,
    pop: str | None,
    protocol: str | None,
    time_column: str,
    prefix: str = "s.",
) -> tuple[str, list[object]]:
    where = [f"{time_column} >= ?"]
    params: list[object] = [since_ns]
    if until_ns is not None:
        where.append(f"{time_column} < ?")
        params.append(until_ns)
    for column, value in (("uplink", uplink), ("pop", pop), ("protocol", protocol)):
        if value:
            where.append(f"{prefix}{column} = ?")
            params.append(value)
    return " AND ".join(where), params


def _summary_row(summary: Summary) -> tuple[Any, ...]:
    return dataclasses.astuple(summary)


def _baseline(hour: int, rows: list[Summary]) -> Baseline:
    sent = sum(row.sent for row in rows)
    lost = sum(row.sent - row.received for row in rows)
    return Baseline(
        hour_of_week=hour,
        minutes=len(rows),
        loss=lost / sent if sent else 0.0,
        rtt_p50_ms=median(row.rtt_p50_ms for row in rows),
        rtt_p95_ms=median(row.rtt_p95_ms for row in rows),
    )


class AsyncStore:
    """A ``Store`` driven from the event loop: every call runs on one worker thread,
    in order, so SQLite never blocks the loop and the connection has one user."""

    def __init__(self, store: Store, executor: concurrent.futures.ThreadPoolExecutor) -> None:
        self.store = store
        self._executor = executor

    @classmethod
    async def open(cls, path: Path, **options: Any) -> Self:
        """``Store.open(path, **options)`` on the worker thread."""
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="borderpath-store")
        opening = functools.partial(Store.open, path, **options)
        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, opening)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(store, executor)

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` on the worker, e.g. ``await s.run(s.store.query_events, t)``."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def ingest(self, batch: Sequence[ProbeResult]) -> None:
        """Store one batch (copied: the caller may reuse its list)."""
        await self.run(self.store.write_results, list(batch))

    async def add_events(self, events: Iterable[EventRecord]) -> None:
        await self.run(self.store.add_events, list(events))

    async def add_snapshots(self, snapshots: Iterable[PathSnapshot]) -> None:
        await self.run(self.store.add_snapshots, list(snapshots))

    async def set_path_labels(self, routes: Mapping[tuple[str, str], str]) -> None:
        await self.run(self.store.set_path_labels, dict(routes))

    async def housekeeping(self) -> HousekeepingReport:
        return await self.run(self.store.housekeeping)

    async def close(self) -> None:
        await self.run(self.store.close)
        self._executor.shutdown(wait=True)
