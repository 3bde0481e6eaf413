"""What Grafana does to a dashboard's InfluxQL before it reaches the server, for tests.

Grafana's InfluxDB data source replaces ``$timeFilter`` with the panel's time range
(``time >= now() - 1h and time <= now()`` for a relative range, the panel's
``timeFrom`` winning over the dashboard's), ``$__interval`` with the range divided by
the points the panel can draw (never below the panel's ``interval``), and template
variables with their values: a multi-value or "All" variable becomes a regex
alternation of escaped values (``(ct|cu)``), or the variable's ``allValue``. Then the
browser applies the panel's transformations to the result (``transform``).
"""

import dataclasses
import datetime
import json
import re
import statistics
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MAX_DATA_POINTS = 1000
"""Roughly the pixels of a full-width panel: Grafana's default for $__interval."""

_NICE_INTERVALS_S = (1, 2, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400)
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]")
_REGEX_SPECIALS = re.compile(r"[\\^$*+?.()|\[\]{}/]")
ALIAS_ONLY = {"col", "m", "measurement"}
"""Alias patterns ($col, $m, $tag_x) that Grafana fills from the result, not the query."""
MACROS = {"timeFilter", "__interval", "interval"}

Selection = Mapping[str, str | list[str]]
"""Variable name -> its selected value(s); "$__all" selects All."""


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """One InfluxQL query of a dashboard and where it lives."""

    dashboard: str
    where: str
    """Panel title and refId, variable name, or annotation name."""
    text: str
    result_format: str
    time_from: str
    """The relative range it runs over, e.g. "5m" (from the panel or the dashboard)."""
    min_interval: str


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_range(dashboard: Mapping[str, Any]) -> str:
    start = str(dashboard["time"]["from"])
    if not start.startswith("now-") or dashboard["time"]["to"] != "now":
        raise ValueError(f"{dashboard['uid']}: only relative ranges ending now are expected")
    return start.removeprefix("now-")


def queries(dashboard: Mapping[str, Any]) -> Iterator[Query]:
    """Every panel target and annotation query of a dashboard."""
    uid, default = dashboard["uid"], dashboard_range(dashboard)
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield Query(
                uid,
                f"{panel['title']} [{target['refId']}]",
                target["query"],
                target.get("resultFormat", "time_series"),
                panel.get("timeFrom", default),
                panel.get("interval", "1s"),
            )
    for annotation in dashboard["annotations"]["list"]:
        if "query" in annotation:
            yield Query(
                uid, f"annotation {annotation['name']}", annotation["query"], "table", default, "1s"
            )


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smhdw])", duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r}")
    return int(match.group(1)) * _UNITS_S[match.group(2)]


def interval(time_from: str, min_interval: str) -> str:
    """$__interval as Grafana computes it: range / points, rounded up to a nice step."""
    raw = max(seconds(time_from) / MAX_DATA_POINTS, seconds(min_interval))
    step = next((nice for nice in _NICE_INTERVALS_S if nice >= raw), _NICE_INTERVALS_S[-1])
    return f"{step}s"


def escape_regex(value: str) -> str:
    return _REGEX_SPECIALS.sub(lambda match: "\\" + match.group(0), value)


def variable_value(variable: Mapping[str, Any], selected: str | list[str]) -> str:
    """A variable's text in a query: Grafana's InfluxDB formatting."""
    multi = variable.get("multi") or variable.get("includeAll")
    values = [selected] if isinstance(selected, str) else list(selected)
    if "$__all" in values:
        all_value = variable.get("allValue")
        if all_value:
            return str(all_value)
        values = [option["value"] for option in variable.get("options", [])]
    if not multi:
        return values[0]
    if len(values) == 1:
        return escape_regex(values[0])
    return "(" + "|".join(escape_regex(value) for value in values) + ")"


