"""A durable queue: items for named consumers, kept in the store's SQLite file until
the consumer acknowledges them (or they expire), in the order they were put.

It knows nothing of what it carries: the alert dispatcher queues each notification
for each webhook receiver (queue ``alerts``), the exporter keeps the lines a server
refused for good for that sink (queue ``dead_letters``, read by people). One table
holds every queue, so items survive restarts and kill -9 like everything stored.
"""

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from borderpath.storage import db


class QueueItem(NamedTuple):
    """One queued item (``DurableQueue.peek``)."""

    id: int
    """Grows with every item put: ``ack`` takes everything up to one."""
    consumer: str
    time_ns: int
    """When it was queued (Unix time, ns): what ``expire`` looks at."""
    body: str


Transaction = Callable[[], AbstractContextManager[Any]]
"""Opens one transaction (or joins the one already open) on the queue's connection."""


class DurableQueue:
    """The queue ``name`` on one connection; the caller keeps to that connection's thread.
    Give ``transaction`` to map SQLite's errors the way the connection's owner does."""

    def __init__(
        self, connection: sqlite3.Connection, name: str, transaction: Transaction | None = None
    ) -> None:
        self.name = name
        self._db = connection
        self._transaction = transaction or (lambda: db.transaction(connection))

    def put(self, items: Iterable[tuple[str, int, str]]) -> None:
        """Queue ``(consumer, time_ns, body)`` items; they stay until acknowledged."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO queue (name, consumer, time_ns, body) VALUES (?, ?, ?, ?)",
                [(self.name, *item) for item in items],
            )

    def peek(self, consumer: str | None = None, limit: int = -1) -> list[QueueItem]:
        """The oldest ``limit`` items (all: -1) of ``consumer`` (None: of every one)."""
        rows = self._db.execute(
            "SELECT id, consumer, time_ns, body FROM queue WHERE name = ?"
            " AND (? IS NULL OR consumer = ?) ORDER BY id LIMIT ?",
            (self.name, consumer, consumer, limit),
        )
        return [QueueItem(int(i), str(c), int(t), str(body)) for i, c, t, body in rows]

    def ack(self, consumer: str, through_id: int) -> None:
        """The consumer took every item up to ``through_id``: forget them."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM queue WHERE name = ? AND consumer = ? AND id <= ?",
                (self.name, consumer, through_id),
            )

    def expire(self, before_ns: int) -> int:
        """Drop items queued before ``before_ns``, counted as ``dropped_<name>``."""
        with self._transaction():
            dropped = self._db.execute(
                "DELETE FROM queue WHERE name = ? AND time_ns < ?", (self.name, before_ns)
            ).rowcount
            if dropped:
                db.add_counter(self._db, f"dropped_{self.name}", dropped)
        return int(dropped)

    def trim(self, keep: int) -> int:
        """Keep the newest ``keep`` items of each consumer; returns how many older ones
        were dropped (the caller counts them)."""
        with self._transaction():
            dropped = self._db.execute(
                "DELETE FROM queue WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER"
                " (PARTITION BY consumer ORDER BY id DESC) AS newer FROM queue WHERE name = ?)"
                " WHERE newer > ?)",
                (self.name, keep),
            ).rowcount
        return int(dropped)

    def move(self, consumer: str, to: "DurableQueue") -> int:
        """Move every item of ``consumer`` to the end of ``to``, in order (one transaction)."""
        with self._transaction():
            items = self.peek(consumer)
            to.put((item.consumer, item.time_ns, item.body) for item in items)
            if items:
                self.ack(consumer, items[-1].id)
        return len(items)

    def waiting(self) -> dict[str, int]:
        """Items waiting, per consumer."""
        rows = self._db.execute(
            "SELECT consumer, count(*) FROM queue WHERE name = ? GROUP BY consumer", (self.name,)
        )
        return {str(consumer): int(count) for consumer, count in rows}
