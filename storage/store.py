"""The embedded store: one SQLite file of one site, written by one thread at a time.

``Store`` writes (probe results, snapshots, events, route labels) and gives each
series its id; it is also the store's reader (``Queries``) and owns its housekeeping
(``Housekeeper``) and its durable queues (``DurableQueue``). The agent drives it through
``AsyncStore`` (storage/async_store.py), so the event loop never waits for SQLite.
"""

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Self

from borderpath.core.errors import StorageError
from borderpath.core.events import EventRecord
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ProbeResult
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.storage import db
from borderpath.storage.config import StorageConfig
from borderpath.storage.export import DEAD_LETTERS, REPLAY
from borderpath.storage.housekeeping import Housekeeper, HousekeepingReport
from borderpath.storage.line_protocol import SeriesInfo
from borderpath.storage.queries import Queries
from borderpath.storage.queue import DurableQueue


class DiskFull(StorageError):
    """The disk (or the file system's quota) is full: nothing of the batch was written."""


class Store(Queries):
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
        sinks = (db.INFLUX_SINK,) if config.influxdb is not None else ()
        self._housekeeper = Housekeeper(connection, config, sinks, clock, self._transaction)

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
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            error = DiskFull if full else StorageError
            raise error(f"{self.path}: cannot write to the database ({exc})") from exc

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
                    db.encode_extras(result.extras) if result.extras else None,
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

    # -- housekeeping and queues -----------------------------------------------------

    def housekeeping(self, now_ns: int | None = None) -> HousekeepingReport:
        """Rollups, spool cap, retention and size cap: call every minute or so."""
        return self._housekeeper.run(self._clock() if now_ns is None else now_ns)

    def rollup(self, now_ns: int | None = None) -> int:
        """Only the rollups of ``housekeeping``; returns rows written."""
        return self._housekeeper.rollup(self._clock() if now_ns is None else now_ns)

    def replay_dead_letters(self, sink: str = db.INFLUX_SINK) -> int:
        """Send the dead letters of ``sink`` back to it (its exporter sends them first);
        returns how many. Those refused again come back as dead letters."""
        return self.queue(DEAD_LETTERS).move(sink, self.queue(REPLAY))

    def drop_dead_letters(self, sink: str = db.INFLUX_SINK) -> int:
        """Forget the dead letters of ``sink``; returns how many, counted as
        ``dropped_dead_letters``."""
        with self._transaction():
            queue = self.queue(DEAD_LETTERS)
            items = queue.peek(sink)
            if items:
                queue.ack(sink, items[-1].id)
                db.add_counter(self._db, "dropped_dead_letters", len(items))
        return len(items)

    def queue(self, name: str) -> DurableQueue:
        """The durable queue ``name`` in this store (e.g. ``alerts``)."""
        return DurableQueue(self._db, name, self._transaction)
