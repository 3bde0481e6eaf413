"""The embedded store (SQLite: raw results, rollups, snapshots, events), its retention,
its durable queues, and the export of what it keeps to InfluxDB. See docs/storage.md
and docs/schema.md."""

from borderpath.core.figures import Summary
from borderpath.storage.async_store import AsyncStore
from borderpath.storage.config import InfluxConfig, StorageConfig
from borderpath.storage.export import DeadLetter, DrainReport, Exporter
from borderpath.storage.housekeeping import HousekeepingReport
from borderpath.storage.queries import HourCount
from borderpath.storage.queue import QueueItem
from borderpath.storage.sinks import Sink, WriteFailed
from borderpath.storage.store import Store

__all__ = [
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
