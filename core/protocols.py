"""The probe protocols: one definition each, holding what every part knows about it.

The probes open each protocol's transport (``probes/transports.py`` registers one per
name), storage writes its results in its measurement (``storage/line_protocol.py``
keeps one shape per measurement), the selector and the alerts judge paths by its
traits below. Adding a protocol is one entry here, its transport module in probes,
and their tests.
"""

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Literal

Layer = Literal["icmp", "tcp", "udp"]


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeProtocol:
    """One probe protocol and what its results mean."""

    name: str
    """As written in config files, stored series and tags."""
    measurement: str
    """The InfluxDB measurement of its results (Telegraf's shapes, docs/schema.md)."""
    layer: Layer
    """What carries it across the border: UDP interference hits every ``udp`` one,
    injected RSTs every ``tcp`` one."""
    handshake: bool = False
    """Each probe is a whole handshake: one per step (never a burst), and the alerts
    leave it out of their RTT and jitter."""
    one_round_trip: bool = True
    """Its RTT is one round trip of the path, so the selector ranks paths by it. A QUIC
    probe times a handshake with the PoP's key exchange in it, 2 to 50 ms more than the
    path; an HTTP probe's RTT is its SYN to SYN-ACK."""
    witness: bool = False
    """While it answers, the path itself still carries packets: what tells UDP
    interference from a path that is down."""
    speaks_for: tuple[str, ...] = ()
    """The default SLA classes whose verdict its results judge (voice by UDP, the web
    by TCP, QUIC and HTTP)."""


DEFINITIONS: tuple[ProbeProtocol, ...] = (
    ProbeProtocol("icmp", "ping", "icmp", witness=True),
    ProbeProtocol("tcp", "net_response", "tcp", witness=True, speaks_for=("interactive", "bulk")),
    ProbeProtocol("udp", "net_response", "udp", speaks_for=("voice",)),
    ProbeProtocol(
        "quic",
        "quic_response",
        "udp",
        handshake=True,
        one_round_trip=False,
        speaks_for=("interactive",),
    ),
    ProbeProtocol(
        "http", "http_response", "tcp", handshake=True, speaks_for=("interactive", "bulk")
    ),
)
"""Every protocol, in the order series, windows and tables list them."""

BY_NAME: Mapping[str, ProbeProtocol] = {protocol.name: protocol for protocol in DEFINITIONS}

PROTOCOLS: tuple[str, ...] = tuple(BY_NAME)
"""Every protocol's name, in DEFINITIONS' order."""

if typing.TYPE_CHECKING:
    ProtocolName = str
else:  # built from DEFINITIONS, so config files accept exactly the protocols defined
    ProtocolName = Literal[PROTOCOLS]


def names(trait: Callable[[ProbeProtocol], bool]) -> tuple[str, ...]:
    """The names of the protocols with a trait, in DEFINITIONS' order."""
    return tuple(protocol.name for protocol in DEFINITIONS if trait(protocol))
