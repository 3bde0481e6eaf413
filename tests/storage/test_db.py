"""The SQLite file: WAL, all-or-nothing transactions, ids that never go back."""

import sqlite3
from pathlib import Path

import pytest

from borderpath.core.errors import StorageError
from borderpath.storage import db


def test_a_new_file_is_in_wal_mode_with_every_table(tmp_path: Path) -> None:
    connection = db.connect(tmp_path / "new" / "s.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"results", "snapshots", "events", "rollups", "cursors", "queue"} <= tables


def test_a_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    connection = db.connect(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError), db.transaction(connection):
        db.add_counter(connection, "kept", 1)
        connection.execute("INSERT INTO meta VALUES ('x', NULL)")
    assert db.read_counters(connection) == {}


def test_ids_never_go_back_after_everything_is_deleted(tmp_path: Path) -> None:
    connection = db.connect(tmp_path / "s.db")
    insert = "INSERT INTO events (time_ns, kind, text) VALUES (1, 'k', 't')"
    connection.execute(insert)
    connection.execute("DELETE FROM events")
    connection.execute(insert)
    assert connection.execute("SELECT id FROM events").fetchone()[0] == 2


def test_an_unreadable_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "not.db").write_text("this is not a database, it is text " * 100)
    with pytest.raises(StorageError, match=r"not\.db: cannot open the database"):
        db.connect(tmp_path / "not.db")
