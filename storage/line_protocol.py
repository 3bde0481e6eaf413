"""The series written to InfluxDB: measurements, tags, fixed field types, line protocol.

docs/schema.md is the reference for NOC dashboards; ``MEASUREMENTS`` below is the same
table in code, and a test checks both against what a real server stored. Probe
results take Telegraf's shapes (``ping``, ``net_response``, ``http_response``, and
``quic_response`` shaped like ``http_response``) so existing dashboards work; the
selector's view is ``borderpath_path`` and events are ``borderpath_event``.

Field types never change: times are floats, counts and codes integers (``i``), text
strings. No name is both a tag and a field (InfluxDB 3 forbids it).
"""

import dataclasses
import functools
import math
import socket
from collections.abc import Callable, Mapping

from borderpath.core.events import EventRecord
from borderpath.core.protocols import BY_NAME
from borderpath.core.records import PathSnapshot

FLOAT, INTEGER, STRING = "float", "integer", "string"

SERIES_TAGS = ("site", "uplink", "carrier", "pop", "region", "route")
"""Our tags, on every probe measurement and on ``borderpath_path`` (empty ones omitted)."""

EVENT_TAGS = ("site", "kind", "uplink", "pop", "protocol", "class", "severity")
"""Tags of ``borderpath_event``: other event labels become string fields."""

SLA_FIELD_PREFIX = "sla_"
"""``borderpath_path`` has one integer field ``sla_<class>`` per SLA class (1 = met)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    tags: tuple[str, ...]
    fields: Mapping[str, str]
    """Field name -> FLOAT | INTEGER | STRING."""


PROBE_TAGS = (*SERIES_TAGS, "host")
"""Tags of every probe measurement: ours and Telegraf's ``host`` (this router's name)."""

_PROBE_COMMON = {"forged": INTEGER, "ttl": INTEGER}
_PHASES = {"connect_ms": FLOAT, "tls_ms": FLOAT, "ttfb_ms": FLOAT}
_HTTP_LIKE = {
    "response_time": FLOAT,
    "result_code": INTEGER,
    "result_type": STRING,
    "handshake_rtt_ms": FLOAT,
    **_PHASES,
    "alpn": STRING,
    "version": STRING,
    **_PROBE_COMMON,
}

MEASUREMENTS: Mapping[str, Measurement] = {
    m.name: m
    for m in (
        Measurement(
            "ping",
            (*PROBE_TAGS, "url", "error"),
            {
                "packets_transmitted": INTEGER,
                "packets_received": INTEGER,
                "percent_packet_loss": FLOAT,
                "minimum_response_ms": FLOAT,
                "average_response_ms": FLOAT,
                "maximum_response_ms": FLOAT,
                "standard_deviation_ms": FLOAT,
                "result_code": INTEGER,
                **_PROBE_COMMON,
            },
        ),
        Measurement(
            "net_response",
            (*PROBE_TAGS, "server", "port", "protocol", "result", "error"),
            {
                "response_time": FLOAT,
                "result_code": INTEGER,
                "result_type": STRING,
                **_PROBE_COMMON,
            },
        ),
        Measurement(
            "http_response",
            (*PROBE_TAGS, "server", "method", "status_code", "result", "error"),
            {
                **_HTTP_LIKE,
                "http_response_code": INTEGER,
                "content_length": INTEGER,
            },
        ),
        Measurement(
            "quic_response",
            (*PROBE_TAGS, "server", "result", "error"),
            {**_HTTP_LIKE, "retry": INTEGER},
        ),
        Measurement(
            "borderpath_path",
            SERIES_TAGS,
            {
                "state": STRING,
                "state_code": INTEGER,
                "loss": FLOAT,
                "loss_upper": FLOAT,
                "rtt_p50_ms": FLOAT,
                "rtt_p95_ms": FLOAT,
                "jitter_ms": FLOAT,
                "mos": FLOAT,
                "score": FLOAT,
                "selected": INTEGER,
                f"{SLA_FIELD_PREFIX}<class>": INTEGER,
            },
        ),
        Measurement(
            "borderpath_event",
            EVENT_TAGS,
            {"text": STRING, "<label>": STRING, "<number>": FLOAT, "<text value>": STRING},
        ),
    )
}

STATE_CODES = {"up": 0, "degraded": 1, "down": 2, "interfered": 3}

# Telegraf's result tag and result_code, from our error kind (None = answered).
# net_response: 0 success, 1 timeout, 2 connection_failed, 3 read_failed,
# 4 string_mismatch (a forged reply did not match what we sent). Its UDP check only
# dials (which cannot time out) and then reads: every unanswered read is read_failed.
_TCP_RESULTS: Mapping[str | None, tuple[str, int]] = {
    None: ("success", 0),
    "timeout": ("timeout", 1),
    "refused": ("connection_failed", 2),
    "unreachable": ("connection_failed", 2),
    "reset": ("read_failed", 3),
    "local": ("connection_failed", 2),
    "forged": ("string_mismatch", 4),
}
_UDP_RESULTS: Mapping[str | None, tuple[str, int]] = {
    None: ("success", 0),
    "local": ("connection_failed", 2),
    "forged": ("string_mismatch", 4),
}
_NET_FAILED = ("read_failed", 3)
# http_response: 0 success, 3 connection_failed, 4 timeout, 6 status code mismatch.
_HTTP_RESULTS: Mapping[str | None, tuple[str, int]] = {
    None: ("success", 0),
    "timeout": ("timeout", 4),
    "http-status": ("response_status_code_mismatch", 6),
}
_HTTP_FAILED = ("connection_failed", 3)
# ping (Telegraf's native method): 0 answered, 1 the echo went out and no reply came
# back ("no packets received"), 2 ping error (here: unreachable, nothing sent).
_PING_CODES: Mapping[str | None, int] = {None: 0, "timeout": 1, "forged": 1}
_PING_ERROR = 2


@functools.cache
def agent_host() -> str:
    """Telegraf's ``host`` tag: the name of the machine the agent runs on."""
    return socket.gethostname()


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What the store knows about one series (protocol "" = the path itself)."""

    uplink: str
    pop: str
    protocol: str
    carrier: str = ""
    region: str = ""
    address: str = ""
    route: str = ""
    """The route label from tracing (e.g. ct-cn2); empty when unknown."""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredResult:
    """One raw result row as the exporter reads it back."""

    time_ns: int
    ok: bool
    rtt_ms: float | None
    error: str | None
    forged: int
    ttl: int | None
    extras: Mapping[str, float | int | str]


_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\\": "/"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": " "})


def escape_tag(text: str) -> str:
    """A tag key or value (also used for field keys, which escape the same way)."""
    return text.translate(_TAG_ESCAPES)


def quote_string(text: str) -> str:
    """A string field value, quoted (newlines become spaces: one point per line)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def format_float(value: float) -> str | None:
    """A float field value; None for NaN and infinities, which InfluxDB refuses."""
    return repr(float(value)) if math.isfinite(value) else None


