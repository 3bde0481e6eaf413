"""Scenario and topology files: good ones load, each mistake gets one line naming it."""

import pytest

from borderpath.core.errors import ConfigError
from borderpath.lab.scenario import initial_conditions, load_scenario
from borderpath.lab.topology import load_topology
from tests.conftest import FileWriter

EXAMPLE = """
name = "example"
duration = "90s"
[defaults]
jitter_ms = 1
[[paths]]
uplink = "ct"
pop = "*"
delay_ms = 30
loss = 0.01
[[events]]
at = "20s"
uplink = "ct"
pop = "*"
direction = "in"
protocol = "any"
loss = 0.15
delay_ms = 90
[[events]]
at = "45s"
uplink = "cu"
pop = "hkg"
blackhole = true
[[events]]
at = "50s"
uplink = "cm"
pop = "*"
inject = "rst"
"""


def test_example_scenario_sets_base_conditions_over_the_topology(
    scenario_file: FileWriter,
) -> None:
    topology = load_topology()
    scenario = load_scenario(scenario_file(EXAMPLE), topology)
    table = initial_conditions(topology, scenario)
    ct_hkg = table.get("ct", "hkg", "in", "udp")
    assert (ct_hkg.delay_ms, ct_hkg.loss, ct_hkg.jitter_ms) == (30, 0.01, 1)
    cu_hkg = table.get("cu", "hkg", "out", "icmp")
    assert cu_hkg.delay_ms == 17  # the topology's own value where the scenario is silent
    assert [event.at for event in scenario.sorted_events()] == [20, 45, 50]


def test_event_changes_only_what_it_selects(scenario_file: FileWriter) -> None:
    topology = load_topology()
    scenario = load_scenario(scenario_file(EXAMPLE), topology)
    table = initial_conditions(topology, scenario)
    table.apply(scenario.sorted_events()[0])
    assert table.get("ct", "nrt", "in", "tcp").loss == 0.15
    assert table.get("ct", "nrt", "in", "tcp").delay_ms == 90
    assert table.get("ct", "nrt", "out", "tcp").delay_ms == 30
    assert table.get("cu", "nrt", "in", "tcp").loss == 0.0015


MISTAKES = [
    (
        "unknown_key",
        "[[paths]]\nuplink = 'ct'\ndelay = 30\n",
        r"scenario.toml:3: paths\[0\]\.delay: unknown key",
    ),
    (
        "unknown_uplink",
        "[[paths]]\nuplink = 'xx'\nloss = 0.1\n",
        r":2: paths\[0\]\.uplink: no uplink named 'xx'",
    ),
    (
        "unknown_pop",
        "[[events]]\nat = '1s'\npop = 'ams'\nloss = 0.1\n",
        r":3: events\[0\]\.pop: no pop named 'ams'",
    ),
    (
        "loss_above_one",
        "[[paths]]\nloss = 1.5\n",
        r":2: paths\[0\]\.loss: .*less than or equal to 1.*1\.5",
    ),
    (
        "negative_delay",
        "[[paths]]\ndelay_ms = -3\n",
        r":2: paths\[0\]\.delay_ms: .*greater than or equal to 0",
    ),
    ("bad_duration", "duration = '90 seconds'\n", r":1: duration: '90 seconds' is not a duration"),
    (
        "bad_event_time",
        "[[events]]\nat = 'soon'\nloss = 0.1\n",
        r":2: events\[0\]\.at: 'soon' is not a duration",
    ),
    (
        "event_without_time",
        "[[events]]\nuplink = 'ct'\nloss = 0.1\n",
        r":1: events\[0\]\.at: required key is missing",
    ),
    (
        "event_changes_nothing",
        "[[events]]\nat = '5s'\nuplink = 'ct'\n",
        r":1: events\[0\]: an event must change",
    ),
    (
        "bad_direction",
        "[[events]]\nat = 1\ndirection = 'up'\nloss = 0.1\n",
        r":3: events\[0\]\.direction: .*'in', 'out' or 'both'",
    ),
    (
        "bad_protocol",
        "[[paths]]\nprotocol = 'sctp'\nloss = 0.1\n",
        r":2: paths\[0\]\.protocol: .*'any', 'icmp', 'tcp' or 'udp'",
    ),
    (
        "bad_inject",
        "[[paths]]\ninject = 'fin'\n",
        r":2: paths\[0\]\.inject: .*'none', 'rst' or 'echo'",
    ),
    (
        "blackhole_not_bool",
        "[[paths]]\nblackhole = 'yes'\n",
        r":2: paths\[0\]\.blackhole: .*valid boolean",
    ),
    (
        "event_after_duration",
        "duration = '10s'\n[[events]]\nat = '20s'\nloss = 0.1\n",
        r"events\[0\] is at 20s, after the scenario's duration of 10s",
    ),
    ("not_toml", "[[events]\nat = 1\n", r"scenario.toml:1: not valid TOML"),
    ("unknown_route", "[[paths]]\nroute = 'cn3'\n", r":2: paths\[0\]\.route: no route named 'cn3'"),
    ("defaults_with_selector", "[defaults]\nuplink = 'ct'\n", r":2: defaults\.uplink: unknown key"),
]


@pytest.mark.parametrize(
    ("text", "message"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_is_one_line_naming_line_and_key(
    scenario_file: FileWriter, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_scenario(scenario_file(text), load_topology())
    assert "\n" not in str(caught.value)


TOPOLOGY_MISTAKES = [
    (
        "reserved_name",
        "name='x'\n[[uplinks]]\nname='lan'\ncarrier='c'\nbackbone='ct-163'\n[[pops]]\nname='hkg'\nregion='HK'\n",
        r"'lan' is reserved",
    ),
    (
        "duplicate_name",
        "name='x'\n[[uplinks]]\nname='ct'\ncarrier='c'\nbackbone='ct-163'\n[[pops]]\nname='ct'\nregion='HK'\n",
        r"'ct' is used twice",
    ),
    (
        "long_name",
        "name='x'\n[[uplinks]]\nname='telecom1'\ncarrier='c'\nbackbone='ct-163'\n[[pops]]\nname='hkg'\nregion='HK'\n",
        r":3: uplinks\[0\]\.name",
    ),
    (
        "unknown_backbone",
        "name='x'\n[[uplinks]]\nname='ct'\ncarrier='c'\nbackbone='ct-999'\n[[pops]]\nname='a'\nregion='HK'\n",
        r":5: uplinks\[0\]\.backbone: no route named 'ct-999'",
    ),
    (
        "no_pops",
        "name='x'\n[[uplinks]]\nname='ct'\ncarrier='c'\nbackbone='ct-163'\n",
        r"pops: required key is missing",
    ),
    (
        "path_to_unknown_pop",
        "name='x'\n[[uplinks]]\nname='ct'\ncarrier='c'\nbackbone='ct-163'\n[[pops]]\nname='hkg'\nregion='HK'\n[[paths]]\npop='ams'\n",
        r":10: paths\[0\]\.pop: no pop named 'ams'",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [m[1:] for m in TOPOLOGY_MISTAKES], ids=[m[0] for m in TOPOLOGY_MISTAKES]
)
def test_topology_mistakes_are_one_line(scenario_file: FileWriter, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_topology(scenario_file(text, "topology.toml"))
