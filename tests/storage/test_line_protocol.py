"""The series schema: line protocol, docs/schema.md, and what a real server stored."""

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from borderpath.core.events import EventKind, EventRecord
from borderpath.storage import Exporter, InfluxConfig, StorageConfig, Store
from borderpath.storage.line_protocol import (
    MEASUREMENTS,
    SeriesInfo,
    StoredResult,
    agent_host,
    escape_tag,
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
    host = escape_tag(agent_host())
    assert result_line("shanghai", INFO, result) == (
        f"ping,carrier=china-telecom,host={host},pop=hkg,region=HK,route=ct-cn2,site=shanghai,"
        "uplink=ct,url=203.0.113.10 packets_transmitted=1i,packets_received=1i,"
        "percent_packet_loss=0.0,minimum_response_ms=41.5,average_response_ms=41.5,"
        "maximum_response_ms=41.5,standard_deviation_ms=0.0,result_code=0i,forged=0i,ttl=63i 1000"
    )


def _fields(line: str) -> dict[str, str]:
    """The field set of a point (none of the values tested here holds a comma)."""
    return dict(pair.split("=", 1) for pair in line.split(" ")[-2].split(","))


def test_lost_ping_has_full_loss_no_rtt_and_result_code_1_like_telegraf() -> None:
    """Telegraf's ping writes result_code 1 when no reply came back, so counting
    ``result_code != 0`` counts lost pings; 2 is a ping error (here: unreachable)."""
    for error in ("timeout", "forged"):
        line = result_line("shanghai", INFO, StoredResult(1_000, False, None, error, 3, None, {}))
        fields = _fields(line)
        assert f",error={error}" in line and fields["percent_packet_loss"] == "100.0"
        assert fields["result_code"] == "1i" and fields["forged"] == "3i"
        assert not {name for name in fields if name.endswith("_ms")}
    cut = StoredResult(1_000, False, None, "unreachable", 0, None, {})
    assert _fields(result_line("shanghai", INFO, cut))["result_code"] == "2i"


@pytest.mark.parametrize(
    ("protocol", "error", "result", "code"),
    [
        ("udp", "timeout", "read_failed", "3i"),
        ("udp", "refused", "read_failed", "3i"),
        ("udp", "forged", "string_mismatch", "4i"),
        ("udp", "local", "connection_failed", "2i"),
        ("tcp", "timeout", "timeout", "1i"),
        ("tcp", "refused", "connection_failed", "2i"),
    ],
)
def test_net_response_results_are_telegrafs_per_protocol(
    protocol: str, error: str, result: str, code: str
) -> None:
    info = dataclasses.replace(INFO, protocol=protocol)
    extras = {"port": 7}
    line = result_line("s", info, StoredResult(1_000, False, None, error, 0, None, extras))
    assert f",port=7,protocol={protocol},region=HK,result={result}," in line
    fields = _fields(line)
    assert fields["result_code"] == code and fields["result_type"] == f'"{result}"'


def test_http_response_time_is_the_whole_request_and_the_rtt_has_its_own_name() -> None:
    info = dataclasses.replace(INFO, protocol="http")
    extras = {"total_ms": 151.5, "connect_ms": 31.0, "status": 200, "content_length": 2}
    fields = _fields(result_line("s", info, StoredResult(1_000, True, 30.25, None, 0, 55, extras)))
    assert fields["response_time"] == "0.1515" and fields["handshake_rtt_ms"] == "30.25"
    assert fields["content_length"] == "2i" and fields["http_response_code"] == "200i"
    assert fields["result_type"] == '"success"'
    retransmitted = {**extras, "retransmits": 1}  # no RTT sample, still answered
    line = result_line("s", info, StoredResult(1_000, True, None, None, 0, 55, retransmitted))
    assert "response_time=0.1515," in line and "handshake_rtt_ms" not in line
    failed = StoredResult(1_000, False, None, "http-status", 0, 55, {"total_ms": 9.0})
    assert "response_time" not in result_line("s", info, failed)


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


def export_through_store(
    server: InfluxServer, database: str, path: Path, fill: Callable[[Store], object]
) -> None:
    """What ``fill`` puts into a store, as the exporter ships it to ``database``."""
    config = InfluxConfig(url=server.url, api="v1", database=database)
    store = Store.open(path / "s.db", site="s", config=StorageConfig(influxdb=config))
    fill(store)
    assert Exporter(store.path, config).drain(max_seconds=30).caught_up


def _samples(store: Store) -> None:
    store.write_results(sample_results(200))


@pytest.mark.influx
def test_what_the_server_stored_matches_the_doc(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    def fill(store: Store) -> None:
        store.set_path_labels({("ct", "hkg"): "ct-163"})
        store.write_results(sample_results(200))
        store.add_snapshots([sample_snapshot()])
        store.add_events([sample_event(flag=True, note="text value", protocol="icmp")])

    database = new_database(influxd)
    export_through_store(influxd, database, tmp_path, fill)
    doc = documented()
    for series in influxd.query("SHOW FIELD KEYS", database):
        for field, kind in series["values"]:
            assert kind in field_types(series["name"], field), (series["name"], field)
    for series in influxd.query("SHOW TAG KEYS", database):
        tags = {value[0] for value in series["values"]}
        assert tags <= doc[series["name"]][0], series["name"]
    [measurements] = influxd.query("SHOW MEASUREMENTS", database)
    assert {value[0] for value in measurements["values"]} == set(MEASUREMENTS)


TELEGRAF_HOST = "telegraf-agent"
"""Telegraf adds ``host`` to every point (its README samples leave it out)."""

TELEGRAF_LINES = f"""\
ping,host={TELEGRAF_HOST},url=example.org average_response_ms=23.066,ttl=63i,\
maximum_response_ms=24.64,minimum_response_ms=22.451,packets_received=5i,\
packets_transmitted=5i,percent_packet_loss=0,result_code=0i,standard_deviation_ms=0.809 \
1535747258000000000
ping,host={TELEGRAF_HOST},url=example.org packets_transmitted=5i,packets_received=0i,\
percent_packet_loss=100,result_code=1i 1535747268000000000
net_response,host={TELEGRAF_HOST},port=8086,protocol=tcp,result=success,server=localhost \
response_time=0.000092948,result_code=0i,result_type="success" 1525820185000000000
net_response,host={TELEGRAF_HOST},port=8080,protocol=tcp,result=connection_failed,\
server=localhost result_code=2i,result_type="connection_failed" 1525820088000000000
net_response,host={TELEGRAF_HOST},port=8080,protocol=udp,result=read_failed,server=localhost \
result_code=3i,result_type="read_failed",string_found=false 1525820088000000000
http_response,host={TELEGRAF_HOST},method=GET,result=success,server=http://github.com,\
status_code=200 content_length=87878i,http_response_code=200i,response_time=0.937655534,\
result_code=0i,result_type="success" 1565839598000000000
"""
"""Telegraf's README sample lines of its ping (Linux; ttl typed as its code writes it,
and a lost ping as its native method writes it), net_response and http_response."""

SAME_QUERIES = {
    "failed pings": 'SELECT count("result_code") FROM "ping" WHERE "result_code" <> 0'
    ' GROUP BY "host", "url"',
    "ping rtt": 'SELECT mean("average_response_ms") FROM "ping" GROUP BY "host", "url"',
    "net failures": 'SELECT count("result_code") FROM "net_response" WHERE "result_code" <> 0'
    ' GROUP BY "host", "server", "port", "protocol", "result"',
    "net rtt": 'SELECT mean("response_time") FROM "net_response" WHERE "result" = \'success\''
    ' GROUP BY "host", "server", "port"',
    "http": 'SELECT mean("response_time"), last("content_length"), last("result_type")'
    ' FROM "http_response" GROUP BY "host", "server", "status_code"',
}


@pytest.mark.influx
def test_telegrafs_own_lines_and_ours_answer_the_same_queries_alike(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    """Beside Telegraf's points in one database, ours are accepted (no field type
    conflicts) and the NOC's queries come back in the same shape for both hosts."""
    database = new_database(influxd)
    assert influxd.write(database, TELEGRAF_LINES.encode()).status_code == 204
    export_through_store(influxd, database, tmp_path, _samples)
    for name, query in SAME_QUERIES.items():
        series = influxd.query(query, database)
        shapes = {s["tags"]["host"]: (s["columns"], set(s["tags"])) for s in series}
        assert set(shapes) == {TELEGRAF_HOST, agent_host()}, name
        assert shapes[TELEGRAF_HOST] == shapes[agent_host()], name
    udp = influxd.rows(
        'SELECT "result_code", "result_type" FROM "net_response"'
        " WHERE \"protocol\" = 'udp' AND \"error\" = 'timeout'",
        database,
    )
    assert udp and {(row["result_code"], row["result_type"]) for row in udp} == {(3, "read_failed")}


@pytest.mark.influx
def test_every_probe_point_names_its_uplink(
    tmp_path: Path, influxd: InfluxServer, new_database: MakeDatabase
) -> None:
    """``url``/``server`` is the PoP on every uplink: ``uplink`` tells them apart."""
    database = new_database(influxd)
    export_through_store(influxd, database, tmp_path, _samples)
    probes = "/^(ping|net_response|http_response|quic_response)$/"
    unnamed = f'SELECT count("result_code") FROM {probes} WHERE "uplink" = \'\''
    assert influxd.query(unnamed, database) == []
    per_path = influxd.query(
        'SELECT count("result_code") FROM "ping" GROUP BY "url", "uplink"', database
    )
    assert {(s["tags"]["url"], s["tags"]["uplink"]) for s in per_path} == {
        (pop, uplink) for pop in ("hkg", "nrt") for uplink in ("ct", "cu", "cm")
    }