def tag_set(tags: Mapping[str, str]) -> str:
    """``,k=v,...`` for the non-empty tags, keys sorted (InfluxDB's preferred order)."""
    return "".join(
        f",{escape_tag(key)}={escape_tag(value)}" for key, value in sorted(tags.items()) if value
    )


def series_tags(site: str, info: SeriesInfo) -> dict[str, str]:
    return {
        "site": site,
        "uplink": info.uplink,
        "carrier": info.carrier,
        "pop": info.pop,
        "region": info.region,
        "route": info.route,
    }


@functools.lru_cache(maxsize=4096)
def _key(measurement: str, site: str, info: SeriesInfo, tags: tuple[tuple[str, str], ...]) -> str:
    """``measurement,tags`` of a point: cached, as a series has few distinct outcomes."""
    return measurement + tag_set(series_tags(site, info) | dict(tags))


def _float_field(name: str, value: float | None) -> str:
    if value is None:
        return ""
    text = format_float(value)
    return f",{name}={text}" if text is not None else ""


def _int_field(name: str, value: int | None) -> str:
    return f",{name}={int(value)}i" if value is not None else ""


def _string_field(name: str, value: object) -> str:
    return f",{name}={quote_string(str(value))}" if value not in (None, "") else ""


def _common_fields(result: StoredResult) -> str:
    ttl = f",ttl={result.ttl}i" if result.ttl is not None else ""
    return f",forged={result.forged}i{ttl}"


def _ping_line(site: str, info: SeriesInfo, result: StoredResult) -> str:
    tags = (
        ("host", agent_host()),
        ("url", info.address or info.pop),
        ("error", result.error or ""),
    )
    code = _PING_CODES.get(result.error, _PING_ERROR)
    rtt = format_float(result.rtt_ms) if result.rtt_ms is not None else None
    # One echo per point: its RTT is the minimum, mean and maximum, deviation 0.
    times = (
        f",minimum_response_ms={rtt},average_response_ms={rtt},maximum_response_ms={rtt}"
        ",standard_deviation_ms=0.0"
        if rtt is not None
        else ""
    )
    fields = (
        f"packets_transmitted=1i,packets_received={int(result.ok)}i"
        f",percent_packet_loss={0.0 if result.ok else 100.0}{times}"
        f",result_code={code}i{_common_fields(result)}"
    )
    return f"{_key('ping', site, info, tags)} {fields} {result.time_ns}"


def _seconds(rtt_ms: float | None) -> float | None:
    return rtt_ms / 1000.0 if rtt_ms is not None else None


def _net_line(site: str, info: SeriesInfo, result: StoredResult) -> str:
    results = _UDP_RESULTS if info.protocol == "udp" else _TCP_RESULTS
    outcome, code = results.get(result.error, _NET_FAILED)
    tags = (
        ("host", agent_host()),
        ("server", info.address or info.pop),
        ("port", str(result.extras.get("port", ""))),
        ("protocol", info.protocol),
        ("result", outcome),
        ("error", result.error or ""),
    )
    fields = (
        f"result_code={code}i"
        + _string_field("result_type", outcome)
        + _float_field("response_time", _seconds(result.rtt_ms))
        + _common_fields(result)
    )
    return f"{_key('net_response', site, info, tags)} {fields} {result.time_ns}"


