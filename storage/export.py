"""The outbox: ship stored rows to InfluxDB from durable cursors, at least once.

Each exported table (results, snapshots, events) has a cursor per sink: the last id
the server acknowledged with a 2xx. A batch is read after the cursor, rendered as
line protocol (storage/line_protocol.py), sent, and only then the cursor moves, in the
same transaction as any dead letters (the durable queue ``dead_letters``). Points are
keyed by series and timestamp, so a batch sent twice after a crash is written once.

Failures: no answer, 5xx, 408 and 429 are retried with exponential backoff, jitter and
the server's Retry-After. A refusal of the request itself (401, 403, 404, 413: a bad
token, no such bucket, a body too large for the server) pauses the sink with the same
backoff and raises one ``export.refused`` event per pause: nothing is dead-lettered,
the backlog waits for the operator. Only lines the server refuses as malformed (400 or
422: a parse error, a field type conflict) are dead-lettered: the batch is bisected
until the refused lines are found one by one. Each dead-lettered batch of results or
snapshots raises an ``export.dead_letter`` event (refused events are only logged and
counted: an event about them would be refused in turn). An SQLite error (a lock held
by another process, a full disk) pauses export with the same backoff, never ends it.

Dead letters replayed by the operator (``borderpath export dead-letters replay``) wait
in the queue ``export_replay`` and are sent before the tables.

An Exporter owns its own SQLite connection and runs on its own thread, so a slow
server never delays ingest.
"""

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from borderpath.core.backoff import backoff
from borderpath.core.events import EventKind, EventRecord
from borderpath.storage import db
from borderpath.storage.config import InfluxConfig
from borderpath.storage.line_protocol import (
    SeriesInfo,
    StoredResult,
    event_line,
    result_line,
    snapshot_line,
)
from borderpath.storage.queue import DurableQueue, QueueItem
from borderpath.storage.sinks import Sink, WriteFailed, open_sink

log = logging.getLogger("borderpath.storage.export")

_SELECTS = {
    "results": "SELECT id, time_ns, series_id, ok, rtt_ms, error, forged, ttl, extras"
    " FROM results WHERE id > ? ORDER BY id LIMIT ?",
    "snapshots": f"SELECT id, series_id, {db.SNAPSHOT_VALUES} FROM snapshots"
    " WHERE id > ? ORDER BY id LIMIT ?",
    "events": 'SELECT id, time_ns, kind, text, labels, "values" FROM events'
    " WHERE id > ? ORDER BY id LIMIT ?",
}


DEAD_LETTERS = "dead_letters"
"""The durable queue of lines refused for good, one consumer per sink (kept for people)."""

REPLAY = "export_replay"
"""The durable queue of dead letters an operator sent back to their sink."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Rejected:
    status: int | None
    message: str
    line: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    """A line a server refused for good, with its answer (``Store.dead_letters``)."""

    time_ns: int
    sink: str
    source: str
    status: int | None
    message: str
    line: str

    @classmethod
    def from_item(cls, item: QueueItem) -> "DeadLetter":
        fields = json.loads(item.body)
        return cls(item.time_ns, item.consumer, **fields)


def _dead_letter_body(source: str, rejected: _Rejected) -> str:
    return json.dumps({"source": source, **dataclasses.asdict(rejected)})


@dataclasses.dataclass(frozen=True, slots=True)
class _Batch:
    table: str
    last_id: int
    """Id of the batch's last row: the cursor once the server has answered."""
    lines: list[str]


@dataclasses.dataclass(slots=True)
class DrainReport:
    """What one ``drain()`` did (``Exporter.report``: totals since the exporter was made)."""

    points: int = 0
    """Points acknowledged by the server."""
    requests: int = 0
    failures: int = 0
    """Write requests that failed and were retried."""
    dead_letters: int = 0
    seconds: float = 0.0
    caught_up: bool = False
    """Nothing was left to ship when it returned."""


