"""The branch's uplinks and its PoPs (``[[uplinks]]``, ``[[pops]]``): what the probes,
storage, the selector and the alerts all know of the network they work on.

The agent composes them in ``borderpath.agent.config``. Every field has a default or is
required, a unit, and a sentence: docs/configuration.md lists them.
"""

from typing import Annotated

import pydantic

from borderpath.core import keyfile
from borderpath.core.model import (
    FilePath,
    IPAddress,
    IPNetwork,
    IPv6Address,
    LocatedError,
    Name,
    Port,
    StrictModel,
)
from borderpath.core.protocols import PROTOCOLS, ProtocolName

KeyFile = Annotated[FilePath | None, pydantic.AfterValidator(keyfile.checked)]
"""A key file checked when the config loads (core/keyfile.py)."""


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
    protocols: list[ProtocolName] = pydantic.Field(
        list(PROTOCOLS),
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
    key_file: KeyFile = pydantic.Field(
        None,
        description="File holding the PoP's UDP echo key in hex (openssl rand -hex 32; 16 to "
        "32 bytes), the same as the responder's key_file: udp probes then carry a MAC and an "
        "answer whose MAC fails counts as forged. Default: unauthenticated echo.",
    )

    @pydantic.field_validator("protocols")
    @classmethod
    def _each_once(cls, protocols: list[ProtocolName]) -> list[ProtocolName]:
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
