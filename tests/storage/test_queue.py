"""The durable queue in the store: per consumer, in order, kept until acknowledged,
surviving a reopen, old items expired and counted, one queue apart from another, and
a version 1 file's alert queue and dead letters carried over."""

import contextlib
import sqlite3
from pathlib import Path

from borderpath.storage import DeadLetter, Store


def test_queue_is_per_consumer_in_order_until_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with contextlib.closing(Store.open(path, site="s")) as store:
        queue = store.queue("alerts")
        queue.put([("a", 1, "a1"), ("b", 2, "b1"), ("a", 3, "a2"), ("a", 4, "a3")])
        first = queue.peek("a", 2)
        assert [item.body for item in first] == ["a1", "a2"]
        queue.ack("a", first[-1].id)
        assert queue.waiting() == {"a": 1, "b": 1}
    with contextlib.closing(Store.open(path, site="s")) as store:  # an agent restart
        queue = store.queue("alerts")
        assert [item.body for item in queue.peek("a", 10)] == ["a3"]
        assert [item.body for item in queue.peek("b", 10)] == ["b1"]


def test_expired_items_are_dropped_and_counted(tmp_path: Path) -> None:
    with contextlib.closing(Store.open(tmp_path / "q.db", site="s")) as store:
        queue = store.queue("alerts")
        queue.put([("a", 10, "old"), ("a", 20, "old2"), ("a", 30, "new")])
        assert queue.expire(25) == 2
        assert [item.body for item in queue.peek("a", 10)] == ["new"]
        assert store.counters()["dropped_alerts"] == 2


def test_queues_of_one_store_keep_apart(tmp_path: Path) -> None:
    with contextlib.closing(Store.open(tmp_path / "q.db", site="s")) as store:
        store.queue("alerts").put([("a", 10, "alert")])
        store.queue("other").put([("a", 20, "other")])
        assert store.queue("other").expire(30) == 1
        assert [item.body for item in store.queue("alerts").peek("a")] == ["alert"]
        assert store.queue("other").waiting() == {}


def test_a_version_1_file_keeps_its_queued_alerts_and_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE alert_queue (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " receiver TEXT NOT NULL, time_ns INTEGER NOT NULL, body TEXT NOT NULL);"
            "INSERT INTO alert_queue (receiver, time_ns, body) VALUES ('hook', 5, 'first'),"
            " ('hook', 6, 'second');"
            "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
            " sink TEXT NOT NULL, source TEXT NOT NULL, status INTEGER, message TEXT NOT NULL,"
            " line TEXT NOT NULL);"
            "INSERT INTO dead_letters (time_ns, sink, source, status, message, line)"
            " VALUES (7, 'influxdb', 'results', 400, 'field type conflict', 'ping x=1 7');"
        )
    with contextlib.closing(Store.open(path, site="s")) as store:
        assert [item.body for item in store.queue("alerts").peek("hook")] == ["first", "second"]
        assert store.dead_letters() == [
            DeadLetter(7, "influxdb", "results", 400, "field type conflict", "ping x=1 7")
        ]
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "alert_queue" not in tables and "dead_letters" not in tables
