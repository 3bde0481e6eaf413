"""Fixtures of the NOC tests: a real influxd holding what a short lab scenario wrote."""

from collections.abc import Iterator

import pytest

from tests.influxd import running_influxd
from tests.noc.telemetry import Telemetry, produce

DATABASE = "borderpath"


@pytest.fixture(scope="session")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Telemetry]:
    """The lab scenario of tests/noc/telemetry.py, exported to a real influxd."""
    root = tmp_path_factory.mktemp("noc")
    with running_influxd(root / "influxd") as server:
        server.create_database(DATABASE)
        yield produce(server, DATABASE, root)
