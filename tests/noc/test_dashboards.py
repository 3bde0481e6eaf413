"""The NOC dashboards (deploy/grafana/dashboards): valid Grafana JSON whose every query,
filled in as Grafana fills it, runs on a real influxd holding a lab scenario's telemetry
and returns the columns its panel shows."""

import datetime
import re
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.influxd import InfluxServer
from tests.noc import grafana
from tests.noc.telemetry import NOT_WRITTEN_YET, STALE_SITE, Telemetry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD_FILES = sorted((DEPLOY / "dashboards").glob("*.json"))
DASHBOARDS = {path.stem: grafana.load(path) for path in DASHBOARD_FILES}
DATASOURCE_FILE = DEPLOY / "provisioning" / "datasources" / "borderpath.yaml"
PROVIDER_FILE = DEPLOY / "provisioning" / "dashboards" / "borderpath.yaml"
SCHEMA_VERSION = 39
"""Grafana 10.4 / 11.0: the oldest Grafana the dashboards are written for."""
DATASOURCE_VARIABLE = ("datasource", "datasource", "influxdb")
BRANCH_ZONE = "Asia/Shanghai"
"""Every branch is in mainland China: one zone, UTC+8, no daylight saving."""
VIEWER_ZONE = "Europe/Berlin"
"""A NOC engineer's browser somewhere else."""


def provisioned_uid() -> str:
    match = re.search(r"^\s*uid:\s*(\S+)\s*$", DATASOURCE_FILE.read_text(), re.MULTILINE)
    assert match, f"{DATASOURCE_FILE} gives the data source no uid"
    return match.group(1)


def datasource_references(node: Any) -> list[dict[str, Any]]:
    """Every ``datasource`` object anywhere in a dashboard."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            found.append(node["datasource"])
        for value in node.values():
            found += datasource_references(value)
    elif isinstance(node, list):
        for value in node:
            found += datasource_references(value)
    return found


def test_the_three_dashboards_are_there() -> None:
    assert set(DASHBOARDS) == {"border-matrix", "path-detail", "fleet"}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_valid_grafana_json(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["uid"] == f"borderpath-{name}" and len(dashboard["uid"]) <= 40
    assert "id" not in dashboard, "a provisioned dashboard must not carry a database id"
    ids = [panel["id"] for panel in grafana.panels(dashboard)]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {sorted(ids)}"
    for panel in grafana.panels(dashboard):
        assert panel["title"] and panel["type"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    for annotation in dashboard["annotations"]["list"]:
        if "query" in annotation:  # the legacy fields and the target Grafana 10+ reads agree
            target = annotation["target"]
            assert target["query"] == annotation["query"] and target["rawQuery"]
            assert target["textColumn"] == annotation["textColumn"] == "text"
    uids = {dashboard["uid"] for dashboard in DASHBOARDS.values()}
    assert len(uids) == len(DASHBOARDS)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_query_reads_the_data_source_variable(name: str) -> None:
    """Imported into a Grafana whose InfluxDB has another uid, one choice fixes every panel;
    provisioned next to deploy/grafana/provisioning, the variable starts on its uid."""
    dashboard = DASHBOARDS[name]
    variable = dashboard["templating"]["list"][0]
    assert (variable["name"], variable["type"], variable["query"]) == DATASOURCE_VARIABLE
    assert variable["current"]["value"] == provisioned_uid()
    for panel in grafana.panels(dashboard):
        if panel.get("targets"):
            assert "datasource" in panel, panel["title"]
            assert all("datasource" in target for target in panel["targets"]), panel["title"]
    for annotation in dashboard["annotations"]["list"]:
        assert "datasource" in annotation, annotation["name"]
    for reference in datasource_references(dashboard):
        if reference.get("type") == "grafana":
            continue  # Grafana's own built-in annotations
        assert reference == {"type": "influxdb", "uid": "${datasource}"}


def test_one_time_zone_for_every_dashboard_and_every_hour_of_day() -> None:
    """The branches' zone everywhere, also where Grafana would use the viewer's own:
    the Format time transformation ignores the dashboard's zone unless told one."""
    assert {dashboard["timezone"] for dashboard in DASHBOARDS.values()} == {BRANCH_ZONE}
    steps = [
        step
        for dashboard in DASHBOARDS.values()
        for panel in grafana.panels(dashboard)
        for step in panel.get("transformations", [])
        if step["id"] == "formatTime"
    ]
    assert steps and all(step["options"]["timezone"] == BRANCH_ZONE for step in steps)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    dashboard = DASHBOARDS[name]
    defined = {variable["name"] for variable in dashboard["templating"]["list"]}
    for query in grafana.queries(dashboard):
        assert grafana.referenced(query.text) <= defined | grafana.MACROS, query.where
    for panel in grafana.panels(dashboard):
        texts = [panel["title"], panel.get("repeat", "")]
        texts += [target.get("alias", "") for target in panel.get("targets", [])]
        for text in texts:
            names = {n for n in grafana.referenced(text) if not n.startswith("tag_")}
            assert names <= defined | grafana.ALIAS_ONLY | grafana.MACROS, (panel["title"], text)


