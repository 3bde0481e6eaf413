"""The transport of every protocol in core/protocols.py: ICMP's is the engine's ICMP
socket, which every engine has; the others are registered in TRANSPORTS, and the
handshake ones (aioquic, httpx) are imported only when a series uses them."""

import importlib
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from borderpath.core.protocols import PROTOCOLS
from borderpath.probes import wire
from borderpath.probes.icmp import IcmpTransport
from borderpath.probes.series import Series
from borderpath.probes.tcp import TcpTransport
from borderpath.probes.transport import Context, Transport
from borderpath.probes.udp import UdpTransport

Opener = Callable[[Context, float], Transport]
"""Makes a protocol's transport from the context and the protocol's timeout."""


def _handshake(module: str, name: str) -> Opener:
    def opener(context: Context, timeout: float) -> Transport:
        transport: type[Transport] = getattr(importlib.import_module(module), name)
        return transport(context)  # a handshake takes each series' timeout itself

    return opener


TRANSPORTS: Mapping[str, Opener] = {
    "tcp": TcpTransport,
    "udp": UdpTransport,
    "quic": _handshake("borderpath.probes.quic", "QuicTransport"),
    "http": _handshake("borderpath.probes.http", "HttpTransport"),
}


@runtime_checkable
class ReadsIcmpErrors(Protocol):
    """A transport whose probes are answered by ICMP errors (a port or host unreachable)
    when they fail: the ICMP socket reads those and hands them on."""

    ip_protocol: int

    def icmp_error(self, message: wire.IcmpMessage, quoted: wire.Quoted) -> None: ...


def open_transports(context: Context, series: list[Series]) -> dict[str, Transport]:
    """Open one transport per protocol the series use, keyed by protocol name.

    The ICMP socket also reads the errors that answer TCP and UDP probes, so it opens
    whenever any of the three is probed (as ``icmp-errors`` when icmp itself is not).
    """
    timeouts = {s.protocol: s.timeout for s in series}
    others = {
        protocol: TRANSPORTS[protocol](context, timeouts[protocol])
        for protocol in PROTOCOLS
        if protocol in timeouts and protocol in TRANSPORTS
    }
    readers = {p: t for p, t in others.items() if isinstance(t, ReadsIcmpErrors)}
    transports: dict[str, Transport] = {}
    if "icmp" in timeouts or readers:
        icmp = IcmpTransport(context, timeouts.get("icmp", 0.0))
        icmp.open([s for s in series if s.protocol == "icmp" or s.protocol in readers])
        for reader in readers.values():
            icmp.error_handlers[reader.ip_protocol] = reader.icmp_error
        transports["icmp" if "icmp" in timeouts else "icmp-errors"] = icmp
    for protocol, transport in others.items():
        transport.open([s for s in series if s.protocol == protocol])
        transports[protocol] = transport
    return transports
