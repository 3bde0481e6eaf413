"""The probe plan: every series (uplink, PoP, protocol) with what it takes to send it."""

import dataclasses
import ipaddress

from borderpath.core.protocols import BY_NAME, ProtocolName
from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.config import ProbingConfig


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One (uplink, PoP, protocol): identity by object, so it can key dicts cheaply."""

    uplink: str
    pop: str
    protocol: ProtocolName
    target: str
    """The PoP's address, as text."""
    version: int
    mark: int
    """The uplink's fwmark: every packet of the series carries it."""
    source: str | None
    """The uplink's source address for this family (None: the kernel's choice)."""
    interval: float
    timeout: float
    burst: int
    pop_config: PopConfig

    @property
    def name(self) -> str:
        return f"{self.uplink}/{self.pop}/{self.protocol}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.uplink, self.pop, self.protocol)


def uplink_mark(probing: ProbingConfig, index: int) -> int:
    """The fwmark of the uplink at ``index`` (0-based) in the config."""
    return probing.fwmark_base + index + 1


def uplink_table(probing: ProbingConfig, index: int) -> int:
    return probing.table_base + index + 1


def plan(
    uplinks: list[UplinkConfig],
    pops: list[PopConfig],
    probing: ProbingConfig,
    *,
    only_uplinks: set[str] | None = None,
    only_pops: set[str] | None = None,
    only_protocols: set[str] | None = None,
) -> list[Series]:
    """Every series the config asks for (optionally narrowed), in a stable order."""
    series = []
    for index, uplink in enumerate(uplinks):
        if only_uplinks and uplink.name not in only_uplinks:
            continue
        for pop in pops:
            if only_pops and pop.name not in only_pops:
                continue
            version = ipaddress.ip_address(pop.address).version
            source = next(
                (a for a in (uplink.source, uplink.source6) if a and a.version == version), None
            )
            for protocol in pop.protocols:
                if only_protocols and protocol not in only_protocols:
                    continue
                series.append(
                    Series(
                        uplink=uplink.name,
                        pop=pop.name,
                        protocol=protocol,
                        target=str(pop.address),
                        version=version,
                        mark=uplink_mark(probing, index),
                        source=None if source is None else str(source),
                        interval=probing.interval_of(protocol),
                        timeout=probing.timeout_of(protocol),
                        burst=1 if BY_NAME[protocol].handshake else probing.burst,
                        pop_config=pop,
                    )
                )
    return series
