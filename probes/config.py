"""Configuration of how the probes run: the probing schedule and traces.

Sections of the agent config (``[probing]``, ``[trace]``; the uplinks and PoPs they
probe are in ``borderpath.core.topology``); the agent composes them in
``borderpath.agent.config``. Every field has a default or is required, a unit, and a
sentence: docs/configuration.md lists them.
"""

import ipaddress
from typing import Literal

import pydantic

from borderpath.core.model import Port, Seconds, StrictModel
from borderpath.core.protocols import ProtocolName

TraceProtocol = Literal["tcp", "udp", "icmp"]


TCP_INITIAL_RTO = 1.0
"""Seconds before a TCP stack sends its SYN or SYN-ACK again (RFC 6298, Linux's default)."""


class ProbingConfig(StrictModel):
    """How often and how patiently each series is probed."""

    interval: Seconds = pydantic.Field(1.0, gt=0, description="Time between probes of one series.")
    intervals: dict[ProtocolName, Seconds] = pydantic.Field(
        {"quic": 5.0, "http": 10.0},
        description="Per-protocol intervals that replace 'interval' (seconds or durations); "
        "handshakes cost the PoP more than an echo, so they run less often.",
    )
    timeout: Seconds = pydantic.Field(
        2.0,
        gt=0,
        description="A probe without a genuine answer after this long is lost; set apart "
        "from the interval (cross-border RTTs exceed 300 ms at peak).",
    )
    timeouts: dict[ProtocolName, Seconds] = pydantic.Field(
        {},
        description="Per-protocol timeouts that replace 'timeout'. Without one, tcp waits "
        "at most 1 s: a PoP whose first SYN-ACK was lost sends it again 1 s later (the "
        "initial RTO of RFC 6298), and waiting for that turns one lost packet into a 1 s "
        "'RTT' and a 60 ms jump of the RFC 3550 jitter.",
    )
    burst: int = pydantic.Field(
        1,
        ge=1,
        le=20,
        description="Probes sent per step of an icmp, tcp or udp series (SmokePing-style); "
        "quic and http always send one.",
    )
    burst_spacing: Seconds = pydantic.Field(
        0.005, ge=0, description="Time between the probes of one burst."
    )
    spread: bool = pydantic.Field(
        True,
        description="Offset the series evenly within their interval so they do not all "
        "fire at once.",
    )
    batch_interval: Seconds = pydantic.Field(
        0.1, gt=0, description="How often finished probes are handed on as one batch."
    )
    ttl_tolerance: int = pydantic.Field(
        2,
        ge=0,
        le=64,
        description="Hops by which an answer's TTL may differ from the PoP's recent genuine "
        "answers before it counts as forged (an injected RST has no other tell).",
    )
    fwmark_base: int = pydantic.Field(
        0x4250,
        ge=1,
        le=0xFFFFFF00,
        description="Probe packets of the n-th uplink (from 1) carry fwmark base + n.",
    )
    table_base: int = pydantic.Field(
        4250,
        ge=256,
        le=0xFFFFFF00,
        description="The n-th uplink's probe routing table is base + n (default route via "
        "the uplink and an unreachable guard).",
    )
    rule_priority: int = pydantic.Field(
        1000,
        ge=1,
        le=32000,
        description="Priority of the first probe rule (fwmark and source rules follow it); "
        "it must come before any steering rule.",
    )

    def interval_of(self, protocol: ProtocolName) -> float:
        return self.intervals.get(protocol, self.interval)

    def timeout_of(self, protocol: ProtocolName) -> float:
        if protocol in self.timeouts:
            return self.timeouts[protocol]
        if protocol == "tcp":
            return min(self.timeout, TCP_INITIAL_RTO)
        return self.timeout


class TraceConfig(StrictModel):
    """Traceroute and the border-crossing classifier (``[trace]``)."""

    extra_prefixes: dict[str, str] = pydantic.Field(
        {},
        description=(
            "Hop prefixes of your own (private MPLS, lab ranges) mapped to a backbone "
            "network label such as ct-163 or cu-9929, added to the built-in table."
        ),
    )
    protocol: TraceProtocol = pydantic.Field(
        "tcp", description="How traces probe: tcp (SYN, as Chinese route tools do), udp, icmp."
    )
    port: Port = pydantic.Field(
        443, description="Destination port of tcp traces (udp traces start at 33434)."
    )
    max_hops: int = pydantic.Field(30, ge=1, le=64, description="Highest TTL a trace tries.")
    hop_timeout: Seconds = pydantic.Field(
        1.0, gt=0, description="How long a trace waits for the answers of its probes."
    )
    traces: int = pydantic.Field(
        3, ge=1, le=15, description="Traces merged by majority per hop into one result."
    )
    agree: int = pydantic.Field(
        3,
        ge=1,
        le=50,
        description="Consecutive merged results that must agree before a path's "
        "backbone label changes.",
    )
    interval: Seconds = pydantic.Field(
        600.0,
        gt=0,
        description="Time between traces of one path (agent schedule): the agent traces "
        "one path every interval / paths, but never more often than the longest trace "
        "takes (traces x (hop_timeout + max_hops ms), plus 20 %).",
    )

    @pydantic.field_validator("extra_prefixes")
    @classmethod
    def _prefixes_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for prefix in value:
            try:
                ipaddress.ip_network(prefix)
            except ValueError:
                raise ValueError(f"{prefix!r} is not an IP prefix such as 198.18.1.0/24") from None
        return value
