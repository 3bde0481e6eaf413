"""Configuration of what is probed: uplinks, PoPs, the probing schedule and traces.

Sections of the agent config (``[[uplinks]]``, ``[[pops]]``, ``[probing]``, ``[trace]``);
the agent composes them in ``borderpath.agent.config``. Every field has a default or is
required, a unit, and a sentence: docs/configuration.md lists them.
"""

import ipaddress
from typing import Annotated, Literal

import pydantic

from borderpath.core.model import (
    FilePath,
    IPAddress,
    IPNetwork,
    IPv6Address,
    LocatedError,
    Name,
    Seconds,
    StrictModel,
)

Protocol = Literal["icmp", "tcp", "udp", "quic", "http"]
TraceProtocol = Literal["tcp", "udp", "icmp"]
Port = Annotated[int, pydantic.Field(ge=1, le=65535)]


class UplinkConfig(StrictModel):
    """One carrier uplink of the branch router."""

    name: Name = pydantic.Field(description="Short name, used in series, routes and alerts.")
    carrier: str = pydantic.Field(
        description="Carrier, e.g. china-telecom, china-unicom, china-mobile."
    )
    interface: str = pydantic.Field(
        pattern=r"^[^\s/:\x00]{1,15}$",
        description="The router's interface on this uplink.",
    )
    gateway: IPAddress = pydantic.Field(description="Next hop on this uplink.")
    source: IPAddress | None = pydantic.Field(
        None, description="Source address of probes on this uplink (default: the interface's)."
    )
    cost: float = pydantic.Field(
        1.0, ge=0, description="Relative cost, used by the 'cheapest' strategy."
    )
    gateway6: IPv6Address | None = pydantic.Field(
        None, description="IPv6 next hop on this uplink, if it carries IPv6 (probes to IPv6 PoPs)."
    )
    source6: IPv6Address | None = pydantic.Field(
        None, description="IPv6 source address of probes on this uplink (default: the kernel's)."
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
        min_length=1,
        description="Protocols probed on every path to this PoP.",
    )
    tcp_port: Port = pydantic.Field(
        443, description="TCP port whose SYN to SYN-ACK time the tcp probe measures."
    )
    udp_port: Port = pydantic.Field(
        862, description="UDP port of the responder's echo (the udp probe)."
    )
    quic_port: Port = pydantic.Field(
        443, description="UDP port of the responder's QUIC endpoint (the quic probe)."
    )
    http_port: Port = pydantic.Field(
        443, description="TCP port of the responder's HTTPS health endpoint (the http probe)."
    )
    http_path: str = pydantic.Field(
        "/health", pattern=r"^/", description="Path of the HTTPS health URL (the http probe)."
    )
    tls_server_name: str = pydantic.Field(
        "borderpath-pop",
        description="TLS server name (SNI) sent by the quic and http probes and checked "
        "against the PoP's certificate.",
    )
    tls_ca_file: FilePath | None = pydantic.Field(
        None,
        description="PEM file of the CA (or the self-signed certificate itself) that signs "
        "the responder's certificate; default: the system's CAs.",
    )
    tls_fingerprint: str | None = pydantic.Field(
        None,
        pattern=r"^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$",
        description="SHA-256 fingerprint of the responder's certificate (hex, colons "
        "optional); when set, only this certificate is accepted and no CA is checked.",
    )

    @pydantic.field_validator("protocols")
    @classmethod
    def _each_once(cls, protocols: list[Protocol]) -> list[Protocol]:
        for index, protocol in enumerate(protocols):
            if protocol in protocols[:index]:
                raise LocatedError(f"{protocol} is listed twice", index)
        return protocols

    @property
    def fingerprint(self) -> bytes | None:
        """The pinned SHA-256 fingerprint as bytes, if any."""
        if self.tls_fingerprint is None:
            return None
        return bytes.fromhex(self.tls_fingerprint.replace(":", ""))


TCP_INITIAL_RTO = 1.0
"""Seconds before a TCP stack sends its SYN or SYN-ACK again (RFC 6298, Linux's default)."""


class ProbingConfig(StrictModel):
    """How often and how patiently each series is probed."""

    interval: Seconds = pydantic.Field(1.0, gt=0, description="Time between probes of one series.")
    intervals: dict[Protocol, Seconds] = pydantic.Field(
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
    timeouts: dict[Protocol, Seconds] = pydantic.Field(
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

    def interval_of(self, protocol: Protocol) -> float:
        return self.intervals.get(protocol, self.interval)

    def timeout_of(self, protocol: Protocol) -> float:
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
