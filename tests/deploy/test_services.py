"""deploy/systemd and deploy/openwrt: the services run the agent and the responder with
the least they need, systemd scores them so, and the OpenWrt files fit together."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from borderpath.agent.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
MAX_EXPOSURE = 2.5
AGENT_CAPABILITIES = {"CAP_NET_RAW", "CAP_NET_ADMIN"}


def directives(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit's [Service] section, repeated keys in order."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_both_units_are_there() -> None:
    assert [unit.name for unit in UNITS] == [
        "borderpath-agent.service",
        "borderpath-responder.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.stem)
def test_systemd_scores_the_unit_at_most_2_5(unit: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert score, done.stdout + done.stderr
    assert float(score.group(1)) <= MAX_EXPOSURE, done.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.stem)
def test_a_config_mistake_is_not_restarted(unit: Path) -> None:
    # The CLI exits 2 on a bad config: restarting on the same file cannot help.
    service = directives(unit)
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]


def test_the_agent_keeps_exactly_net_raw_and_net_admin_and_netlink() -> None:
    service = directives(DEPLOY / "systemd" / "borderpath-agent.service")
    for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
        assert set(service[key][0].split()) == AGENT_CAPABILITIES
    assert "AF_NETLINK" in service["RestrictAddressFamilies"][0].split()
    # Its capabilities must act on the router's own network, and /proc/sys stay readable.
    for key in ("PrivateNetwork", "PrivateUsers", "ProcSubset"):
        assert key not in service


def test_the_responder_is_bounded_in_memory_tasks_files_and_cpu() -> None:
    service = directives(DEPLOY / "systemd" / "borderpath-responder.service")
    for key in ("MemoryMax", "TasksMax", "LimitNOFILE", "CPUQuota"):
        assert len(service.get(key, [])) == 1, key
    assert service["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]


def init_variable(name: str) -> str:
    text = (DEPLOY / "openwrt" / "borderpath.init").read_text(encoding="utf-8")
    found = re.search(rf"^{name}=(\S+)$", text, re.MULTILINE)
    assert found, name
    return found.group(1)


def test_openwrt_runs_the_agent_unprivileged_with_the_two_capabilities() -> None:
    init = DEPLOY / "openwrt" / "borderpath.init"
    subprocess.run(["sh", "-n", str(init)], check=True)
    text = init.read_text(encoding="utf-8")
    # procd grants capabilities only through ujail; a jail without mounts adds no namespace.
    assert re.search(r"^\tprocd_add_jail borderpath requirejail$", text, re.MULTILINE)
    for param in ('user "$USER"', 'capabilities "$CAPABILITIES"', "no_new_privs 1"):
        assert f"\tprocd_set_param {param}\n" in text
    assert init_variable("USER") == "borderpath"
    assert init_variable("CAPABILITIES") == "/etc/capabilities/borderpath.json"
    sets = json.loads((DEPLOY / "openwrt" / "borderpath.capabilities").read_text())
    assert sorted(sets) == ["ambient", "bounding", "effective", "inheritable", "permitted"]
    assert all(set(caps) == AGENT_CAPABILITIES for caps in sets.values())


def test_the_openwrt_sample_config_loads_and_matches_the_init_script() -> None:
    config = load_config(DEPLOY / "openwrt" / "agent.toml")
    assert str(config.agent.data_dir) == init_variable("DATA_DIR")
    assert init_variable("CONFIG") == "/etc/borderpath/agent.toml"
