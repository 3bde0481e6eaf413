"""The agent's configuration file: one TOML document, validated as a whole.

Each part of borderpath owns its section's model; this module composes them, checks
what spans sections (unique names, prefixes steered to one PoP only) and loads the
file, turning every mistake into one line naming the file, line and key.
"""

from pathlib import Path
from typing import Any, Self

import pydantic

from borderpath.agent.status_api import parse_listen
from borderpath.alerts.config import AlertsConfig
from borderpath.core.model import FilePath, IPNetwork, LocatedError, Seconds, StrictModel
from borderpath.core.tomlfile import load_model
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.config import ProbingConfig, TraceConfig
from borderpath.probes.plumbing import PROTO as PLUMBING_PROTO
from borderpath.selector.config import RoutesConfig, SelectorConfig
from borderpath.storage.config import StorageConfig


class AgentSection(StrictModel):
    """The agent itself: who it is, where it keeps its data, how often it acts."""

    site: str = pydantic.Field(
        min_length=1, description="This branch's name, a tag on every series."
    )
    data_dir: FilePath = pydantic.Field(
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
        _unique("uplinks", "name", [u.name for u in self.uplinks], "two uplinks are named {!r}")
        _unique("pops", "name", [p.name for p in self.pops], "two PoPs are named {!r}")
        for key in ("source", "source6"):
            _unique(
                "uplinks",
                key,
                [getattr(u, key) for u in self.uplinks],
                "two uplinks have the source {}: the probe rules could not tell them apart",
            )
        _prefixes_apart(self.pops)
        _families_carried(self.uplinks, self.pops)
        _kernel_numbers_apart(len(self.uplinks), self.probing, self.selector.routes)
        return self

    def uplink(self, name: str) -> UplinkConfig:
        return next(u for u in self.uplinks if u.name == name)

    def pop(self, name: str) -> PopConfig:
        return next(p for p in self.pops if p.name == name)


def _unique(section: str, key: str, values: list[Any], problem: str) -> None:
    """The second of two equal values is the mistake, reported at its own line."""
    for index, value in enumerate(values):
        if value is not None and value in values[:index]:
            raise LocatedError(problem.format(value), section, index, key)


def _prefixes_apart(pops: list[PopConfig]) -> None:
    """A prefix steered to two PoPs would get two rules: one PoP's choice would be lost."""
    seen: list[tuple[IPNetwork, PopConfig]] = []
    for index, pop in enumerate(pops):
        for number, prefix in enumerate(pop.prefixes):
            for earlier, owner in seen:
                if prefix.version != earlier.version or not prefix.overlaps(earlier):
                    continue
                if owner is not pop:
                    problem = (
                        f"prefix {prefix} of PoP {pop.name} overlaps {earlier} of PoP {owner.name}"
                    )
                elif prefix == earlier:
                    problem = f"prefix {prefix} is listed twice"
                else:
                    continue  # a PoP may steer a prefix and a part of it
                raise LocatedError(problem, "pops", index, "prefixes", number)
            seen.append((prefix, pop))


def _families_carried(uplinks: list[UplinkConfig], pops: list[PopConfig]) -> None:
    """Every uplink probes every PoP: one without a gateway of the PoP's address family
    has no probe table for it, and its marked probes would leave by the main table."""
    for index, pop in enumerate(pops):
        version = pop.address.version
        for uplink in uplinks:
            gateways = (uplink.gateway, uplink.gateway6)
            if not any(g is not None and g.version == version for g in gateways):
                raise LocatedError(
                    f"uplink {uplink.name} has no IPv{version} gateway to probe this "
                    f"IPv{version} PoP by (give it {'gateway6' if version == 6 else 'gateway'})",
                    "pops",
                    index,
                    "address",
                )


def _kernel_numbers_apart(uplinks: int, probing: ProbingConfig, routes: RoutesConfig) -> None:
    """The probe tables, rules and routes, and the steering ones, must not meet: probes
    must leave by their own uplink whatever the steering says."""
    last_probe_rule = probing.rule_priority + 2 * uplinks - 1
    if last_probe_rule >= routes.rule_priority:
        raise LocatedError(
            f"the probe rules (priorities {probing.rule_priority} to {last_probe_rule}) must "
            f"come before the steering rules (selector.routes.rule_priority "
            f"{routes.rule_priority})",
            "probing",
            "rule_priority",
        )
    tables = range(probing.table_base + 1, probing.table_base + uplinks + 1)
    if routes.table in tables:
        raise LocatedError(
            f"the probe tables ({tables.start} to {tables.stop - 1}) include the steering "
            f"table (selector.routes.table {routes.table})",
            "probing",
            "table_base",
        )
    if routes.proto == PLUMBING_PROTO:
        raise LocatedError(
            f"protocol {PLUMBING_PROTO} marks the probe routes; the steering routes need another",
            "selector",
            "routes",
            "proto",
        )


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent config; a mistake raises ConfigError with file:line: key."""
    return load_model(path, AgentConfig)