def test_provisioning_points_at_the_dashboards() -> None:
    provider = PROVIDER_FILE.read_text()
    match = re.search(r"^\s*path:\s*(\S+)\s*$", provider, re.MULTILINE)
    assert match, "the dashboard provider has no path"
    compose = (DEPLOY.parent / "compose" / "compose.yaml").read_text()
    assert f"../grafana/dashboards:{match.group(1)}:ro" in compose
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in compose


def test_grafana_reads_the_token_the_setup_writes() -> None:
    token = re.search(r"\$__file\{(/run/secrets)/([\w.-]+)\}", DATASOURCE_FILE.read_text())
    assert token, "the data source does not read its token from a file"
    compose = (DEPLOY.parent / "compose" / "compose.yaml").read_text()
    assert f"tokens:{token.group(1)}:ro" in compose
    setup = (DEPLOY.parent / "influxdb" / "2.x" / "setup.sh").read_text()
    assert f'"$TOKEN_DIR/{token.group(2)}"' in setup


# -- the queries against a real server ------------------------------------------------


def one_path(telemetry: Telemetry) -> dict[str, str | list[str]]:
    """What a NOC engineer picks to look at one path: the one the scenario cut."""
    return {
        "site": telemetry.site,
        "carrier": telemetry.cut_carrier,
        "uplink": telemetry.cut_uplink,
        "pop": "hkg",
        "protocol": ["icmp", "tcp", "udp", "http", "quic"],
        "class": "interactive",
        "stale": "10m",
    }


EVERYTHING = {name: "$__all" for name in ("site", "carrier", "uplink", "pop", "protocol")}


def choose(dashboard: dict[str, Any], telemetry: Telemetry, selected: str) -> grafana.Selection:
    """ "all" selects All wherever a variable allows it, one path elsewhere."""
    one = one_path(telemetry)
    if selected == "one path":
        return one
    single = {v["name"] for v in dashboard["templating"]["list"] if not v.get("includeAll")}
    return {
        name: one[name] if name in single else value for name, value in (one | EVERYTHING).items()
    }


QUERIES = [
    pytest.param(name, query, id=f"{name}: {query.where}")
    for name, dashboard in DASHBOARDS.items()
    for query in grafana.queries(dashboard)
]


