"""Fixtures of the NOC tests: a real influxd holding what a short lab scenario wrote."""

from collections.abc import Iterator

import pytest

from tests.influxd import InfluxServer, running_influxd
from tests.noc.telemetry import Telemetry, produce

DATABASE = "borderpath"


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One real influxd for the NOC tests; each test writes to a database of its own."""
    with running_influxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture(scope="session")
def telemetry(influxd: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Telemetry:
    """The lab scenario of tests/noc/telemetry.py, exported to the real influxd."""
    influxd.create_database(DATABASE)
    return produce(influxd, DATABASE, tmp_path_factory.mktemp("noc"))
