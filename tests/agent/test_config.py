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


def pop_line(text: str) -> str:
    """``GOOD`` with ``text`` added as a line of its first [[pops]] entry."""
    return GOOD.replace('prefixes = ["198.51.100.0/25"]', f'prefixes = ["198.51.100.0/25"]\n{text}')


def agent_line(text: str) -> str:
    return GOOD.replace('site = "sha-01"', f'site = "sha-01"\n{text}')


WEBHOOK = '[[alerts.webhooks]]\nurl = "http://127.0.0.1:9/"\n'
INFLUX = '[storage.influxdb]\ntoken_env = "T"\n'
UNKNOWN = "unknown key (check its spelling, see the documentation for the valid keys)"
NOT_AN_ADDRESS = "Input is not a valid IPv4 address; Input is not a valid IPv6 address"
NOT_A_NETWORK = "Input is not a valid IPv4 network; Input is not a valid IPv6 network"
CENTURY = "a duration cannot be longer than a century (36500d)"
NINES = "9" * 57 + "..."

# (what it proves, the file, what `borderpath agent check` says after "borderpath: FILE")
MISTAKES = [
    ("unknown_top_key", GOOD + "[probes]\ninterval = 1\n", f":27: probes: {UNKNOWN}"),
    (
        "unknown_uplink_key",
        GOOD.replace('interface = "eth1"', 'interface = "eth1"\nweight = 2'),
        f":8: uplinks[0].weight: {UNKNOWN}",
    ),
    (
        "duplicate_uplink_at_its_line",
        GOOD.replace('name = "cu"', 'name = "ct"'),
        ":11: uplinks[1].name: two uplinks are named 'ct'",
    ),
    (
        "duplicate_pop_at_its_line",
        GOOD.replace('name = "nrt"', 'name = "hkg"'),
        ":23: pops[1].name: two PoPs are named 'hkg'",
    ),
    (
        "duplicate_source",
        GOOD.replace('"100.64.1.1"', '"100.64.1.1"\nsource = "100.64.9.2"').replace(
            '"100.64.2.1"', '"100.64.2.1"\nsource = "100.64.9.2"'
        ),
        ":16: uplinks[1].source: two uplinks have the source 100.64.9.2: the probe rules "
        "could not tell them apart",
    ),
    (
        "pop_address_not_an_address",
        GOOD.replace('"203.0.113.10"', '"hongkong-pop"'),
        f":19: pops[0].address: {NOT_AN_ADDRESS} (got 'hongkong-pop')",
    ),
    (
        "overlapping_prefixes_at_their_line",
        GOOD.replace("198.51.100.128/25", "198.51.100.0/24"),
        ":26: pops[1].prefixes[0]: prefix 198.51.100.0/24 of PoP nrt overlaps "
        "198.51.100.0/25 of PoP hkg",
    ),
    (
        "prefix_listed_twice",
        GOOD.replace('["198.51.100.0/25"]', '["198.51.100.0/25", "198.51.100.0/25"]'),
        ":20: pops[0].prefixes[1]: prefix 198.51.100.0/25 is listed twice",
    ),
    (
        "prefix_with_host_bits",
        GOOD.replace("198.51.100.0/25", "198.51.100.1/25"),
        f":20: pops[0].prefixes[0]: {NOT_A_NETWORK} (got '198.51.100.1/25')",
    ),
    (
        "ipv6_pop_without_ipv6_uplinks",
        GOOD.replace('"203.0.113.11"', '"2001:db8::11"'),
        ":25: pops[1].address: uplink ct has no IPv6 gateway to probe this IPv6 PoP by "
        "(give it gateway6)",
    ),
    (
        "site_missing",
        GOOD.replace('site = "sha-01"', ""),
        ":1: agent.site: required key is missing",
    ),
    (
        "site_empty",
        GOOD.replace('site = "sha-01"', 'site = ""'),
        ":2: agent.site: String should have at least 1 character (got '')",
    ),
    (
        "no_uplinks",
        GOOD.split("[[uplinks]]", maxsplit=1)[0] + "[[pops]]" + GOOD.split("[[pops]]", 1)[1],
        ": uplinks: required key is missing",
    ),
    (
        "gateway_not_an_address",
        GOOD.replace('"100.64.1.1"', '"100.64.1"'),
        f":8: uplinks[0].gateway: {NOT_AN_ADDRESS} (got '100.64.1')",
    ),
    (
        "interface_name_impossible",
        GOOD.replace('"eth1"', '"eth1 wan"'),
        ":7: uplinks[0].interface: String should match pattern '^[^\\s/:\\x00]{1,15}$' "
        "(got 'eth1 wan')",
    ),
    (
        "bad_interval",
        GOOD + '[probing]\ninterval = "fast"\n',
        ":28: probing.interval: 'fast' is not a duration (write e.g. '500ms', '90s', "
        "'1m30s', '2h') (got 'fast')",
    ),
    (
        "negative_cost",
        GOOD.replace('interface = "eth1"', 'interface = "eth1"\ncost = -1'),
        ":8: uplinks[0].cost: Input should be greater than or equal to 0 (got -1)",
    ),
    (
        "status_not_loopback",
        GOOD + '[status]\nlisten = "0.0.0.0:19108"\n',
        ":28: status.listen: '0.0.0.0:19108': only a loopback address or a unix socket "
        "(no authentication) (got '0.0.0.0:19108')",
    ),
    (
        "unknown_protocol",
        pop_line('protocols = ["icmp", "sctp"]'),
        ":21: pops[0].protocols[1]: Input should be 'icmp', 'tcp', 'udp', 'quic' or 'http' "
        "(got 'sctp')",
    ),
    (
        "no_protocol",
        pop_line("protocols = []"),
        ":21: pops[0].protocols: List should have at least 1 item after validation, not 0",
    ),
    (
        "protocol_twice",
        pop_line('protocols = ["icmp", "icmp"]'),
        ":21: pops[0].protocols[1]: icmp is listed twice",
    ),
    (
        "uplink_name_not_short",
        GOOD.replace('name = "ct"', 'name = "ChinaTelecom"'),
        ":5: uplinks[0].name: String should match pattern '^[a-z][a-z0-9_]{0,7}$' "
        "(got 'ChinaTelecom')",
    ),
    (
        "selector_for_an_unknown_pop",
        GOOD + '[selector.pops.sin]\nstrategy = "cheapest"\n',
        ":27: selector: [selector.pops.sin]: there is no PoP named 'sin'",
    ),
    (
        "priority_names_an_unknown_uplink",
        GOOD + '[selector]\npriority = ["ct", "cmi"]\n',
        ":27: selector: [selector] priority: no uplink named 'cmi'",
    ),
    (
        "not_toml",
        GOOD.replace("[agent]", "[agent"),
        ":1: not valid TOML: Expected ']' at the end of a table declaration",
    ),
    (
        "wrong_type",
        GOOD.replace('site = "sha-01"', "site = 7"),
        ":2: agent.site: Input should be a valid string (got 7)",
    ),
    # Nothing is coerced: a string, a float or an integer is not taken for another type.
    (
        "port_as_a_string",
        pop_line('tcp_port = "443"'),
        ":21: pops[0].tcp_port: Input should be a valid integer: write it without quotes "
        "(got '443')",
    ),
    (
        "port_as_a_float",
        pop_line("tcp_port = 443.0"),
        ":21: pops[0].tcp_port: Input should be a valid integer (got 443.0)",
    ),
    (
        "boolean_as_a_number",
        GOOD + "[selector.time_of_day]\nenabled = 1\n",
        ":28: selector.time_of_day.enabled: Input should be a valid boolean (got 1)",
    ),
    # Sections that must agree with each other.
    (
        "min_days_above_history_days",
        GOOD + "[selector.time_of_day]\nmin_days = 20\n",
        ":28: selector.time_of_day.min_days: cannot be above history_days (14)",
    ),
    (
        "probe_rules_after_the_steering_rule",
        GOOD + "[probing]\nrule_priority = 30000\n",
        ":28: probing.rule_priority: the probe rules (priorities 30000 to 30003) must come "
        "before the steering rules (selector.routes.rule_priority 25000)",
    ),
    (
        "probe_tables_include_the_steering_table",
        GOOD + "[probing]\ntable_base = 7210\n",
        ":28: probing.table_base: the probe tables (7211 to 7212) include the steering table "
        "(selector.routes.table 7211)",
    ),
    (
        "steering_proto_of_the_probe_routes",
        GOOD + "[selector.routes]\nproto = 249\n",
        ":28: selector.routes.proto: protocol 249 marks the probe routes; the steering "
        "routes need another",
    ),
    (
        "steering_table_is_main",
        GOOD + "[selector.routes]\ntable = 254\n",
        ":28: selector.routes.table: table 254 is the kernel's main table (got 254)",
    ),
    (
        "influx_retry_min_above_retry_max",
        GOOD + INFLUX + 'retry_min = "10m"\nretry_max = "1m"\n',
        ":29: storage.influxdb.retry_min: cannot be above retry_max (60)",
    ),
    (
        "influx_url_without_scheme",
        GOOD + INFLUX + 'url = "influx:8086"\n',
        ":29: storage.influxdb.url: must be an http:// or https:// URL with a host",
    ),
    (
        "alerts_retry_min_above_retry_max",
        GOOD + '[alerts]\nretry_min = "2m"\n',
        ":28: alerts.retry_min: cannot be above retry_max (60)",
    ),
    (
        "reuse_at_above_suppress_at",
        GOOD + "[selector.antiflap]\nreuse_at = 5\n",
        ":28: selector.antiflap.reuse_at: must be below suppress_at (4)",
    ),
    (
        "webhook_header_not_ascii",
        GOOD + WEBHOOK + 'headers = { "X-Key" = "clé" }\n',
        ":29: alerts.webhooks[0].headers.X-Key: a header value is printable ASCII without "
        "leading or trailing spaces",
    ),
    (
        "webhook_header_name_with_a_space",
        GOOD + WEBHOOK + 'headers = { "X Key" = "v" }\n',
        ":29: alerts.webhooks[0].headers.X Key: not a header name (letters, digits and "
        "!#$%&'*+-.^_`|~)",
    ),
    # Numbers beyond any sane bound, and types TOML has that no key takes.
    (
        "raw_retention_1e300",
        GOOD + "[storage]\nretention_raw = 1e300\n",
        f":28: storage.retention_raw: {CENTURY} (got 1e+300)",
    ),
    (
        "max_size_inf",
        GOOD + "[storage]\nmax_size = inf\n",
        ":28: storage.max_size: a size cannot be above 1PiB (got inf)",
    ),
    (
        "max_size_nan",
        GOOD + "[storage]\nmax_size = nan\n",
        ":28: storage.max_size: a size cannot be negative or NaN (got nan)",
    ),
    (
        "max_size_in_yobibytes",
        GOOD + '[storage]\nmax_size = "99999999TiB"\n',
        ":28: storage.max_size: a size cannot be above 1PiB (got '99999999TiB')",
    ),
    ("tick_inf", agent_line("tick = inf"), f":3: agent.tick: {CENTURY} (got inf)"),
    (
        "tick_400_digits",
        agent_line("tick = " + "9" * 400),
        f":3: agent.tick: {CENTURY} (got {NINES})",
    ),
    (
        "cost_400_digits",
        GOOD.replace('interface = "eth1"', 'interface = "eth1"\ncost = ' + "9" * 400),
        f":8: uplinks[0].cost: Input should be a valid number (got {NINES})",
    ),
    (
        "cost_nan",
        GOOD.replace('interface = "eth1"', 'interface = "eth1"\ncost = nan'),
        ":8: uplinks[0].cost: Input should be a finite number (got nan)",
    ),
    (
        "integer_of_5000_digits",
        agent_line("tick = " + "9" * 5000),
        ": not valid TOML: Exceeds the limit (4300 digits) for integer string conversion: "
        "value has 5000 digits",
    ),
    (
        "tick_a_date",
        agent_line("tick = 1979-05-27"),
        ":3: agent.tick: expected a duration such as '90s' or a number of seconds "
        "(got datetime.date(1979, 5, 27))",
    ),
    (
        "max_size_a_date",
        GOOD + "[storage]\nmax_size = 1979-05-27\n",
        ":28: storage.max_size: expected a size such as '1GiB' or a number of bytes "
        "(got datetime.date(1979, 5, 27))",
    ),
    (
        "path_with_nul",
        GOOD + '[storage]\npath = "/var/lib/a\\u0000b"\n',
        ":28: storage.path: a path cannot hold a NUL character (got '/var/lib/a\\x00b')",
    ),
    (
        "arrays_5000_deep",
        "a = " + "[" * 5000 + "]" * 5000 + "\n",
        ": not valid TOML: arrays or tables nested too deeply",
    ),
    (
        "tables_5000_deep",
        "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n",
        ": not valid TOML: arrays or tables nested too deeply",
    ),
]


def agent_check(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator runs it."""
    argv = borderpath_argv("agent", "check", "--config", str(path), *options)
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize(
    ("text", "message"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_is_one_line_with_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    done = agent_check(path, "--file-only")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"borderpath: {path}{message}\n"


def test_binary_garbage_is_one_line_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_bytes(GOOD.encode()[:40] + bytes(range(256)))
    done = agent_check(path, "--file-only")
    assert done.returncode == 2
    assert done.stderr == f"borderpath: {path}:6: not a text file: byte 0x80 is not UTF-8\n"


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
