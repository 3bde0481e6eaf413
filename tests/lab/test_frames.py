"""Frames on the lab's wires: classified without raising, forged answers well formed."""

import struct

from hypothesis import given
from hypothesis import strategies as st

from borderpath.lab.frames import (
    FORGED_TTL,
    RST_BURST,
    checksum,
    forge,
    ipv4_ttl,
    protocol_class,
    time_exceeded,
    with_ttl,
)

BRANCH_MAC = bytes.fromhex("02000000000a")
CARRIER_MAC = bytes.fromhex("02000000000b")
SOURCE = bytes([100, 64, 1, 2])
DESTINATION = bytes([203, 0, 113, 10])


def ipv4_frame(protocol: int, payload: bytes, ttl: int = 63) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, protocol, 0, SOURCE, DESTINATION
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return CARRIER_MAC + BRANCH_MAC + b"\x08\x00" + header + payload


def ip_parts(frame: bytes) -> tuple[bytes, bytes]:
    return frame[14:34], frame[34:]


def pseudo(header: bytes, length: int) -> bytes:
    return header[12:20] + struct.pack("!BBH", 0, header[9], length)


def test_classes() -> None:
    assert protocol_class(ipv4_frame(1, bytes(8))) == "icmp"
    assert protocol_class(ipv4_frame(6, bytes(20))) == "tcp"
    assert protocol_class(ipv4_frame(17, bytes(8))) == "udp"
    assert protocol_class(ipv4_frame(47, bytes(8))) == "other"
    assert protocol_class(CARRIER_MAC + BRANCH_MAC + b"\x08\x06" + bytes(28)) is None  # ARP
    neighbour_solicitation = (
        b"\x60" + bytes(3) + b"\x00\x20\x3a\xff" + bytes(32) + b"\x87" + bytes(31)
    )
    assert protocol_class(CARRIER_MAC + BRANCH_MAC + b"\x86\xdd" + neighbour_solicitation) is None


def test_forged_rst_answers_the_syn_so_the_kernel_accepts_it() -> None:
    syn = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    forged = forge(ipv4_frame(6, syn))
    assert len(forged) == RST_BURST
    for frame in forged:
        assert frame[:6] == BRANCH_MAC and frame[6:12] == CARRIER_MAC
        header, tcp = ip_parts(frame)
        assert header[8] == FORGED_TTL
        assert (header[12:16], header[16:20]) == (DESTINATION, SOURCE)
        assert checksum(header) == 0
        assert checksum(pseudo(header, len(tcp)) + tcp) == 0
        source_port, destination_port, _, ack, _, flags = struct.unpack("!HHIIBB", tcp[:14])
        assert (source_port, destination_port, ack, flags) == (443, 40000, 1001, 0x14)


def test_forged_echo_reply_copies_identifiers_not_payload() -> None:
    request = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 7) + b"nonce-123"
    reply = forge(ipv4_frame(1, request))[0]
    header, icmp = ip_parts(reply)
    assert header[8] == FORGED_TTL and checksum(header) == 0 and checksum(icmp) == 0
    assert struct.unpack("!BBHHH", icmp[:8])[0::3] == (0, 0x1234) and icmp[6:8] == b"\x00\x07"
    assert icmp[8:] == bytes(len(b"nonce-123"))


def test_forged_udp_echo_keeps_first_bytes_only() -> None:
    data = b"BPE1seq!" + b"timestamp-and-nonce"
    datagram = struct.pack("!HHHH", 5555, 7, 8 + len(data), 0) + data
    header, udp = ip_parts(forge(ipv4_frame(17, datagram))[0])
    assert struct.unpack("!HH", udp[:4]) == (7, 5555)
    assert udp[8:16] == b"BPE1seq!" and udp[16:] == bytes(len(data) - 8)
    assert checksum(pseudo(header, len(udp)) + udp) == 0


def test_no_forgery_for_what_is_no_request() -> None:
    syn_ack = struct.pack("!HHIIBBHHH", 443, 40000, 1, 1001, 5 << 4, 0x12, 100, 0, 0)
    assert forge(ipv4_frame(6, syn_ack)) == []
    assert forge(ipv4_frame(1, struct.pack("!BBHHH", 0, 0, 0, 1, 1))) == []


@given(st.binary(max_size=200))
def test_garbage_never_raises(frame: bytes) -> None:
    protocol_class(frame)
    forge(frame)


@given(st.binary(min_size=0, max_size=60))
def test_truncated_ip_never_raises(payload: bytes) -> None:
    for protocol in (1, 6, 17):
        forge(ipv4_frame(protocol, payload)[: 14 + 20 + len(payload) // 2])


def test_time_exceeded_quotes_the_expired_packet_from_the_router() -> None:
    probe = ipv4_frame(17, struct.pack("!HHHH", 33434, 443, 8, 0), ttl=3)
    router = bytes([198, 18, 1, 19])
    answer = time_exceeded(probe, router, ttl=250)
    header, icmp = ip_parts(answer)
    assert (header[12:16], header[16:20], header[8]) == (router, SOURCE, 250)
    assert checksum(header) == 0 and checksum(icmp) == 0
    assert icmp[:2] == b"\x0b\x00" and icmp[8:] == probe[14 : 14 + 28]


def test_with_ttl_keeps_the_header_valid() -> None:
    frame = with_ttl(ipv4_frame(1, bytes(8), ttl=64), 57)
    header, _ = ip_parts(frame)
    assert ipv4_ttl(frame) == 57 and checksum(header) == 0
    assert ipv4_ttl(CARRIER_MAC + BRANCH_MAC + b"\x08\x06" + bytes(28)) is None
