"""The embedded store (SQLite: raw results, rollups, snapshots, events), its retention,
and the export of what it keeps to InfluxDB. See docs/storage.md and docs/schema.md."""

from borderpath.core.figures import Summary
from borderpath.storage.config import InfluxConfig, StorageConfig
from borderpath.storage.export import DrainReport, Exporter
from borderpath.storage.sinks import Sink, WriteFailed
from borderpath.storage.store import (
    AsyncStore,
    Baseline,
    DeadLetter,
    HourCount,
    HousekeepingReport,
    Store,
)

__all__ = [
    "AsyncStore",
    "Baseline",
    "DeadLetter",
    "DrainReport",
    "Exporter",
    "HourCount",
    "HousekeepingReport",
    "InfluxConfig",
    "Sink",
    "StorageConfig",
    "Store",
    "Summary",
    "WriteFailed",
]
