"""The alert queue in the store: per receiver, in order, kept until acknowledged,
surviving a reopen, old entries expired and counted."""

import contextlib
from pathlib import Path

from borderpath.storage import Store


def test_queue_is_per_receiver_in_order_until_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with contextlib.closing(Store.open(path, site="s")) as store:
        store.queue_alerts([("a", 1, "a1"), ("b", 2, "b1"), ("a", 3, "a2"), ("a", 4, "a3")])
        first = store.queued_alerts("a", 2)
        assert [body for _, _, body in first] == ["a1", "a2"]
        store.ack_alerts("a", first[-1][0])
        assert store.alert_queue() == {"a": 1, "b": 1}
    with contextlib.closing(Store.open(path, site="s")) as store:  # an agent restart
        assert [body for _, _, body in store.queued_alerts("a", 10)] == ["a3"]
        assert [body for _, _, body in store.queued_alerts("b", 10)] == ["b1"]


def test_expired_entries_are_dropped_and_counted(tmp_path: Path) -> None:
    with contextlib.closing(Store.open(tmp_path / "q.db", site="s")) as store:
        store.queue_alerts([("a", 10, "old"), ("a", 20, "old2"), ("a", 30, "new")])
        assert store.expire_alerts(25) == 2
        assert [body for _, _, body in store.queued_alerts("a", 10)] == ["new"]
        assert store.counters()["dropped_alerts"] == 2
