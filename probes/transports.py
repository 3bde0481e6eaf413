"""Which transport sends which protocol; the handshake ones are imported only when used."""

from borderpath.probes import wire
from borderpath.probes.icmp import IcmpTransport
from borderpath.probes.series import Series
from borderpath.probes.tcp import TcpTransport
from borderpath.probes.transport import Context, Transport
from borderpath.probes.udp import UdpTransport


def open_transports(context: Context, series: list[Series]) -> dict[str, Transport]:
    """Open one transport per protocol the series use, keyed by protocol name.

    The ICMP socket also reads the errors that answer TCP and UDP probes (a port or
    host unreachable), so it opens whenever any of the three is probed.
    """
    protocols = {s.protocol for s in series}
    timeouts = {s.protocol: s.timeout for s in series}
    transports: dict[str, Transport] = {}
    icmp = IcmpTransport(context, timeouts.get("icmp", 0.0))
    if protocols & {"icmp", "tcp", "udp"}:
        icmp.open([s for s in series if s.protocol in ("icmp", "tcp", "udp")])
        transports["icmp" if "icmp" in protocols else "icmp-errors"] = icmp
    if "tcp" in protocols:
        tcp = TcpTransport(context, timeouts["tcp"])
        icmp.error_handlers[wire.IPPROTO_TCP] = tcp.icmp_error
        transports["tcp"] = tcp
    if "udp" in protocols:
        udp = UdpTransport(context, timeouts["udp"])
        icmp.error_handlers[wire.IPPROTO_UDP] = udp.icmp_error
        transports["udp"] = udp
    if "quic" in protocols:
        from borderpath.probes.quic import QuicTransport

        transports["quic"] = QuicTransport(context)
    if "http" in protocols:
        from borderpath.probes.http import HttpTransport

        transports["http"] = HttpTransport(context)
    for protocol, transport in transports.items():
        if protocol not in ("icmp", "icmp-errors"):
            transport.open([s for s in series if s.protocol == protocol])
    return transports
