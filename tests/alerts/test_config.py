"""[alerts] as operators write it: the issue's example, defaults, mistakes."""

import pytest

from borderpath.agent.config import load_config
from borderpath.alerts import AlertsConfig
from borderpath.core.errors import ConfigError
from tests.alerts.synthetic import BASE_CONFIG as BASE
from tests.conftest import FileWriter


def test_the_example_of_the_docs_loads(scenario_file: FileWriter) -> None:
    text = (
        BASE
        + """
[alerts]
hold = "20s"
clear = "60s"
[[alerts.webhooks]]
url = "http://127.0.0.1:9093/api/v2/alerts"
format = "alertmanager"     # generic | alertmanager | slack
"""
    )
    alerts = load_config(scenario_file(text, "agent.toml")).alerts
    assert (alerts.hold, alerts.clear) == (20.0, 60.0)
    assert alerts.webhooks[0].format == "alertmanager"
    assert alerts.webhooks[0].key == "http://127.0.0.1:9093/…"


def test_rules_fall_back_to_the_section_hold_and_clear() -> None:
    alerts = AlertsConfig.model_validate({"hold": "30s", "clear": "2m", "down": {"clear": "10s"}})
    assert alerts.timing(alerts.degraded) == (30.0, 120.0)
    assert alerts.timing(alerts.down) == (5.0, 10.0)  # down holds 5 s unless told


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            '[[alerts.webhooks]]\nurl = "http://a/"\nformat = "teams"',
            r"alerts.webhooks\[0\].format",
        ),
        ('[alerts]\nhold = "soon"', "alerts.hold"),
        (
            '[[alerts.webhooks]]\nurl = "http://a/"\n[[alerts.webhooks]]\nurl = "http://a/"',
            "two webhooks",
        ),
        ("[alerts.down]\nborder_pops = 1", "alerts.down.border_pops"),
        (
            '[[alerts.webhooks]]\nurl = "http://a/"\n'
            'headers = { auth = { env = "X", file = "/f" } }',
            r"alerts.webhooks\[0\].headers.auth: give file or env \(one of them\)$",
        ),
        (
            '[[alerts.webhooks]]\nurl = "http://a/"\nheaders = { auth = { path = "/f" } }',
            r"alerts.webhooks\[0\].headers.auth.path: unknown key",
        ),
        ('[alerts]\ngenerator_url = "https://g/?var-host={host}"', r"generator_url: .*\{host\}"),
        ('[alerts]\ngenerator_url = "https://g/?x={pop"', "alerts.generator_url"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(
    scenario_file: FileWriter, section: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(scenario_file(BASE + section, "agent.toml"))
