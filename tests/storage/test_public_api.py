"""The names the rest of borderpath may import from borderpath.storage."""

import borderpath.storage


def test_public_names_are_pinned() -> None:
    assert sorted(borderpath.storage.__all__) == [
        "AsyncStore",
        "DeadLetter",
        "DrainReport",
        "Exporter",
        "HourCount",
        "HousekeepingReport",
        "InfluxConfig",
        "QueueItem",
        "Sink",
        "StorageConfig",
        "Store",
        "Summary",
        "WriteFailed",
    ]
    for name in borderpath.storage.__all__:
        doc = getattr(borderpath.storage, name).__doc__ or ""
        assert doc and not doc.startswith(f"{name}("), f"{name} has no docstring"
