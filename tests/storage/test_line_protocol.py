"""The series schema: line protocol, docs/schema.md, and what a real server stored."""

import dataclasses
import re
from pathlib import Path

import pytest

from borderpath.core.events import EventKind, EventRecord
from borderpath.storage import Exporter, InfluxConfig, StorageConfig, Store
from borderpath.storage.line_protocol import (
    MEASUREMENTS,
    SeriesInfo,
    StoredResult,
    event_line,
    result_line,
)
from tests.influxd import InfluxServer
from tests.storage.conftest import sample_event, sample_results, sample_snapshot
from tests.storage.test_export import MakeDatabase

DOC = Path(__file__).parents[2] / "docs" / "schema.md"
_SECTION = re.compile(r"^## `(\w+)`", re.MULTILINE)
_ROW = re.compile(r"^\| `([^`]+)` \| (tag|field) \| (\w+) \|", re.MULTILINE)


def documented() -> dict[str, tuple[set[str], dict[str, str]]]:
    """measurement -> (tags, {field: type}) as docs/schema.md states them."""
    text = DOC.read_text(encoding="utf-8")
    sections = _SECTION.split(text)[1:]
    schema = {}
    for name, body in zip(sections[::2], sections[1::2], strict=True):
        rows = _ROW.findall(body)
        tags = {row[0] for row in rows if row[1] == "tag"}
        fields = {row[0]: row[2] for row in rows if row[1] == "field"}
        schema[name] = (tags, fields)
    return schema


def field_types(measurement: str, field: str) -> set[str]:
    """The documented types ``field`` may have: its own row, else the placeholder rows
    it matches (``sla_<class>``; events: ``<label>``, ``<number>``...)."""
    _, fields = documented()[measurement]
    if field in fields:
        return {fields[field]}
    return {
        kind
        for name, kind in fields.items()
        if "<" in name and re.fullmatch(re.sub(r"<[^>]+>", ".+", name), field)
    }


def test_docs_and_code_state_the_same_schema() -> None:
    doc = documented()
    assert set(doc) == set(MEASUREMENTS)
    for name, measurement in MEASUREMENTS.items():
        assert doc[name] == (set(measurement.tags), dict(measurement.fields)), name


def test_no_name_is_both_tag_and_field() -> None:
    for measurement in MEASUREMENTS.values():
        assert not set(measurement.tags) & set(measurement.fields), measurement.name


INFO = SeriesInfo("ct", "hkg", "icmp", "china-telecom", "HK", "203.0.113.10", "ct-cn2")


def test_ping_point_is_telegraf_shaped_with_our_tags() -> None:
    result = StoredResult(1_000, True, 41.5, None, 0, 63, {})
    assert result_line("shanghai", INFO, result) == (
        "ping,carrier=china-telecom,pop=hkg,region=HK,route=ct-cn2,site=shanghai,uplink=ct,"
        "url=203.0.113.10 packets_transmitted=1i,packets_received=1i,percent_packet_loss=0.0,"
        "minimum_response_ms=41.5,average_response_ms=41.5,maximum_response_ms=41.5,"
        "result_code=0i,forged=0i,ttl=63i 1000"
    )


def test_lost_probe_keeps_its_point_with_full_loss_and_no_rtt() -> None:
    result = StoredResult(1_000, False, None, "forged", 3, None, {})
    line = result_line("shanghai", INFO, result)
    assert ",error=forged" in line and "percent_packet_loss=100.0" in line
    assert "response_ms" not in line and "forged=3i" in line


def test_an_https_answer_without_an_rtt_still_counts_as_answered() -> None:
    """A handshake that needed a retransmission has no RTT; dashboards count answers by
    response_time, so it carries the whole request's time."""
    info = dataclasses.replace(INFO, protocol="http")
    extras = {"total_ms": 1626.0, "retransmits": 1, "status": 200}
    line = result_line("shanghai", info, StoredResult(1_000, True, None, None, 0, 55, extras))
    assert line.startswith("http_response,") and "response_time=1.626," in line
    failed = StoredResult(1_000, False, None, "http-status", 0, 55, {"total_ms": 9.0})
    assert "response_time" not in result_line("shanghai", info, failed)


def test_special_characters_are_escaped() -> None:
    event = EventRecord(5, EventKind.ALERT_FIRING, 'loss "high", 30 %\nnow', {"class": "a b,c=d"})
    assert event_line("site one", event) == (
        r"borderpath_event,class=a\ b\,c\=d,kind=alert.firing,site=site\ one"
        ' text="loss \\"high\\", 30 % now" 5'
    )


def test_event_values_never_collide_with_tags() -> None:
    line = event_line(
        "s", EventRecord(1, EventKind.DECISION, "t", {"pop": "hkg"}, {"pop": 3, "ok": True})
    )
    assert "pop_value=3.0" in line and "ok=1.0" in line


@pytest.mark.influx
def test_what_the_server_stored_matches_the_doc(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    database = new_database(influxd)
    config = InfluxConfig(url=influxd.url, api="v1", database=database)
    store = Store.open(tmp_path / "s.db", site="s", config=StorageConfig(influxdb=config))
    store.set_path_labels({("ct", "hkg"): "ct-163"})
    store.write_results(sample_results(200))
    store.add_snapshots([sample_snapshot()])
    store.add_events([sample_event(flag=True, note="text value", protocol="icmp")])
    assert Exporter(store.path, config).drain(max_seconds=30).caught_up
    doc = documented()
    for series in influxd.query("SHOW FIELD KEYS", database):
        for field, kind in series["values"]:
            assert kind in field_types(series["name"], field), (series["name"], field)
    for series in influxd.query("SHOW TAG KEYS", database):
        tags = {value[0] for value in series["values"]}
        assert tags <= doc[series["name"]][0], series["name"]
    [measurements] = influxd.query("SHOW MEASUREMENTS", database)
    assert {value[0] for value in measurements["values"]} == set(MEASUREMENTS)