@pytest.mark.influx
@pytest.mark.lab
@pytest.mark.parametrize("selected", ["all", "one path"])
@pytest.mark.parametrize(("name", "query"), QUERIES)
def test_query_returns_the_columns_its_panel_shows(
    telemetry: Telemetry, name: str, query: grafana.Query, selected: str
) -> None:
    dashboard = DASHBOARDS[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    choice = choose(dashboard, telemetry, selected)
    text = grafana.interpolate(query.text, variables, choice, query.time_from, query.min_interval)
    series = telemetry.server.query(text, telemetry.database)
    if not series and query.where in NOT_WRITTEN_YET:
        pytest.skip(f"ran, but empty: {NOT_WRITTEN_YET[query.where]}")
    assert series, f"no rows for {text}"
    wanted = grafana.selected_columns(query.text)
    for one in series:
        assert set(wanted) <= set(one["columns"]) | set(one.get("tags", {})), text
        assert set(grafana.group_by_tags(query.text)) <= set(one.get("tags", {})), text
        assert one["values"], text


@pytest.mark.influx
@pytest.mark.lab
@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_variables_list_what_the_agents_wrote(telemetry: Telemetry, name: str) -> None:
    variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
    expected = {
        "site": {telemetry.site, STALE_SITE},
        "uplink": set(telemetry.uplinks),
        "pop": set(telemetry.pops),
        "carrier": {"china-telecom", "china-unicom", "china-mobile"},
        "class": {"voice", "interactive", "bulk"},
    }
    for variable in variables.values():
        if variable["type"] != "query":
            continue
        choice = choose(DASHBOARDS[name], telemetry, "all")
        text = grafana.interpolate(variable["query"], variables, choice, "1h")
        rows = telemetry.server.rows(text, telemetry.database)
        values = {str(row.get("value", row.get("fieldKey"))) for row in rows}
        if "regex" in variable:
            pattern = re.compile(variable["regex"].strip("/"))
            values = {m.group(1) for v in values if (m := pattern.match(v))}
        assert values >= expected[variable["name"]], variable["name"]


@pytest.mark.influx
@pytest.mark.lab
def test_protocol_choice_shows_only_those_protocols(telemetry: Telemetry) -> None:
    dashboard = DASHBOARDS["path-detail"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    choice = one_path(telemetry) | {"protocol": ["icmp", "udp"]}
    panel = next(p for p in grafana.panels(dashboard) if p["title"].startswith("RTT p50"))
    shown = set()
    for target in panel["targets"]:
        text = grafana.interpolate(target["query"], variables, choice, "1h")
        for series in telemetry.server.query(text, telemetry.database):
            shown.add(series.get("tags", {}).get("protocol") or series["name"])
    assert shown == {"ping", "udp"}


def panel_rows(
    telemetry: Telemetry, name: str, title: str, ref: str = "A", time_from: str = ""
) -> list[dict[str, Any]]:
    """Rows of one panel query with All selected (tags as columns), over the panel's
    range or ``time_from`` (the last 15 minutes give 1 s intervals)."""
    dashboard = DASHBOARDS[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    query = next(q for q in grafana.queries(dashboard) if q.where == f"{title} [{ref}]")
    choice = choose(dashboard, telemetry, "all")
    span = time_from or query.time_from
    text = grafana.interpolate(query.text, variables, choice, span, query.min_interval)
    return telemetry.server.rows(text, telemetry.database)


@pytest.mark.influx
@pytest.mark.lab
def test_border_matrix_shows_the_cut_path_down_and_hkg_steered_away(telemetry: Telemetry) -> None:
    rows = panel_rows(
        telemetry, "border-matrix", "Paths now: every uplink \N{MULTIPLICATION SIGN} PoP"
    )
    live = {(r["uplink"], r["pop"]): r for r in rows if r["site"] == telemetry.site}
    assert set(live) == {(u, p) for u in telemetry.uplinks for p in telemetry.pops}
    cut = live[(telemetry.cut_uplink, "hkg")]
    assert (cut["state"], cut["steered"], cut["sla"]) == ("down", 0, 0)
    assert cut["loss"] > 30
    assert sum(live[(u, "hkg")]["steered"] for u in telemetry.uplinks) == 1


@pytest.mark.influx
@pytest.mark.lab
def test_loss_by_protocol_shows_the_cut_as_total_loss(telemetry: Telemetry) -> None:
    rows = panel_rows(telemetry, "path-detail", "Loss by protocol (probes)", "B", "15m")
    tcp = [row["loss"] for row in rows if row["protocol"] == "tcp"]
    # Before the cut some interval shows ordinary loss (a short first one may lose 1 of 2).
    assert min(tcp) < 50 and max(tcp) == 100.0


@pytest.mark.influx
@pytest.mark.lab
def test_fleet_lists_degraded_paths_and_the_silent_agent(telemetry: Telemetry) -> None:
    degraded = panel_rows(telemetry, "fleet", "Sites with degraded paths now")
    assert (telemetry.cut_uplink, "hkg", "down") in {
        (r["uplink"], r["pop"], r["state"]) for r in degraded
    }
    seen = {r["site"] for r in panel_rows(telemetry, "fleet", "Agents that stopped reporting")}
    recent = {
        r["site"] for r in panel_rows(telemetry, "fleet", "Agents that stopped reporting", "B")
    }
    assert seen - recent == {STALE_SITE}
    switches = panel_rows(telemetry, "fleet", "Route switches per site")
    assert sum(r["switches"] for r in switches if r["site"] == telemetry.site) >= 1


@pytest.mark.influx
def test_evening_peak_has_24_hours_in_china_time_for_a_viewer_elsewhere(
    influxd: InfluxServer,
) -> None:
    """Three days of a path that loses 20 % from 20:00 to 23:00 China time, 1 % otherwise,
    through the panel's query on a real influxd and its transformations: one column per
    hour of the day, and the peak where the branch has it, not shifted to Frankfurt's."""
    database = "evening_peak"
    influxd.create_database(database)
    shanghai, now = ZoneInfo(BRANCH_ZONE), time.time()
    lines = []
    for moment in (now - step * 600 for step in range(3 * 24 * 6)):
        loss = (
            0.2 if datetime.datetime.fromtimestamp(moment, shanghai).hour in (20, 21, 22) else 0.01
        )
        lines.append(
            "borderpath_path,site=sh-01,carrier=china-telecom,uplink=ct,pop=hkg "
            f"loss={loss} {int(moment * 1e9)}"
        )
    influxd.write(database, "\n".join(lines).encode()).raise_for_status()
    dashboard = DASHBOARDS["fleet"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    panel = next(p for p in grafana.panels(dashboard) if p["title"].startswith("Evening peak"))
    text = grafana.interpolate(panel["targets"][0]["query"], variables, EVERYTHING, "28d")
    rows = grafana.table_frame(influxd.rows(text, database))
    matrix = grafana.transform(rows, panel["transformations"], VIEWER_ZONE)
    assert [row.pop("pop\\Time") for row in matrix] == ["hkg"]
    assert list(matrix[0]) == [f"{hour:02}" for hour in range(24)]
    assert {hour for hour, loss in matrix[0].items() if loss > 10} == {"20", "21", "22"}
