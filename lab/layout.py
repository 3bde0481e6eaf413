"""Where a lab keeps its files: one directory per lab name, removed by ``lab down``.

    <root>/<name>/topology.toml   the topology the lab was built from (a copy)
    <root>/<name>/scenario.toml   the scenario it plays (a copy)
    <root>/<name>/engine.json     the engine's state: events applied, conditions, counters
    <root>/<name>/engine.log      what the engine said
    <root>/<name>/control.sock    where ``lab apply`` sends new events
    <root>/<name>/agent/          the store of the lab's agent (``lab agent-config``'s data_dir)

The root is /run/borderpath-lab, or $BORDERPATH_LAB_DIR.
"""

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from borderpath.core.errors import ConfigError, LabError
from borderpath.lab.scenario import Scenario, load_scenario
from borderpath.lab.topology import DEFAULT_TOPOLOGY, LabPlan, load_topology, plan

DEFAULT_NAME = "bplab"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def lab_root() -> Path:
    return Path(os.environ.get("BORDERPATH_LAB_DIR", "/run/borderpath-lab"))


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"--name {name!r}: a lab name is 1 to 12 lower-case letters and digits, "
            "starting with a letter (it prefixes every namespace)"
        )
    return name


class LabFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.topology = directory / "topology.toml"
        self.scenario = directory / "scenario.toml"
        self.engine_state = directory / "engine.json"
        self.engine_log = directory / "engine.log"
        self.control = directory / "control.sock"
        self.agent_data = directory / "agent"

    @classmethod
    def of(cls, name: str) -> "LabFiles":
        return cls(lab_root() / check_name(name))

    @property
    def name(self) -> str:
        return self.directory.name

    def exists(self) -> bool:
        return self.topology.exists()

    def create(self, topology: Path | None, scenario: Path | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(topology or DEFAULT_TOPOLOGY, self.topology)
        if scenario is None:
            self.scenario.write_text('name = "default"\n', encoding="utf-8")
        else:
            shutil.copyfile(scenario, self.scenario)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def load_plan(self) -> tuple[LabPlan, Scenario]:
        if not self.exists():
            raise LabError(
                f"there is no lab named {self.name!r} (start one with 'borderpath lab up')"
            )
        topology = load_topology(self.topology)
        return plan(self.name, topology), load_scenario(self.scenario, topology)

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        """Atomically: a reader sees the old file or the new one, never half of one."""
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        temporary.replace(path)
