"""The store driven from the event loop: every call runs on one worker thread, in
order, so SQLite never blocks the loop and the connection has one user.

``AsyncStore`` offers what the agent and the alert dispatcher need (writes,
housekeeping, the queries of the agent's start and of its alerts, and the durable
queues through ``AsyncQueue``); nothing else reaches the ``Store`` inside.

On a full disk the writes (results, snapshots, events) wait in a memory spool of at
most ``SPOOL_MAX_ROWS`` rows, in order, and are written when space returns; past the
cap the oldest batches are dropped and counted. ``storage.full`` is logged once when
the disk fills, and written as an event once space returns; ``full`` tells /status.
"""

import asyncio
import concurrent.futures
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from borderpath.core.events import EventKind, EventRecord
from borderpath.core.records import PathSnapshot
from borderpath.core.results import ProbeResult
from borderpath.storage.housekeeping import HousekeepingReport
from borderpath.storage.queries import HourCount
from borderpath.storage.queue import DurableQueue, QueueItem
from borderpath.storage.store import DiskFull, Store

T = TypeVar("T")

log = logging.getLogger("borderpath.storage")

SPOOL_MAX_ROWS = 200_000
"""Rows held in memory while the disk is full: about 40 MB, some minutes of probing
at the largest rates (docs/storage.md, "A full disk")."""

_Write = tuple[Callable[[list[Any]], None], list[Any]]


async def _on(executor: concurrent.futures.Executor, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on the store's worker thread."""
    return await asyncio.get_running_loop().run_in_executor(executor, func, *args)


class AsyncStore:
    """A ``Store`` on its own worker thread. Open with ``AsyncStore.open``."""

    def __init__(self, store: Store, executor: concurrent.futures.ThreadPoolExecutor) -> None:
        self._store = store
        self._executor = executor
        self._spool: deque[_Write] = deque()
        self._spooled_rows = 0
        self._full_since_ns: int | None = None
        self.dropped_rows = 0
        """Rows dropped from the spool past its cap, since the store was opened."""

    @property
    def full(self) -> bool:
        """The disk is full: writes wait in the memory spool."""
        return self._full_since_ns is not None

    @classmethod
    async def open(cls, path: Path, **options: Any) -> Self:
        """``Store.open(path, **options)`` on the worker thread."""
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="borderpath-store")
        opening = functools.partial(Store.open, path, **options)
        try:
            store = await _on(executor, opening)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(store, executor)

    @property
    def path(self) -> Path:
        """The store's file (an ``Exporter`` opens its own connection to it)."""
        return self._store.path

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await _on(self._executor, func, *args)

    async def ingest(self, batch: Sequence[ProbeResult]) -> None:
        """Store one batch (copied: the caller may reuse its list)."""
        await self._run(self._write, self._store.write_results, list(batch))

    async def add_events(self, events: Iterable[EventRecord]) -> None:
        await self._run(self._write, self._store.add_events, list(events))

    async def add_snapshots(self, snapshots: Iterable[PathSnapshot]) -> None:
        await self._run(self._write, self._store.add_snapshots, list(snapshots))

    def _write(self, func: Callable[[list[Any]], None], rows: list[Any]) -> None:
        """Spool the write, then write the spool in order (on the worker thread). Only a
        full disk keeps a write spooled; any other error drops it and is raised."""
        self._spool.append((func, rows))
        self._spooled_rows += len(rows)
        while self._spooled_rows > SPOOL_MAX_ROWS and len(self._spool) > 1:
            dropped = len(self._spool.popleft()[1])
            self._spooled_rows -= dropped
            self.dropped_rows += dropped
        while self._spool:
            func, rows = self._spool[0]
            try:
                func(rows)
            except DiskFull as exc:
                if self._full_since_ns is None:
                    self._full_since_ns = time.time_ns()
                    log.error(
                        "storage.full %s: writes wait in memory (at most %d rows)",
                        exc,
                        SPOOL_MAX_ROWS,
                    )
                return
            except BaseException:
                self._spool.popleft()
                self._spooled_rows -= len(rows)
                raise
            self._spool.popleft()
            self._spooled_rows -= len(rows)
        if self._full_since_ns is not None:
            self._resumed()

    def _resumed(self) -> None:
        assert self._full_since_ns is not None
        seconds = (time.time_ns() - self._full_since_ns) / 1e9
        text = (
            f"the disk was full for {seconds:.0f} s; the writes held in memory are stored"
            f" ({self.dropped_rows} rows dropped past the spool cap)"
        )
        log.warning("storage.full %s", text)
        event = EventRecord(
            self._full_since_ns, EventKind.STORAGE_FULL, text, values={"dropped": self.dropped_rows}
        )
        self._full_since_ns = None
        self._write(self._store.add_events, [event])

    async def set_path_labels(self, routes: Mapping[tuple[str, str], str]) -> None:
        await self._run(self._store.set_path_labels, dict(routes))

    async def housekeeping(self) -> HousekeepingReport:
        return await self._run(self._store.housekeeping)

    async def query_results(self, since_ns: int) -> list[ProbeResult]:
        """Every stored result since ``since_ns``, in time order (``Store.query_results``)."""
        return await self._run(self._store.query_results, since_ns)

    async def query_events(self, since_ns: int, kind: str | None = None) -> list[EventRecord]:
        """Events since ``since_ns`` of ``kind`` (exactly or as a prefix), in time order."""
        return await self._run(functools.partial(self._store.query_events, since_ns, kind=kind))

    async def hourly_counts(self, since_ns: int, until_ns: int) -> list[HourCount]:
        return await self._run(self._store.hourly_counts, since_ns, until_ns)

    async def backlog(self) -> dict[str, int]:
        """Rows not yet shipped to InfluxDB, per table."""
        return await self._run(self._store.backlog)

    async def counters(self) -> dict[str, int]:
        return await self._run(self._store.counters)

    def queue(self, name: str) -> "AsyncQueue":
        """The store's durable queue ``name``, on the worker thread."""
        return AsyncQueue(self._store.queue(name), self._executor)

    async def close(self) -> None:
        await self._run(self._store.close)
        self._executor.shutdown(wait=True)


class AsyncQueue:
    """A ``DurableQueue`` whose calls run on the store's worker thread."""

    def __init__(self, queue: DurableQueue, executor: concurrent.futures.Executor) -> None:
        self._queue = queue
        self._executor = executor

    async def put(self, items: Iterable[tuple[str, int, str]]) -> None:
        """Queue ``(consumer, time_ns, body)`` items."""
        await _on(self._executor, self._queue.put, list(items))

    async def peek(self, consumer: str, limit: int) -> list[QueueItem]:
        """The oldest ``limit`` items of ``consumer``."""
        return await _on(self._executor, self._queue.peek, consumer, limit)

    async def ack(self, consumer: str, through_id: int) -> None:
        await _on(self._executor, self._queue.ack, consumer, through_id)

    async def expire(self, before_ns: int) -> int:
        return await _on(self._executor, self._queue.expire, before_ns)

    async def waiting(self) -> dict[str, int]:
        """Items waiting, per consumer."""
        return await _on(self._executor, self._queue.waiting)
