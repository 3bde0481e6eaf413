"""Configuration of the local store and the InfluxDB export (``[storage]``)."""

from pathlib import Path

import pydantic

from borderpath.core.model import StrictModel


class StorageConfig(StrictModel):
    """The embedded SQLite store, always on."""

    path: Path | None = pydantic.Field(
        None, description="SQLite database file (default: DATA_DIR/borderpath.db)."
    )