def _http_like_fields(result: StoredResult, outcome: str, code: int, response_ms: object) -> str:
    """Fields ``http_response`` and ``quic_response`` share. ``response_ms`` is the whole
    exchange (Telegraf's meaning), written only when answered (dashboards count answers
    by it); our one round trip of the handshake is ``handshake_rtt_ms``."""
    extras = result.extras
    fields = (
        f"result_code={code}i"
        + _string_field("result_type", outcome)
        + _float_field("response_time", _seconds(_number(response_ms)) if result.ok else None)
        + _float_field("handshake_rtt_ms", result.rtt_ms)
    )
    if extras:  # most probes carry none
        fields += (
            "".join(_float_field(name, _number(extras.get(name))) for name in _PHASES)
            + _string_field("alpn", extras.get("alpn"))
            + _string_field("version", extras.get("version"))
        )
    return fields + _common_fields(result)


def _http_line(site: str, info: SeriesInfo, result: StoredResult) -> str:
    outcome, code = _HTTP_RESULTS.get(result.error, _HTTP_FAILED)
    extras = result.extras
    status = _integer(extras.get("status"))
    tags = (
        ("host", agent_host()),
        ("server", str(extras.get("url", info.address or info.pop))),
        ("method", "GET"),
        ("status_code", str(status) if status is not None else ""),
        ("result", outcome),
        ("error", result.error or ""),
    )
    fields = (
        _http_like_fields(result, outcome, code, extras.get("total_ms"))
        + _int_field("http_response_code", status)
        + _int_field("content_length", _integer(extras.get("content_length")))
    )
    return f"{_key('http_response', site, info, tags)} {fields} {result.time_ns}"


def _quic_line(site: str, info: SeriesInfo, result: StoredResult) -> str:
    outcome, code = _HTTP_RESULTS.get(result.error, _HTTP_FAILED)
    tags = (
        ("host", agent_host()),
        ("server", info.address or info.pop),
        ("result", outcome),
        ("error", result.error or ""),
    )
    fields = _http_like_fields(
        result, outcome, code, result.extras.get("handshake_ms")
    ) + _int_field("retry", _integer(result.extras.get("retry")))
    return f"{_key('quic_response', site, info, tags)} {fields} {result.time_ns}"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


RESULT_LINES: Mapping[str, Callable[[str, SeriesInfo, StoredResult], str]] = {
    "ping": _ping_line,
    "net_response": _net_line,
    "http_response": _http_line,
    "quic_response": _quic_line,
}
"""The point of a probe result, per measurement (a protocol names its own in
core/protocols.py)."""


def result_line(site: str, info: SeriesInfo, result: StoredResult) -> str:
    """The line-protocol point of one probe result, in its protocol's measurement."""
    return RESULT_LINES[BY_NAME[info.protocol].measurement](site, info, result)


def snapshot_line(site: str, info: SeriesInfo, snapshot: PathSnapshot) -> str:
    """The ``borderpath_path`` point of one selector snapshot."""
    fields = (
        f"state={quote_string(snapshot.state)}"
        + _int_field("state_code", STATE_CODES.get(snapshot.state))
        + _float_field("loss", snapshot.loss)
        + _float_field("loss_upper", snapshot.loss_upper)
        + _float_field("rtt_p50_ms", snapshot.rtt_p50_ms)
        + _float_field("rtt_p95_ms", snapshot.rtt_p95_ms)
        + _float_field("jitter_ms", snapshot.jitter_ms)
        + _float_field("mos", snapshot.mos)
        + _float_field("score", snapshot.score)
        + f",selected={int(snapshot.selected)}i"
        + "".join(
            _int_field(escape_tag(SLA_FIELD_PREFIX + name), int(met))
            for name, met in sorted(snapshot.sla.items())
        )
    )
    return f"{_key('borderpath_path', site, info, ())} {fields} {snapshot.time_ns}"


def event_line(site: str, event: EventRecord) -> str:
    """The ``borderpath_event`` point of one event (a Grafana annotation)."""
    tags = {"site": site, "kind": event.kind} | {
        key: value for key, value in event.labels.items() if key in EVENT_TAGS
    }
    fields = f"text={quote_string(event.text)}"
    taken = {*EVENT_TAGS, "text"}
    extra: dict[str, object] = {
        key: value for key, value in event.labels.items() if key not in EVENT_TAGS
    }
    extra.update(event.values)
    for key, value in sorted(extra.items()):
        name = escape_tag(key if key not in taken else f"{key}_value")
        if isinstance(value, str):
            fields += _string_field(name, value)
        elif isinstance(value, int | float):
            fields += _float_field(name, float(value))
    return f"borderpath_event{tag_set(tags)} {fields} {event.time_ns}"
