"""The agent's configuration file: one TOML document, validated as a whole.

Each part of borderpath owns its section's model; this module composes them, checks
what spans sections (unique names, prefixes steered to one PoP only) and loads the
file, turning every mistake into one line naming the file, line and key.
"""

import itertools
from pathlib import Path
from typing import Any, Self

import pydantic

from borderpath.agent.status_api import parse_listen
from borderpath.alerts.config import AlertsConfig
from borderpath.core.model import Seconds, StrictModel
from borderpath.core.tomlfile import load_model
from borderpath.probes.config import PopConfig, ProbingConfig, TraceConfig, UplinkConfig
from borderpath.selector.config import SelectorConfig
from borderpath.storage.config import StorageConfig


class AgentSection(StrictModel):
    """The agent itself: who it is, where it keeps its data, how often it acts."""

    site: str = pydantic.Field(description="This branch's name, a tag on every series.")
    data_dir: Path = pydantic.Field(
        Path("/var/lib/borderpath"), description="Where the agent keeps its store and state."
    )
    tick: Seconds = pydantic.Field(
        0.1,
        gt=0,
        description=(
            "How often the selector re-judges every path and PoP. Detection needs the "
            "probes; this only bounds how late a decision is acted on."
        ),
    )
    snapshot_interval: Seconds = pydantic.Field(
        10.0, gt=0, description="How often every path's health is stored (borderpath_path)."
    )
    housekeeping_interval: Seconds = pydantic.Field(
        10.0, gt=0, description="How often rollups and retention run on the local store."
    )
    reconcile_interval: Seconds = pydantic.Field(
        30.0,
        gt=0,
        description="How often the kernel is compared with what the agent wants and "
        "repaired: the probe tables and rules (a mark or source that changed is "
        "installed again) and every PoP's steering routes and rules, even when no "
        "decision changed (a route deleted by hand is back within this time).",
    )
    warm_start: Seconds = pydantic.Field(
        600.0,
        ge=0,
        description="How many stored results the selector reads back into its windows at "
        "start, so a restart does not forget recent trouble (its daily peak history is read "
        "from the hourly counts of [selector.time_of_day] history_days).",
    )


class StatusConfig(StrictModel):
    listen: str = pydantic.Field(
        "127.0.0.1:19108",
        description="Status API address (/metrics, /status): loopback host:port, or a unix "
        "socket path. Port 19108 lies outside the 9100-9999 range of Prometheus exporters, "
        "whose every port is taken (9108 is graphite_exporter's).",
    )

    @pydantic.field_validator("listen")
    @classmethod
    def _loopback(cls, value: str) -> str:
        parse_listen(value)
        return value


class AgentConfig(StrictModel):
    agent: AgentSection
    uplinks: list[UplinkConfig] = pydantic.Field(min_length=1)
    pops: list[PopConfig] = pydantic.Field(min_length=1)
    probing: ProbingConfig = ProbingConfig()
    trace: TraceConfig = TraceConfig()
    selector: SelectorConfig = SelectorConfig()
    storage: StorageConfig = StorageConfig()
    alerts: AlertsConfig = AlertsConfig()
    status: StatusConfig = StatusConfig()

    @pydantic.field_validator("selector")
    @classmethod
    def _selector_names(cls, selector: SelectorConfig, info: pydantic.ValidationInfo) -> Any:
        """[selector] names uplinks and PoPs (checked here, so the error has its line)."""
        uplinks, pops = info.data.get("uplinks"), info.data.get("pops")
        if uplinks is not None and pops is not None:
            selector.check_names({u.name for u in uplinks}, {p.name for p in pops})
        return selector

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique("uplink", [u.name for u in self.uplinks])
        _unique("PoP", [p.name for p in self.pops])
        for first, second in itertools.combinations(self.pops, 2):
            for a, b in itertools.product(first.prefixes, second.prefixes):
                if a.version == b.version and a.overlaps(b):
                    raise ValueError(
                        f"prefix {b} of PoP {second.name} overlaps {a} of PoP {first.name}"
                    )
        return self

    def uplink(self, name: str) -> UplinkConfig:
        return next(u for u in self.uplinks if u.name == name)

    def pop(self, name: str) -> PopConfig:
        return next(p for p in self.pops if p.name == name)


def _unique(kind: str, names: list[str]) -> None:
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"two {kind}s are named {name!r}; names must be unique")


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent config; a mistake raises ConfigError with file:line: key."""
    return load_model(path, AgentConfig)
