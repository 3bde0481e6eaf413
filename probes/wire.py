"""Probe packets as bytes: build requests, parse answers. No sockets, no clock.

Every parser takes whatever the kernel handed over and returns a small record or
``None``: truncated, mis-summed or foreign packets are the network's business, not an
exception (the transports count the ``None`` as malformed). The parsers are fuzzed in
tests/probes/test_wire.py.
"""

import dataclasses
import hashlib
import hmac
import ipaddress
import socket
import struct
import sys
from array import array

ICMP4_ECHO_REQUEST, ICMP4_ECHO_REPLY = 8, 0
ICMP4_UNREACHABLE, ICMP4_TIME_EXCEEDED = 3, 11
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ICMP6_UNREACHABLE, ICMP6_TIME_EXCEEDED = 1, 3
ICMP4_PORT_UNREACHABLE, ICMP6_PORT_UNREACHABLE = 3, 4
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10
TCP_MSS = 1460

ECHO_MAGIC = b"bpth"
"""First bytes of our ICMP echo payload; the per-probe nonce follows."""
NONCE_BYTES = 8

UDP_MAGIC = b"BP"
UDP_VERSION = 1
UDP_REQUEST, UDP_REPLY = 1, 2
_UDP_HEADER = struct.Struct("!2sBBIQQI")
"""magic, version, type, seq | nonce, send time (ns), the responder's dwell (µs):
identifiers first, so a forger that copies the first 8 bytes still cannot know the
nonce; the dwell (time from the responder's kernel receiving the request to its reply
leaving) is taken off the RTT, as TWAMP does."""
UDP_ECHO_SIZE = _UDP_HEADER.size
UDP_TAG_BYTES = 16
"""The MAC a keyed echo carries after its header (BLAKE2s, 128 bits)."""

_ICMP_ECHO = struct.Struct("!BBHHH")
_TCP = struct.Struct("!HHIIBBHHH")


class Kind:
    """What an ICMP message means to a probe."""

    ECHO_REPLY = "echo-reply"
    UNREACHABLE = "unreachable"
    TIME_EXCEEDED = "time-exceeded"


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``, as the 16-bit value to put on the wire."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array("H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    result = ~total & 0xFFFF
    return result if sys.byteorder == "big" else ((result & 0xFF) << 8) | (result >> 8)


# --- ICMP echo -----------------------------------------------------------------------


def echo_request(version: int, ident: int, seq: int, nonce: bytes) -> bytes:
    """An ICMP (v4) or ICMPv6 echo request; the kernel sums ICMPv6 itself."""
    kind = ICMP4_ECHO_REQUEST if version == 4 else ICMP6_ECHO_REQUEST
    packet = _ICMP_ECHO.pack(kind, 0, 0, ident, seq) + ECHO_MAGIC + nonce
    if version == 6:
        return packet
    return packet[:2] + struct.pack("!H", checksum(packet)) + packet[4:]


def echo_nonce(payload: bytes) -> bytes | None:
    """The nonce carried by one of our echo payloads, or None if it is not ours."""
    if len(payload) != len(ECHO_MAGIC) + NONCE_BYTES or not payload.startswith(ECHO_MAGIC):
        return None
    return payload[len(ECHO_MAGIC) :]


@dataclasses.dataclass(frozen=True, slots=True)
class Quoted:
    """The start of our own packet, quoted by an ICMP error: enough to find the probe."""

    protocol: int
    destination: str
    first: int
    """ICMP identifier, or the TCP/UDP source port."""
    second: int
    """ICMP sequence, or the TCP/UDP destination port."""
    tcp_seq: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class IcmpMessage:
    """An echo reply or an error message, with the TTL (hop limit) it arrived with."""

    kind: str
    source: str
    ttl: int
    code: int = 0
    ident: int = 0
    seq: int = 0
    payload: bytes = b""
    quoted: Quoted | None = None


