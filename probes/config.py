"""Configuration of what is probed: uplinks, PoPs and the probing schedule.

Sections of the agent config (``[[uplinks]]``, ``[[pops]]``, ``[probing]``); the agent
composes them in ``borderpath.agent.config``. Every field has a default or is
required, a unit, and a sentence: docs/configuration.md lists them.
"""

import ipaddress
from typing import Literal

import pydantic

from borderpath.core.model import Name, Seconds, StrictModel

Protocol = Literal["icmp", "tcp", "udp", "quic", "http"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UplinkConfig(StrictModel):
    """One carrier uplink of the branch router."""

    name: Name = pydantic.Field(description="Short name, used in series, routes and alerts.")
    carrier: str = pydantic.Field(
        description="Carrier, e.g. china-telecom, china-unicom, china-mobile."
    )
    interface: str = pydantic.Field(description="The router's interface on this uplink.")
    gateway: IPAddress = pydantic.Field(description="Next hop on this uplink.")
    source: IPAddress | None = pydantic.Field(
        None, description="Source address of probes on this uplink (default: the interface's)."
    )
    cost: float = pydantic.Field(
        1.0, ge=0, description="Relative cost, used by the 'cheapest' strategy."
    )


class PopConfig(StrictModel):
    """One offshore PoP: what is probed, and which prefixes are steered to it."""

    name: Name = pydantic.Field(description="Short name, e.g. hkg.")
    region: str = pydantic.Field("", description="Region or country code, e.g. HK.")
    address: IPAddress = pydantic.Field(
        description="The PoP responder's address, probed on every uplink."
    )
    prefixes: list[IPNetwork] = pydantic.Field(
        [], description="Destination prefixes whose traffic is steered to the PoP's best path."
    )
    protocols: list[Protocol] = pydantic.Field(
        ["icmp", "tcp", "udp", "quic", "http"],
        description="Protocols probed on every path to this PoP.",
    )


class ProbingConfig(StrictModel):
    """How often and how patiently each series is probed."""

    interval: Seconds = pydantic.Field(1.0, gt=0, description="Time between probes of one series.")
    timeout: Seconds = pydantic.Field(
        2.0, gt=0, description="A probe without a genuine answer after this long is lost."
    )


class TraceConfig(StrictModel):
    """Traceroute and the border-crossing classifier (``[trace]``)."""

    extra_prefixes: dict[str, str] = pydantic.Field(
        {},
        description=(
            "Hop prefixes of your own (private MPLS, lab ranges) mapped to a backbone "
            "network label such as ct-163 or cu-9929, added to the built-in table."
        ),
    )
