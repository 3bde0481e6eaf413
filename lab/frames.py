"""Reading and forging Ethernet frames on the lab's wires, without any I/O.

The impairment engine only needs a frame's protocol class (to pick its conditions)
and, for injection, enough of its headers to forge the answer a censor would send.
A frame that cannot be parsed is simply "other": the wire never raises.
"""

import array
import os
import struct
import sys

ETH_HEADER = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10

FORGED_TTL = 113
"""The TTL forged packets carry: far from the 64 - hops a Linux PoP's packets arrive with."""
RST_BURST = 3
"""Injected resets come in threes, as they do at the border."""
UDP_ECHO_IDENTIFIERS = 8
"""Bytes of a UDP probe's payload a forged echo copies (magic, version, sequence)."""

_PROTOCOL_CLASS = {
    IPPROTO_ICMP: "icmp",
    IPPROTO_ICMPV6: "icmp",
    IPPROTO_TCP: "tcp",
    IPPROTO_UDP: "udp",
}


def protocol_class(frame: bytes) -> str | None:
    """'icmp', 'tcp', 'udp' or 'other' for an IP frame; None for ARP and neighbour discovery.

    Frames that are not IP, and IPv6 neighbour discovery, are link housekeeping: they
    pass a blackholed wire untouched, as they would on a real link whose far side is dead.
    """
    if len(frame) < ETH_HEADER + 1:
        return "other"
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == ETHERTYPE_IPV4 and len(frame) >= ETH_HEADER + 20:
        return _PROTOCOL_CLASS.get(frame[ETH_HEADER + 9], "other")
    if ethertype == ETHERTYPE_IPV6 and len(frame) >= ETH_HEADER + 40:
        next_header = frame[ETH_HEADER + 6]
        if next_header == IPPROTO_ICMPV6 and len(frame) > ETH_HEADER + 40:
            icmp_type = frame[ETH_HEADER + 40]
            if 133 <= icmp_type <= 137:
                return None
        return _PROTOCOL_CLASS.get(next_header, "other")
    return None


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    result = ~total & 0xFFFF
    return result if sys.byteorder == "big" else ((result & 0xFF) << 8) | (result >> 8)


def forge(frame: bytes) -> list[bytes]:
    """The forged answers a censor would inject for this request (none if it is no request).

    A TCP SYN gets a burst of RST+ACKs that the kernel would accept; an ICMP echo request
    gets an echo reply with its identifier and sequence but not its payload; a UDP
    datagram gets an echo that copies the first bytes (our probes' identifiers) and not
    the rest. Every forged packet carries FORGED_TTL.
    """
    ip = _ipv4(frame)
    if ip is None:
        return []
    header_length, protocol, source, destination = ip
    payload = frame[ETH_HEADER + header_length :]
    reply_eth = frame[6:12] + frame[0:6] + frame[12:14]
    if (
        protocol == IPPROTO_TCP
        and len(payload) >= 20
        and payload[13] & TCP_SYN
        and not payload[13] & TCP_ACK
    ):
        return [reply_eth + _forged_rst(source, destination, payload, n) for n in range(RST_BURST)]
    if protocol == IPPROTO_ICMP and len(payload) >= 8 and payload[0] == ICMP_ECHO_REQUEST:
        body = payload[4:8] + bytes(len(payload) - 8)
        icmp = struct.pack("!BBH", ICMP_ECHO_REPLY, 0, 0) + body
        icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
        return [reply_eth + _ipv4_header(destination, source, IPPROTO_ICMP, icmp)]
    if protocol == IPPROTO_UDP and len(payload) >= 8:
        data = payload[8:]
        body = data[:UDP_ECHO_IDENTIFIERS] + bytes(max(0, len(data) - UDP_ECHO_IDENTIFIERS))
        udp = _udp(destination, source, payload[2:4], payload[0:2], body)
        return [reply_eth + _ipv4_header(destination, source, IPPROTO_UDP, udp)]
    return []


def _ipv4(frame: bytes) -> tuple[int, int, bytes, bytes] | None:
    if len(frame) < ETH_HEADER + 20 or int.from_bytes(frame[12:14], "big") != ETHERTYPE_IPV4:
        return None
    version_ihl = frame[ETH_HEADER]
    header_length = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_length < 20 or len(frame) < ETH_HEADER + header_length:
        return None
    start = ETH_HEADER
    return (
        header_length,
        frame[start + 9],
        frame[start + 12 : start + 16],
        frame[start + 16 : start + 20],
    )


def _ipv4_header(
    source: bytes, destination: bytes, protocol: int, payload: bytes, ttl: int = FORGED_TTL
) -> bytes:
    identification = int.from_bytes(os.urandom(2), "big")
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        identification,
        0,
        ttl,
        protocol,
        0,
        source,
        destination,
    )
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def _pseudo_header(source: bytes, destination: bytes, protocol: int, length: int) -> bytes:
    return source + destination + struct.pack("!BBH", 0, protocol, length)


def _forged_rst(source: bytes, destination: bytes, syn: bytes, index: int) -> bytes:
    source_port, destination_port, sequence = struct.unpack("!HHI", syn[:8])
    acknowledgement = (sequence + 1) & 0xFFFFFFFF
    window = 0 if index == 0 else 1024 * index
    tcp = struct.pack(
        "!HHIIBBHHH",
        destination_port,
        source_port,
        0,
        acknowledgement,
        5 << 4,
        TCP_RST | TCP_ACK,
        window,
        0,
        0,
    )
    pseudo = _pseudo_header(destination, source, IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    return _ipv4_header(destination, source, IPPROTO_TCP, tcp)


def _udp(
    source: bytes, destination: bytes, source_port: bytes, destination_port: bytes, body: bytes
) -> bytes:
    length = 8 + len(body)
    udp = source_port + destination_port + struct.pack("!HH", length, 0) + body
    value = checksum(_pseudo_header(source, destination, IPPROTO_UDP, length) + udp) or 0xFFFF
    return udp[:6] + struct.pack("!H", value) + udp[8:]


def ipv4_ttl(frame: bytes) -> int | None:
    """The TTL of an IPv4 frame, None for anything else."""
    return frame[ETH_HEADER + 8] if _ipv4(frame) is not None else None


def with_ttl(frame: bytes, ttl: int) -> bytes:
    """The same IPv4 frame with another TTL and a header checksum to match."""
    header_length = (frame[ETH_HEADER] & 0x0F) * 4
    header = bytearray(frame[ETH_HEADER : ETH_HEADER + header_length])
    header[8] = ttl
    header[10:12] = b"\0\0"
    header[10:12] = struct.pack("!H", checksum(bytes(header)))
    return frame[:ETH_HEADER] + bytes(header) + frame[ETH_HEADER + header_length :]


def time_exceeded(frame: bytes, router: bytes, ttl: int) -> bytes:
    """The ICMP time-exceeded a router at ``router`` sends back for this IPv4 frame."""
    header_length = (frame[ETH_HEADER] & 0x0F) * 4
    quoted = frame[ETH_HEADER : ETH_HEADER + header_length + 8]
    icmp = struct.pack("!BBHI", ICMP_TIME_EXCEEDED, 0, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    source = frame[ETH_HEADER + 12 : ETH_HEADER + 16]
    reply_eth = frame[6:12] + frame[0:6] + frame[12:14]
    return reply_eth + _ipv4_header(router, source, IPPROTO_ICMP, icmp, ttl)