def parse_icmp4(packet: bytes) -> IcmpMessage | None:
    """An IPv4 packet as a raw ICMP socket reads it (IP header included)."""
    header = _ipv4_header(packet)
    if header is None:
        return None
    length, protocol, ttl, source, _ = header
    icmp = packet[length:]
    if protocol != IPPROTO_ICMP or len(icmp) < 8 or checksum(icmp) != 0:
        return None
    kind, code, _, ident, seq = _ICMP_ECHO.unpack_from(icmp)
    if kind == ICMP4_ECHO_REPLY:
        return IcmpMessage(Kind.ECHO_REPLY, source, ttl, code, ident, seq, icmp[8:])
    error = {ICMP4_UNREACHABLE: Kind.UNREACHABLE, ICMP4_TIME_EXCEEDED: Kind.TIME_EXCEEDED}
    if kind not in error:
        return None
    return IcmpMessage(error[kind], source, ttl, code, quoted=_quoted4(icmp[8:]))


def parse_icmp6(data: bytes, source: str, hop_limit: int) -> IcmpMessage | None:
    """An ICMPv6 message as a raw ICMPv6 socket reads it (the kernel checked its sum)."""
    if len(data) < 8:
        return None
    kind, code, _, ident, seq = _ICMP_ECHO.unpack_from(data)
    if kind == ICMP6_ECHO_REPLY:
        return IcmpMessage(Kind.ECHO_REPLY, source, hop_limit, code, ident, seq, data[8:])
    error = {ICMP6_UNREACHABLE: Kind.UNREACHABLE, ICMP6_TIME_EXCEEDED: Kind.TIME_EXCEEDED}
    if kind not in error:
        return None
    return IcmpMessage(error[kind], source, hop_limit, code, quoted=_quoted6(data[8:]))


def _quoted4(inner: bytes) -> Quoted | None:
    header = _ipv4_header(inner)
    if header is None:
        return None
    length, protocol, _, _, destination = header
    return _quoted_transport(protocol, destination, inner[length:])


def _quoted6(inner: bytes) -> Quoted | None:
    if len(inner) < 40 or inner[0] >> 4 != 6:
        return None
    destination = socket.inet_ntop(socket.AF_INET6, inner[24:40])
    return _quoted_transport(inner[6], destination, inner[40:])


def _quoted_transport(protocol: int, destination: str, transport: bytes) -> Quoted | None:
    if len(transport) < 8:
        return None
    first, second = struct.unpack_from("!HH", transport, 4 if protocol in _ICMPS else 0)
    tcp_seq = struct.unpack_from("!I", transport, 4)[0] if protocol == IPPROTO_TCP else 0
    return Quoted(protocol, destination, first, second, tcp_seq)


_ICMPS = (IPPROTO_ICMP, IPPROTO_ICMPV6)


