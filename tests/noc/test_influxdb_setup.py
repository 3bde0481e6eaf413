"""deploy/influxdb: the 1.x setup runs on a real influxd and its continuous queries roll
the agents' telemetry up under the same names; the 2.x and 3.x scripts are sound shell."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.noc.telemetry import Telemetry

SETUP = Path(__file__).resolve().parents[2] / "deploy" / "influxdb"
_DATABASE_NAME = re.compile(r"\bborderpath\b(?![_/-])")


def statements(database: str) -> list[str]:
    """The 1.x setup file's statements (one per line, ``#`` comments), for ``database``."""
    text = (SETUP / "1.x" / "setup.influxql").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    return [_DATABASE_NAME.sub(database, line) for line in lines if line and line[0] != "#"]


def continuous_query_body(statement: str) -> str:
    """The SELECT ... INTO of a CREATE CONTINUOUS QUERY, bounded to the last hour."""
    body = re.search(r"\bBEGIN (.*) END$", statement)
    assert body, statement
    return body.group(1).replace(" GROUP BY ", " WHERE time > now() - 1h GROUP BY ", 1)


@pytest.mark.influx
@pytest.mark.lab
def test_1x_setup_creates_the_database_and_rolls_up_with_the_same_names(
    telemetry: Telemetry,
) -> None:
    server, database = telemetry.server, "setup_check"
    for statement in statements(database):
        server.query(statement)
    policies = {row["name"]: row for row in server.rows("SHOW RETENTION POLICIES", database)}
    assert policies["raw"]["default"] and policies["raw"]["duration"] == "720h0m0s"
    assert policies["long"]["duration"] == "9600h0m0s"
    queries = {
        one["name"]: one.get("values", []) for one in server.query("SHOW CONTINUOUS QUERIES")
    }
    assert len(queries[database]) == 6
    server.query(
        f'SELECT * INTO "{database}"."raw".:MEASUREMENT FROM "{telemetry.database}"'
        '."autogen"./.*/ GROUP BY *'
    )
    for statement in statements(database):
        if statement.startswith("CREATE CONTINUOUS QUERY"):
            body = continuous_query_body(statement)
            server.query(body, database)
            target = re.search(r"\bINTO (\S+)", body)
            assert target
            aliases = re.findall(r" AS (\w+)", body)
            measurement = target.group(1).split(".")[-1]
            rows = server.rows(f'SELECT * FROM "long"."{measurement}" LIMIT 1', database)
            assert rows, f"{measurement}: nothing rolled up"
            assert set(aliases) <= set(rows[0]), measurement


@pytest.mark.parametrize("script", ["2.x/setup.sh", "3.x/setup.sh"])
def test_setup_scripts_are_valid_shell(script: str) -> None:
    path = SETUP / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    subprocess.run(["sh", "-n", str(path)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(path)], check=True)
