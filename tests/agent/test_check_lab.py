"""``agent check`` reads the kernel of the namespace it runs in: a rule or route of
another program on our priorities, tables, marks or protocol is one line naming the
key; what the agent itself installed is not a collision. A namespace of its own, with
two veth ends as the uplinks."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderpath.lab import netns
from borderpath.lab.agent_config import borderpath_argv
from tests.agent.test_config import GOOD

pytestmark = pytest.mark.lab

CONFIG = (
    GOOD.replace('"eth1"', '"up1"')
    .replace('"eth2"', '"up2"')
    .replace('"100.64.1.1"', '"198.18.1.2"')
    .replace('"100.64.2.1"', '"198.18.2.2"')
    + "[probing]\n"
    + "rule_priority = 1000\n"  # line 28
    + "fwmark_base = 0x4250\n"
    + "table_base = 4250\n"
    + "[selector.routes]\n"
    + "rule_priority = 25000\n"  # line 32
    + "table = 7211\n"
    + "proto = 211\n"
)
"""The defaults, written out as an operator might: each key the checks name has a line."""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"bp-check-{os.getpid()}"
    netns.add(name)
    try:
        netns.ip_batch(
            name,
            [
                "link add up1 type veth peer name peer1",
                "link add up2 type veth peer name peer2",
                *(f"link set {link} up" for link in ("up1", "up2", "peer1", "peer2")),
                "address add 198.18.1.1/24 dev up1",
                "address add 198.18.2.1/24 dev up2",
            ],
        )
        yield name
    finally:
        netns.delete(name)


def check_in(namespace: str, config: Path) -> subprocess.CompletedProcess[str]:
    argv = netns.exec_argv(namespace, borderpath_argv("agent", "check", "--config", str(config)))
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


FOREIGN = [
    (
        "rule_on_the_probe_priority",
        "rule add priority 1001 lookup 100",
        ":28: probing.rule_priority: priority 1001 is taken by a rule of another program "
        "(priority 1001, lookup 100)",
    ),
    (
        "rule_on_the_steering_priority",
        "rule add priority 25000 lookup 100",
        ":32: selector.routes.rule_priority: priority 25000 is taken by a rule of another "
        "program (priority 25000, lookup 100)",
    ),
    (
        "rule_looking_up_the_steering_table",
        "rule add priority 500 lookup 7211",
        ":33: selector.routes.table: table 7211 is looked up by a rule of another program "
        "(priority 500, lookup 7211)",
    ),
    (
        "rule_matching_a_probe_mark",
        "rule add priority 900 fwmark 0x4252 lookup 100",
        ":29: probing.fwmark_base: mark 0x4252 is matched by a rule of another program "
        "(priority 900, lookup 100)",
    ),
    (
        "route_in_a_probe_table",
        "route add 198.18.9.0/24 via 198.18.1.2 table 4252",
        ":30: probing.table_base: table 4252 holds routes of another program (protocol 3)",
    ),
    (
        "route_in_the_steering_table",
        "route add 198.18.9.0/24 via 198.18.1.2 table 7211 proto static",
        ":33: selector.routes.table: table 7211 holds routes of another program (protocol 4)",
    ),
    (
        "route_with_our_protocol_in_main",
        "route add 198.18.9.0/24 via 198.18.1.2 proto 211",
        ":34: selector.routes.proto: protocol 211 marks routes in table 254 too",
    ),
]


def test_a_clean_router_and_what_the_agent_installed_are_ok(namespace: str, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG)
    assert check_in(namespace, config).returncode == 0
    route = netns.exec_argv(
        namespace, borderpath_argv("routes", "apply", "--config", str(config), "--via", "hkg=ct")
    )
    subprocess.run(route, capture_output=True, check=True, timeout=60)
    assert "proto 211" in netns.run(["ip", "-n", namespace, "route", "show", "table", "7211"])
    done = check_in(namespace, config)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("command", "message"), [f[1:] for f in FOREIGN], ids=[f[0] for f in FOREIGN]
)
def test_what_another_program_holds_is_one_line_naming_our_key(
    namespace: str, tmp_path: Path, command: str, message: str
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(CONFIG)
    netns.ip_batch(namespace, [command])
    done = check_in(namespace, config)
    assert done.returncode == 2
    assert done.stderr == f"borderpath: {config}{message}\n"
