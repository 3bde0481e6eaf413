"""The agent's config: the example loads, and each mistake is one line naming file,
line and key, with exit code 2 and nothing changed."""

import subprocess
from pathlib import Path

import pytest

from borderpath.agent.config import load_config
from borderpath.agent.configdoc import render
from borderpath.core.errors import ConfigError
from borderpath.core.tomlfile import load_model
from borderpath.lab.agent_config import borderpath_argv
from borderpath.probes.responder import ResponderConfig

ROOT = Path(__file__).parents[2]
GOOD = """\
[agent]
site = "sha-01"

[[uplinks]]
name = "ct"
carrier = "china-telecom"
interface = "eth1"
gateway = "100.64.1.1"

[[uplinks]]
name = "cu"
carrier = "china-unicom"
interface = "eth2"
gateway = "100.64.2.1"

[[pops]]
name = "hkg"
region = "HK"
address = "203.0.113.10"
prefixes = ["198.51.100.0/25"]

[[pops]]
name = "nrt"
region = "JP"
address = "203.0.113.11"
prefixes = ["198.51.100.128/25"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_the_examples_and_a_minimal_config_load(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).uplink("cu").gateway.exploded == "100.64.2.1"
    for example in (ROOT / "deploy" / "examples").glob("branch*.toml"):
        load_config(example)
    pop = load_model(ROOT / "deploy" / "examples" / "pop.toml", ResponderConfig)
    assert pop.udp_port == 862


MISTAKES = [
    ("unknown_top_key", GOOD + "[probes]\ninterval = 1\n", r":\d+: probes: unknown key"),
    (
        "unknown_uplink_key",
        GOOD.replace("cost", "x").replace('interface = "eth1"', 'interface = "eth1"\nweight = 2'),
        r":8: uplinks\[0\]\.weight: unknown key",
    ),
    ("duplicate_uplink", GOOD.replace('name = "cu"', 'name = "ct"'), r"two uplinks are named 'ct'"),
    ("duplicate_pop", GOOD.replace('name = "nrt"', 'name = "hkg"'), r"two PoPs are named 'hkg'"),
    (
        "pop_address_not_an_address",
        GOOD.replace('"203.0.113.10"', '"hongkong-pop"'),
        r":19: pops\[0\]\.address: .*not a valid IPv4 address; .*not a valid IPv6 address",
    ),
    (
        "overlapping_prefixes",
        GOOD.replace("198.51.100.128/25", "198.51.100.0/24"),
        r"prefix 198\.51\.100\.0/24 of PoP nrt overlaps 198\.51\.100\.0/25 of PoP hkg",
    ),
    (
        "prefix_with_host_bits",
        GOOD.replace("198.51.100.0/25", "198.51.100.1/25"),
        r":20: pops\[0\]\.prefixes\[0\]: .*not a valid IPv4 network",
    ),
    (
        "site_missing",
        GOOD.replace('site = "sha-01"', ""),
        r":1: agent\.site: required key is missing",
    ),
    (
        "no_uplinks",
        GOOD.split("[[uplinks]]", maxsplit=1)[0] + "[[pops]]" + GOOD.split("[[pops]]", 1)[1],
        r"uplinks: required key is missing",
    ),
    (
        "gateway_not_an_address",
        GOOD.replace('"100.64.1.1"', '"100.64.1"'),
        r":8: uplinks\[0\]\.gateway: .*IP",
    ),
    (
        "bad_interval",
        GOOD + '[probing]\ninterval = "fast"\n',
        r":\d+: probing\.interval: 'fast' is not a duration",
    ),
    (
        "negative_cost",
        GOOD.replace('interface = "eth1"', 'interface = "eth1"\ncost = -1'),
        r":8: uplinks\[0\]\.cost: .*greater than or equal to 0",
    ),
    (
        "status_not_loopback",
        GOOD + '[status]\nlisten = "0.0.0.0:19108"\n',
        r":\d+: status\.listen: .*only a loopback address",
    ),
    (
        "unknown_protocol",
        GOOD.replace(
            'prefixes = ["198.51.100.0/25"]',
            'prefixes = ["198.51.100.0/25"]\nprotocols = ["icmp", "sctp"]',
        ),
        r":21: pops\[0\]\.protocols\[1\]: .*'icmp'",
    ),
    (
        "uplink_name_not_short",
        GOOD.replace('name = "ct"', 'name = "ChinaTelecom"'),
        r":5: uplinks\[0\]\.name: .*pattern",
    ),
    (
        "selector_for_an_unknown_pop",
        GOOD + '[selector.pops.sin]\nstrategy = "cheapest"\n',
        r":27: selector: \[selector\.pops\.sin\]: there is no PoP named 'sin'",
    ),
    (
        "priority_names_an_unknown_uplink",
        GOOD + '[selector]\npriority = ["ct", "cmi"]\n',
        r":27: selector: \[selector\] priority: no uplink named 'cmi'",
    ),
    ("not_toml", GOOD.replace("[agent]", "[agent"), r":1: not valid TOML"),
    ("wrong_type", GOOD.replace('site = "sha-01"', "site = 7"), r":2: agent\.site: .*string"),
]


@pytest.mark.parametrize(
    ("text", "message"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_is_one_line_with_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_the_command_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"203.0.113.10"', '"hongkong-pop"'))
    done = subprocess.run(
        borderpath_argv("agent", "run", "--config", str(path)),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"borderpath: {path}:19:")


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"agent\.toml: cannot read the file"):
        load_config(tmp_path / "agent.toml")


def test_configuration_reference_is_generated_from_the_models() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text()
    assert written == render(), "run: python -m borderpath.agent.configdoc > docs/configuration.md"