def interpolate(
    text: str,
    variables: Mapping[str, Mapping[str, Any]],
    selection: Selection,
    time_from: str,
    min_interval: str = "1s",
) -> str:
    """The query as Grafana sends it, with the macros and variables filled in."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name == "timeFilter":
            return f"time >= now() - {time_from} and time <= now()"
        if name in ("__interval", "interval"):
            return interval(time_from, min_interval)
        if name not in variables:
            raise KeyError(f"${name} is neither a macro nor a variable of the dashboard")
        return variable_value(variables[name], selection[name])

    return _VARIABLE.sub(replace, text)


def referenced(text: str) -> set[str]:
    """Names a query or alias refers to with $name, ${name} or [[name]]."""
    return {next(group for group in match.groups() if group) for match in _VARIABLE.finditer(text)}


def _top_level_split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def selected_columns(query: str) -> list[str]:
    """Column names the outermost SELECT produces (its aliases or bare identifiers)."""
    match = re.match(r"\s*SELECT\s+(.*?)\s+FROM\s", query, re.DOTALL)
    if match is None:
        raise ValueError(f"not a SELECT: {query}")
    columns = []
    for item in _top_level_split(match.group(1)):
        alias = re.search(r'\sAS\s+"([^"]+)"$', item)
        bare = re.fullmatch(r'"([^"]+)"', item)
        found = alias or bare
        if found is None:
            raise ValueError(f"give every selected expression a name: {item!r}")
        columns.append(found.group(1))
    return columns


def _outer(text: str) -> str:
    """The query with every parenthesised part emptied: what is left is the outer query."""
    out, depth = [], 0
    for char in text:
        if char == ")":
            depth -= 1
        if depth == 0:
            out.append(char)
        if char == "(":
            depth += 1
    return "".join(out)


def group_by_tags(query: str) -> list[str]:
    """Tags of the outermost GROUP BY (time() excluded)."""
    match = re.search(r"\sGROUP BY\s(.*)$", _outer(query), re.DOTALL)
    return re.findall(r'"(\w+)"', match.group(1)) if match else []


# -- transformations ------------------------------------------------------------------
# Grafana applies a panel's transformations in its browser; only the ones the dashboards
# use are here, each as Grafana 10.4+ computes it on a table frame (rows of dicts).

_MOMENT_TO_STRFTIME = {"HH": "%H"}
Row = dict[str, Any]


def table_frame(rows: list[Row]) -> list[Row]:
    """An InfluxQL result as Grafana's table frame: tags as columns, time named Time."""
    return [
        {("Time" if key == "time" else key): value for key, value in row.items()} for row in rows
    ]


def transform(
    rows: list[Row], transformations: list[dict[str, Any]], viewer_zone: str
) -> list[Row]:
    """A table's rows after the panel's transformations, seen by a viewer whose own time
    zone (Grafana profile or browser) is ``viewer_zone``."""
    for step in transformations:
        options = step["options"]
        if step["id"] == "formatTime":
            rows = format_time(rows, options, viewer_zone)
        elif step["id"] == "groupBy":
            rows = group_by(rows, options["fields"])
        elif step["id"] == "sortBy":
            rows = sorted(rows, key=lambda row: row[options["sort"][0]["field"]])
        elif step["id"] == "groupingToMatrix":
            rows = grouping_to_matrix(rows, options)
        else:
            raise ValueError(f"transformation {step['id']!r} is not emulated here")
    return rows


def format_time(rows: list[Row], options: Mapping[str, Any], viewer_zone: str) -> list[Row]:
    """The time field as text. Its ``timezone`` option, or else the viewer's zone: Grafana
    ignores the dashboard's zone here (grafana/grafana#90727)."""
    zone = ZoneInfo(options.get("timezone") or viewer_zone)
    pattern = _MOMENT_TO_STRFTIME[options["outputFormat"]]
    field = options["timeField"]
    return [
        row | {field: datetime.datetime.fromtimestamp(row[field] / 1e9, zone).strftime(pattern)}
        for row in rows
    ]


def group_by(rows: list[Row], fields: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """One row per distinct value of the ``groupby`` fields, the others aggregated
    (``mean`` only) under Grafana's name ``field (mean)``."""
    keys = [name for name, field in fields.items() if field["operation"] == "groupby"]
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in keys), []).append(row)
    out = []
    for key, members in groups.items():
        row = dict(zip(keys, key, strict=True))
        for name, field in fields.items():
            if field["operation"] == "aggregate":
                assert field["aggregations"] == ["mean"], field
                row[f"{name} (mean)"] = statistics.fmean(member[name] for member in members)
        out.append(row)
    return out


def grouping_to_matrix(rows: list[Row], options: Mapping[str, str]) -> list[Row]:
    """One row per ``rowField`` value; a column per ``columnField`` value, in order of
    first appearance; the first column is named ``row\\column``."""
    row_field, column_field = options["rowField"], options["columnField"]
    corner = f"{row_field}\\{column_field}"
    matrix: dict[Any, Row] = {}
    for row in rows:
        line = matrix.setdefault(row[row_field], {corner: row[row_field]})
        line[str(row[column_field])] = row[options["valueField"]]
    return list(matrix.values())
