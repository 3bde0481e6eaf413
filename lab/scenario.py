"""Scenario files: the base conditions of a lab and the events that change them in time.

The file format is a contract shared with tests, benchmarks and outside checks; it is
documented in docs/lab.md.
"""

from pathlib import Path
from typing import Self

import pydantic

from borderpath.core.model import Seconds, StrictModel
from borderpath.core.tomlfile import load_model
from borderpath.lab.conditions import ConditionTable, ConditionValues, PathChange
from borderpath.lab.topology import Topology


class Event(PathChange):
    """A change applied ``at`` seconds after the scenario starts, kept until changed."""

    at: Seconds

    @pydantic.model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.changes():
            raise ValueError(
                "an event must change at least one of delay_ms, jitter_ms, loss, "
                "blackhole, rate_kbps, inject"
            )
        return self


class Scenario(StrictModel):
    name: str = "default"
    duration: Seconds | None = None
    """How long the scenario plays; the lab keeps its last state afterwards."""
    defaults: ConditionValues = ConditionValues()
    paths: list[PathChange] = []
    events: list[Event] = []

    @pydantic.model_validator(mode="after")
    def _events_in_time(self) -> Self:
        for index, event in enumerate(self.events):
            if self.duration is not None and event.at > self.duration:
                raise ValueError(
                    f"events[{index}] is at {event.at:g}s, after the scenario's "
                    f"duration of {self.duration:g}s"
                )
        return self

    def sorted_events(self) -> list[Event]:
        return sorted(self.events, key=lambda event: event.at)


def load_scenario(path: Path, topology: Topology) -> Scenario:
    """Read and check a scenario file against the topology it will run on."""
    context = {"uplinks": topology.uplink_names, "pops": topology.pop_names}
    return load_model(path, Scenario, context)


def initial_conditions(topology: Topology, scenario: Scenario) -> ConditionTable:
    """The topology's own conditions, then the scenario's defaults, then its paths."""
    table = ConditionTable(topology.uplink_names, topology.pop_names)
    for change in topology.paths:
        table.apply(change)
    table.apply(PathChange(**scenario.defaults.changes()))
    for change in scenario.paths:
        table.apply(change)
    return table
