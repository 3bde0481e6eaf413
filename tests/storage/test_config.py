"""The [storage] section: sizes, durations, credentials given once, the default path."""

from pathlib import Path

import pydantic
import pytest

from borderpath.storage.config import InfluxConfig, StorageConfig, parse_size


def test_sizes_and_durations_as_operators_write_them() -> None:
    config = StorageConfig.model_validate(
        {"max_size": "2GiB", "retention_raw": "2d", "influxdb": {"api": "v1"}}
    )
    assert config.max_size == 2 * 2**30 and config.retention_raw == 2 * 86400
    assert parse_size("500MB") == 500_000_000 and parse_size(4096) == 4096


def test_influx_defaults_match_the_issue() -> None:
    influx = InfluxConfig(api="v1")
    assert influx.spool_max_age == 7 * 86400 and influx.spool_max_size == 2**30


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api": "v2"}, "needs token_file or token_env"),
        ({"api": "v1", "username": "noc"}, "username needs password_file"),
        ({"token_file": "/t", "token_env": "T"}, "not both"),
        ({"api": "v1", "spool_max_size": "1 parsec"}, "is not a size"),
    ],
)
def test_mistakes_are_named(options: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        InfluxConfig.model_validate(options)


def test_database_defaults_to_the_data_dir() -> None:
    assert StorageConfig().database_path(Path("/d")) == Path("/d/borderpath.db")
    assert StorageConfig(path=Path("/x.db")).database_path(Path("/d")) == Path("/x.db")
