"""Housekeeping of the store, every minute or so: rollups of finished steps, the spool
cap, retention and the size cap (docs/storage.md, "Retention and caps").

Rows not yet shipped to every sink are kept past their retention, up to the spool
cap; every row dropped is counted, logged, and reported by a ``storage.dropped`` event.
"""

import dataclasses
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence

from borderpath.core.events import EventKind, EventRecord
from borderpath.core.figures import Sample, summarize
from borderpath.storage import db
from borderpath.storage.config import StorageConfig
from borderpath.storage.db import PATH_PROTOCOL
from borderpath.storage.export import DEAD_LETTERS
from borderpath.storage.queue import DurableQueue, Transaction
from borderpath.storage.rollups import STEPS_S

log = logging.getLogger("borderpath.storage")

_NS = 1_000_000_000
_HOUR_NS = 3600 * _NS
_DELETE_CHUNK = 50_000

_OLDEST_FIRST = {
    "dead_letters": (
        "SELECT count(*) FROM queue WHERE name = 'dead_letters'",
        "DELETE FROM queue WHERE id IN (SELECT id FROM queue WHERE name = 'dead_letters'"
        " ORDER BY id LIMIT ?)",
    ),
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
"""What the size cap drops, in order: (estimated rows, delete the oldest N) per table.
Dead letters go first: the server refused them for good, the results it can still take."""


@dataclasses.dataclass(slots=True)
class HousekeepingReport:
    """What one ``housekeeping()`` did."""

    rolled_up: int = 0
    """Rollup rows written."""
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    """Rows dropped, by reason and table (retention_results, spool_events, size_results...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Housekeeper:
    """Housekeeping of one store's connection, in the store's transactions."""

    _db: sqlite3.Connection
    config: StorageConfig
    sinks: Sequence[str]
    """The sinks whose cursors keep unshipped rows past their retention."""
    _clock: Callable[[], int]
    """Time of the ``storage.dropped`` events (Unix time, ns)."""
    _transaction: Transaction

    def run(self, now_ns: int) -> HousekeepingReport:
        """Rollups, spool cap, retention, dead-letter limit and size cap, in this order."""
        report = HousekeepingReport()
        report.rolled_up = self.rollup(now_ns)
        self._enforce_spool(now_ns, report)
        self._apply_retention(now_ns, report)
        self._enforce_dead_letter_limit(report)
        self._enforce_size_cap(now_ns, report)
        dropped = {name: count for name, count in report.dropped.items() if count}
        report.dropped = dropped
        if dropped:
            log.info("storage.housekeeping dropped %s", dropped)
            with self._transaction():
                for name, count in dropped.items():
                    db.add_counter(self._db, f"dropped_{name}", count)
        return report

    def rollup(self, now_ns: int) -> int:
        """Roll up every step that ended ``rollup_delay`` ago; returns rows written."""
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
                [(step_s, *dataclasses.astuple(summary)) for summary in summaries],
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
                EventKind.STORAGE_DROPPED,
                text,
                labels={"sink": sink, "table": table},
                values={"rows": count},
            )
            db.insert_events(self._db, [event])
        name = f"spool_{table}"
        report.dropped[name] = report.dropped.get(name, 0) + count

    def _enforce_dead_letter_limit(self, report: HousekeepingReport) -> None:
        """Keep the newest ``dead_letters_max`` dead letters of each sink (with no sink
        configured any more, those left are kept for people, within the size cap)."""
        if self.config.influxdb is None:
            return
        keep = self.config.influxdb.dead_letters_max
        dropped = DurableQueue(self._db, DEAD_LETTERS, self._transaction).trim(keep)
        if dropped:
            log.warning("storage.dead_letters %d oldest dropped (limit %d)", dropped, keep)
            report.dropped["dead_letters"] = dropped

    def _enforce_size_cap(self, now_ns: int, report: HousekeepingReport) -> None:
        """Past ``max_size``, drop the oldest dead letters, raw results, snapshots, then 10 s
        rollups."""
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
            event = EventRecord(
                now_ns, EventKind.STORAGE_DROPPED, text, values={"rows": size_drops}
            )
            with self._transaction():
                db.insert_events(self._db, [event])