class Exporter:
    """Ships one store to one InfluxDB server. ``drain()`` blocks; ``run()`` is the
    agent's task. Give ``sink`` to use another one (tests, benchmarks)."""

    def __init__(
        self,
        path: Path,
        config: InfluxConfig,
        *,
        sink: Sink | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.name = db.INFLUX_SINK
        self._sink = sink if sink is not None else open_sink(config)
        self._db = db.connect(path)
        self._dead_letters = DurableQueue(self._db, DEAD_LETTERS)
        self._clock = clock
        self._site = db.get_meta(self._db, "site") or ""
        self._series: dict[int, SeriesInfo] = {}
        self._failures = 0
        self.paused: WriteFailed | None = None
        """The refusal export is paused on (None: not paused)."""
        self._replays = DurableQueue(self._db, REPLAY)
        self._stopping = threading.Event()
        self._sender = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="borderpath-export-send"
        )
        self.report = DrainReport()
        """Totals since this exporter was made."""

    def close(self) -> None:
        self._stopping.set()
        self._sender.shutdown(wait=True)
        self._sink.close()
        self._db.close()

    def backlog(self) -> dict[str, int]:
        """Rows not yet shipped, per table (on this exporter's thread; from another
        thread, ask the store: ``Store.backlog()``)."""
        return db.backlog(self._db, self.name)

    def run_once(self) -> int:
        """Ship at most one batch per table; returns the rows taken off the queue
        (shipped or dead-lettered). A retryable failure raises WriteFailed."""
        taken = self._replay_once()
        for table in db.EXPORTED_TABLES:
            batch = self._read(table, db.get_cursor(self._db, self.name, table))
            if batch is not None:
                self._commit(batch, self._send(batch.lines))
                taken += len(batch.lines)
        return taken

    def drain(self, max_seconds: float | None = None) -> DrainReport:
        """Ship until nothing is left, retrying with backoff; stop after ``max_seconds``
        (or when closed). Returns what this call did."""
        start = time.monotonic()
        before = dataclasses.replace(self.report)
        deadline = None if max_seconds is None else start + max_seconds
        caught_up = False
        while not self._stopping.is_set():
            try:
                caught_up = self._ship_all(deadline)
                self._resume()
            except WriteFailed as failure:
                if not failure.retryable:
                    self._refused(failure)
                self._wait(f"after {failure}", failure.retry_after, deadline)
            except sqlite3.Error as exc:
                self._wait(f"after a database error ({exc})", None, deadline)
            if caught_up or (deadline is not None and time.monotonic() >= deadline):
                break
        return DrainReport(
            points=self.report.points - before.points,
            requests=self.report.requests - before.requests,
            failures=self.report.failures - before.failures,
            dead_letters=self.report.dead_letters - before.dead_letters,
            seconds=time.monotonic() - start,
            caught_up=caught_up,
        )

    async def run(self) -> None:
        """Ship what is stored every ``flush_interval`` (a backlog without pause), on a
        thread of its own, until cancelled."""
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="borderpath-export")
        loop = asyncio.get_running_loop()
        try:
            while True:
                report = await loop.run_in_executor(
                    executor, self.drain, self.config.flush_interval
                )
                if report.caught_up:  # a backlog drains without pauses
                    await asyncio.sleep(self.config.flush_interval)
        finally:
            # the batch in flight ends first (at most ``timeout``), without blocking the loop
            self._stopping.set()
            await loop.run_in_executor(None, executor.shutdown)

    def _wait(self, why: str, retry_after: float | None, deadline: float | None) -> None:
        """Count a failure and back off (never past ``deadline``, nor once closed)."""
        self.report.failures += 1
        self._failures += 1
        delay = self._backoff(retry_after)
        log.warning("export.retry in %.1fs %s", delay, why)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        self._stopping.wait(delay)

    def _refused(self, failure: WriteFailed) -> None:
        """The server refuses the requests themselves: pause, and say so once per pause
        (an event, counted as ``refused_<sink>``) until a write succeeds again."""
        if self.paused is not None and self.paused.status == failure.status:
            return
        self.paused = failure
        text = (
            f"{self.name} refuses every write ({failure.status}: {failure.message}); export is"
            " paused and the store keeps the backlog: check the token, org, bucket or database"
            + (", and lower batch_size" if failure.status == 413 else "")
        )
        log.error("export.refused %s", text)
        event = EventRecord(
            self._clock(),
            EventKind.EXPORT_REFUSED,
            text,
            labels={"sink": self.name},
            values={"status": failure.status or 0},
        )
        try:
            with db.transaction(self._db):
                db.insert_events(self._db, [event])
                db.add_counter(self._db, f"refused_{self.name}", 1)
        except sqlite3.Error as exc:  # the pause goes on all the same; the log line says it
            log.error("export.refused not stored (%s)", exc)

    def _resume(self) -> None:
        self._failures = 0
        if self.paused is not None:
            log.warning("export.resumed %s takes writes again", self.name)
            self.paused = None

    def _backoff(self, retry_after: float | None) -> float:
        """Exponential (retry_min doubling up to retry_max) with equal jitter; the
        server's Retry-After when it gave one."""
        if retry_after is not None:
            return float(min(retry_after, self.config.retry_max))
        return backoff(self._failures, self.config.retry_min, self.config.retry_max)

    def _ship_all(self, deadline: float | None) -> bool:
        """Ship every table to its end (True) or until the deadline (False). The next
        batch is read and rendered while the server takes the current one."""
        while self._replay_once():
            pass
        for table in db.EXPORTED_TABLES:
            batch = self._read(table, db.get_cursor(self._db, self.name, table))
            while batch is not None:
                sending = self._sender.submit(self._send, batch.lines)
                following = self._read(table, batch.last_id)
                self._commit(batch, sending.result())
                batch = following
                over = deadline is not None and time.monotonic() >= deadline
                if batch is not None and (over or self._stopping.is_set()):
                    return False
        return True

    def _read(self, table: str, after_id: int) -> _Batch | None:
        """The next batch of ``table`` after ``after_id``, rendered; None at the end."""
        rows = self._db.execute(_SELECTS[table], (after_id, self.config.batch_size)).fetchall()
        if not rows:
            return None
        render = {"results": self._result, "snapshots": self._snapshot, "events": self._event}
        return _Batch(table, rows[-1][0], [render[table](row) for row in rows])

    def _commit(self, batch: _Batch, rejected: list[_Rejected]) -> None:
        """Move the cursor past a batch the server answered, with its dead letters."""
        with db.transaction(self._db):
            db.set_cursor(self._db, self.name, batch.table, batch.last_id)
            db.add_counter(self._db, f"shipped_{self.name}", len(batch.lines) - len(rejected))
            if rejected:
                self._dead_letter(batch.table, rejected)
        self.report.points += len(batch.lines) - len(rejected)
        self.report.dead_letters += len(rejected)

    def _send(self, lines: list[str]) -> list[_Rejected]:
        """Send lines; returns those refused for good. Retryable failures propagate."""
        try:
            self.report.requests += 1
            self._sink.write("\n".join(lines).encode())
        except WriteFailed as failure:
            if not failure.malformed:
                raise
            if len(lines) == 1:
                return [_Rejected(failure.status, failure.message, lines[0])]
            middle = len(lines) // 2
            return self._send(lines[:middle]) + self._send(lines[middle:])
        return []

    def _replay_once(self) -> int:
        """Send one batch of replayed dead letters; those refused again go back to the
        dead letters. Returns the lines taken off the replay queue."""
        items = self._replays.peek(self.name, self.config.batch_size)
        if not items:
            return 0
        letters = [DeadLetter.from_item(item) for item in items]
        refused = {r.line: r for r in self._send([letter.line for letter in letters])}
        with db.transaction(self._db):
            self._replays.ack(self.name, items[-1].id)
            for source in dict.fromkeys(letter.source for letter in letters):
                again = [
                    refused[letter.line]
                    for letter in letters
                    if letter.source == source and letter.line in refused
                ]
                if again:
                    self._dead_letter(source, again)
        self.report.points += len(items) - len(refused)
        return len(items)

    def _dead_letter(self, table: str, rejected: list[_Rejected]) -> None:
        now = self._clock()
        self._dead_letters.put((self.name, now, _dead_letter_body(table, r)) for r in rejected)
        db.add_counter(self._db, f"dead_{self.name}", len(rejected))
        first = rejected[0]
        text = (
            f"{len(rejected)} {table} points refused by {self.name}"
            f" ({first.status}): {first.message}"
        )
        log.error("export.dead_letter %s", text)
        if table == "events":
            return  # an event about refused events would be refused in turn, forever
        event = EventRecord(
            now,
            EventKind.EXPORT_DEAD_LETTER,
            text,
            labels={"sink": self.name, "table": table},
            values={"points": len(rejected), "status": first.status or 0},
        )
        db.insert_events(self._db, [event])

    def _info(self, series_id: int) -> SeriesInfo:
        info = self._series.get(series_id)
        if info is None:
            self._series = {
                row[0]: SeriesInfo(*row[1:])
                for row in self._db.execute(
                    "SELECT id, uplink, pop, protocol, carrier, region, address, route FROM series"
                )
            }
            info = self._series[series_id]
        return info

    def _result(self, row: tuple[Any, ...]) -> str:
        _, time_ns, series_id, ok, rtt, error, forged, ttl, extras = row
        stored = StoredResult(time_ns, bool(ok), rtt, error, forged, ttl, _json(extras))
        return result_line(self._site, self._info(series_id), stored)

    def _snapshot(self, row: tuple[Any, ...]) -> str:
        info = self._info(row[1])
        return snapshot_line(self._site, info, db.snapshot_from_row(info.uplink, info.pop, row[2:]))

    def _event(self, row: tuple[Any, ...]) -> str:
        _, time_ns, kind, text, labels, values = row
        return event_line(
            self._site, EventRecord(time_ns, EventKind(kind), text, _json(labels), _json(values))
        )


def _json(text: str | None) -> Any:
    return json.loads(text) if text else {}
