"""Sinks: one write, 2xx or WriteFailed; secrets from files or the environment."""

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from borderpath.core.errors import StorageError
from borderpath.storage import InfluxConfig
from borderpath.storage.sinks import V1Sink, V2Sink, WriteFailed, read_secret
from tests.influxd import InfluxServer


def test_secret_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("abc\n")
    monkeypatch.setenv("BP_TOKEN", "xyz")
    assert read_secret(tmp_path / "token", "", "token") == "abc"
    assert read_secret(None, "BP_TOKEN", "token") == "xyz"
    with pytest.raises(StorageError, match=r"token_file: cannot read .*missing"):
        read_secret(tmp_path / "missing", "", "token")
    with pytest.raises(StorageError, match="BP_NONE is not set"):
        read_secret(None, "BP_NONE", "token")


@pytest.mark.influx
def test_v1_sink_writes_and_names_what_failed(
    influxd: InfluxServer,
    new_database: Callable[[InfluxServer], str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = new_database(influxd)
    (tmp_path / "pw").write_text("hunter2")
    caplog.set_level(logging.DEBUG)
    config = InfluxConfig(
        url=influxd.url, api="v1", database=database, username="noc", password_file=tmp_path / "pw"
    )
    sink = V1Sink(config)
    sink.write(b"cpu value=1.5 1000")
    assert influxd.rows("SELECT * FROM cpu", database) == [{"time": 1000, "value": 1.5}]
    with pytest.raises(WriteFailed) as refused:
        V1Sink(config.model_copy(update={"database": "nonexistent"})).write(b"cpu value=1 1")
    assert refused.value.status == 404 and not refused.value.retryable
    assert "database not found" in refused.value.message
    with pytest.raises(WriteFailed) as down:
        V1Sink(config.model_copy(update={"url": "http://127.0.0.1:9"})).write(b"cpu v=1 1")
    assert down.value.status is None and down.value.retryable
    assert "hunter2" not in caplog.text + str(refused.value) + str(down.value)


def test_v2_sink_with_no_server_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_TOKEN", "secret-token")
    sink = V2Sink(InfluxConfig(url="http://127.0.0.1:9", token_env="BP_TOKEN", timeout=2))
    with pytest.raises(WriteFailed) as down:
        sink.write(b"cpu v=1 1")
    assert down.value.retryable and "secret-token" not in str(down.value)