def _ipv4_header(packet: bytes) -> tuple[int, int, int, str, str] | None:
    """(header length, protocol, TTL, source, destination) of a sound IPv4 header.

    The kernel has checked the header sum of what a raw socket reads; a quoted header
    is not checked (routers may have rewritten it)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    length = (packet[0] & 0x0F) * 4
    if length < 20 or len(packet) < length:
        return None
    return (
        length,
        packet[9],
        packet[8],
        socket.inet_ntoa(packet[12:16]),
        socket.inet_ntoa(packet[16:20]),
    )


# --- TCP SYN probes ------------------------------------------------------------------


def tcp_syn(source: str, destination: str, source_port: int, port: int, seq: int) -> bytes:
    """A TCP SYN (with an MSS option) to send on a raw socket; the kernel adds the IP header.

    The checksum is computed here for IPv4; for IPv6 the socket's IPV6_CHECKSUM option
    makes the kernel fill it in (and check it on what it receives).
    """
    options = struct.pack("!BBH", 2, 4, TCP_MSS)
    segment = _TCP.pack(source_port, port, seq, 0, (5 + 1) << 4, TCP_SYN, 64240, 0, 0) + options
    if ipaddress.ip_address(destination).version == 6:
        return segment
    pseudo = _pseudo_header(source, destination, len(segment))
    return segment[:16] + struct.pack("!H", checksum(pseudo + segment)) + segment[18:]


@dataclasses.dataclass(frozen=True, slots=True)
class TcpSegment:
    """The part of an answer to a SYN that tells a SYN-ACK from a refusal from a forgery."""

    source: str
    source_port: int
    destination_port: int
    seq: int
    ack: int
    flags: int
    ttl: int


def parse_tcp4(packet: bytes) -> TcpSegment | None:
    """An IPv4 TCP packet as a raw TCP socket reads it (IP header included, sum unchecked)."""
    header = _ipv4_header(packet)
    if header is None:
        return None
    length, protocol, ttl, source, destination = header
    segment = packet[length:]
    if protocol != IPPROTO_TCP or len(segment) < 20:
        return None
    if checksum(_pseudo_header(source, destination, len(segment)) + segment) != 0:
        return None
    return _segment(segment, source, ttl)


def parse_tcp6(segment: bytes, source: str, hop_limit: int) -> TcpSegment | None:
    """An IPv6 TCP segment as a raw TCP socket with IPV6_CHECKSUM reads it (sum checked)."""
    if len(segment) < 20:
        return None
    return _segment(segment, source, hop_limit)


def _segment(segment: bytes, source: str, ttl: int) -> TcpSegment:
    source_port, destination_port, seq, ack, _, flags, *_ = _TCP.unpack_from(segment)
    return TcpSegment(source, source_port, destination_port, seq, ack, flags, ttl)


def _pseudo_header(source: str, destination: str, length: int) -> bytes:
    return (
        socket.inet_aton(source)
        + socket.inet_aton(destination)
        + struct.pack("!BBH", 0, IPPROTO_TCP, length)
    )


# --- UDP echo --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class UdpEcho:
    """One datagram of our UDP echo protocol."""

    kind: int
    seq: int
    nonce: int
    sent_ns: int
    dwell_us: int = 0
    authentic: bool = True
    """Its MAC verified under the key it was parsed with; with no key: it carried none."""


def udp_echo(
    kind: int, seq: int, nonce: int, sent_ns: int, dwell_us: int = 0, *, key: bytes | None = None
) -> bytes:
    """A request or reply; with a key, its MAC (UDP_TAG_BYTES) follows the header."""
    header = _UDP_HEADER.pack(UDP_MAGIC, UDP_VERSION, kind, seq, nonce, sent_ns, dwell_us)
    return header if key is None else header + udp_tag(key, header)


def udp_tag(key: bytes, header: bytes) -> bytes:
    """The keyed BLAKE2s MAC of a header: type, sequence, nonce, send time and dwell, so
    a forger can neither answer nor turn a request into a reply, nor shift the times."""
    return hashlib.blake2s(header, key=key, digest_size=UDP_TAG_BYTES).digest()


def parse_udp_echo(data: bytes, key: bytes | None = None) -> UdpEcho | None:
    """Our echo, keyed or not; ``authentic`` tells whether it matches ``key``."""
    if len(data) not in (UDP_ECHO_SIZE, UDP_ECHO_SIZE + UDP_TAG_BYTES):
        return None
    header, tag = data[:UDP_ECHO_SIZE], data[UDP_ECHO_SIZE:]
    magic, version, kind, seq, nonce, sent_ns, dwell_us = _UDP_HEADER.unpack(header)
    if magic != UDP_MAGIC or version != UDP_VERSION or kind not in (UDP_REQUEST, UDP_REPLY):
        return None
    if key is None:
        authentic = not tag
    else:
        authentic = bool(tag) and hmac.compare_digest(tag, udp_tag(key, header))
    return UdpEcho(kind, seq, nonce, sent_ns, dwell_us, authentic)


def udp_echo_reply(request: bytes, dwell_us: int = 0, key: bytes | None = None) -> bytes | None:
    """The responder's answer: the same fields marked as a reply, MAC'd with ``key`` if
    the request was (never larger than the request, so the echo cannot amplify); None
    for anything that is not a request authentic under ``key``."""
    parsed = parse_udp_echo(request, key)
    if parsed is None or parsed.kind != UDP_REQUEST or not parsed.authentic:
        return None
    dwell = min(max(dwell_us, 0), 0xFFFFFFFF)
    return udp_echo(UDP_REPLY, parsed.seq, parsed.nonce, parsed.sent_ns, dwell, key=key)
