"""Probe packets: what we build parses back, and nothing the network sends can raise."""

import struct

from hypothesis import given
from hypothesis import strategies as st

from borderpath.probes import wire


def _ipv4(payload: bytes, protocol: int, ttl: int = 63, source: str = "203.0.113.10") -> bytes:
    parts = [int(x) for x in source.split(".")]
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        1,
        0,
        ttl,
        protocol,
        0,
        bytes(parts),
        bytes([100, 64, 1, 2]),
    )
    header = header[:10] + struct.pack("!H", wire.checksum(header)) + header[12:]
    return header + payload


def _echo_reply(ident: int, seq: int, nonce: bytes) -> bytes:
    request = wire.echo_request(4, ident, seq, nonce)
    reply = bytes([wire.ICMP4_ECHO_REPLY]) + request[1:2] + b"\0\0" + request[4:]
    return reply[:2] + struct.pack("!H", wire.checksum(reply)) + reply[4:]


def test_an_echo_reply_parses_with_its_identifiers_nonce_and_ttl() -> None:
    packet = _ipv4(_echo_reply(0x1234, 7, b"N" * 8), wire.IPPROTO_ICMP, ttl=55)
    message = wire.parse_icmp4(packet)
    assert message is not None
    assert (message.kind, message.ident, message.seq, message.ttl) == ("echo-reply", 0x1234, 7, 55)
    assert wire.echo_nonce(message.payload) == b"N" * 8


def test_a_reply_with_a_bad_checksum_is_dropped() -> None:
    packet = bytearray(_ipv4(_echo_reply(1, 1, b"N" * 8), wire.IPPROTO_ICMP))
    packet[-1] ^= 0xFF
    assert wire.parse_icmp4(bytes(packet)) is None


def test_a_zeroed_payload_carries_no_nonce() -> None:
    assert wire.echo_nonce(bytes(12)) is None


def test_an_unreachable_quoting_our_syn_names_its_ports_and_sequence() -> None:
    syn = wire.tcp_syn("100.64.1.2", "203.0.113.10", 40000, 443, 99)
    quoted = _ipv4(syn, wire.IPPROTO_TCP, source="100.64.1.2")[:28]
    icmp = struct.pack("!BBHI", wire.ICMP4_UNREACHABLE, 1, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", wire.checksum(icmp)) + icmp[4:]
    message = wire.parse_icmp4(_ipv4(icmp, wire.IPPROTO_ICMP, source="100.64.1.1"))
    assert message is not None and message.quoted is not None
    assert message.kind == "unreachable"
    assert (message.quoted.first, message.quoted.second, message.quoted.tcp_seq) == (40000, 443, 99)


def test_our_syn_carries_a_valid_checksum_and_parses_back() -> None:
    syn = wire.tcp_syn("203.0.113.10", "100.64.1.2", 443, 40000, 5)
    segment = wire.parse_tcp4(_ipv4(syn, wire.IPPROTO_TCP, ttl=64))
    assert segment is not None
    assert (segment.source_port, segment.destination_port, segment.seq) == (443, 40000, 5)
    assert segment.flags == wire.TCP_SYN


def test_icmpv6_echo_reply_parses() -> None:
    request = wire.echo_request(6, 9, 3, b"x" * 8)
    reply = bytes([wire.ICMP6_ECHO_REPLY]) + request[1:]
    message = wire.parse_icmp6(reply, "2001:db8::1", 64)
    assert message is not None
    assert (message.kind, message.ident, message.seq, message.ttl) == ("echo-reply", 9, 3, 64)


def test_udp_echo_round_trip_and_reply_is_never_larger() -> None:
    request = wire.udp_echo(wire.UDP_REQUEST, 42, 7, 123)
    reply = wire.udp_echo_reply(request)
    assert reply is not None and len(reply) == len(request)
    parsed = wire.parse_udp_echo(reply)
    assert parsed == wire.UdpEcho(wire.UDP_REPLY, 42, 7, 123)
    assert wire.udp_echo_reply(reply) is None  # a reply is not echoed (no ping-pong loops)


def test_a_forged_udp_echo_keeps_identifiers_but_loses_the_nonce() -> None:
    request = wire.udp_echo(wire.UDP_REQUEST, 42, 0xDEADBEEF, 123)
    forged = request[:8] + bytes(len(request) - 8)  # what the lab's injector sends
    parsed = wire.parse_udp_echo(forged)
    assert parsed is not None and parsed.seq == 42 and parsed.nonce != 0xDEADBEEF


@given(st.binary(max_size=200))
def test_icmp4_parser_never_raises(data: bytes) -> None:
    wire.parse_icmp4(data)


@given(st.binary(max_size=200), st.integers(0, 255))
def test_icmp6_parser_never_raises(data: bytes, hop_limit: int) -> None:
    wire.parse_icmp6(data, "2001:db8::1", hop_limit)


@given(st.binary(max_size=200))
def test_tcp_parsers_never_raise(data: bytes) -> None:
    wire.parse_tcp4(data)
    wire.parse_tcp6(data, "2001:db8::1", 64)


@given(st.binary(max_size=100))
def test_udp_echo_parser_never_raises(data: bytes) -> None:
    wire.parse_udp_echo(data)
    wire.udp_echo_reply(data)


@given(st.sampled_from([3, 11, 0, 8]), st.binary(max_size=120), st.integers(0, 140))
def test_summed_icmp_with_garbage_quotes_never_raises(kind: int, body: bytes, cut: int) -> None:
    icmp = bytes([kind, 0, 0, 0, 0, 0, 0, 0]) + body
    icmp = icmp[:2] + struct.pack("!H", wire.checksum(icmp)) + icmp[4:]
    packet = _ipv4(icmp, wire.IPPROTO_ICMP)
    wire.parse_icmp4(packet[: 20 + cut])
    wire.parse_icmp6(icmp[:cut], "2001:db8::1", 64)


KEY = bytes(range(32))


def test_a_keyed_echo_is_answered_signed_and_no_larger() -> None:
    request = wire.udp_echo(wire.UDP_REQUEST, 42, 7, 123, key=KEY)
    assert len(request) == wire.UDP_ECHO_SIZE + wire.UDP_TAG_BYTES
    reply = wire.udp_echo_reply(request, 55, KEY)
    assert reply is not None and len(reply) == len(request)
    assert wire.parse_udp_echo(reply, KEY) == wire.UdpEcho(wire.UDP_REPLY, 42, 7, 123, 55)
    assert wire.udp_echo_reply(reply, 0, KEY) is None  # a reply is not echoed


def test_a_keyed_responder_answers_nothing_unsigned_and_an_unkeyed_one_nothing_signed() -> None:
    unsigned = wire.udp_echo(wire.UDP_REQUEST, 1, 2, 3)
    signed = wire.udp_echo(wire.UDP_REQUEST, 1, 2, 3, key=KEY)
    assert wire.udp_echo_reply(unsigned, 0, KEY) is None
    assert wire.udp_echo_reply(signed) is None
    forged_tag = signed[: wire.UDP_ECHO_SIZE] + bytes(wire.UDP_TAG_BYTES)
    assert wire.udp_echo_reply(forged_tag, 0, KEY) is None


ECHO_FIELDS = st.tuples(
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 0xFFFFFFFF),
)
"""Sequence, nonce, send time (ns), dwell (µs)."""


@given(
    ECHO_FIELDS, st.integers(2, wire.UDP_ECHO_SIZE + wire.UDP_TAG_BYTES - 1), st.integers(1, 255)
)
def test_tampering_any_byte_of_a_keyed_reply_is_caught(
    fields: tuple[int, int, int, int], index: int, flip: int
) -> None:
    """Type, sequence, nonce, send time, dwell or the MAC itself: any changed byte fails
    (the magic and version are checked before the MAC, so a change there is malformed)."""
    reply = bytearray(wire.udp_echo(wire.UDP_REPLY, *fields, key=KEY))
    reply[index] ^= flip
    parsed = wire.parse_udp_echo(bytes(reply), KEY)
    assert parsed is None or not parsed.authentic


@given(st.binary(min_size=16, max_size=32))
def test_a_reply_signed_with_another_key_is_not_authentic(other: bytes) -> None:
    reply = wire.udp_echo(wire.UDP_REPLY, 1, 2, 3, key=other)
    parsed = wire.parse_udp_echo(reply, KEY)
    assert parsed is not None and parsed.authentic == (other == KEY)
    unkeyed = wire.parse_udp_echo(reply)
    assert unkeyed is not None and not unkeyed.authentic  # a signed echo we did not ask for


@given(st.binary(max_size=100))
def test_keyed_udp_echo_parser_never_raises_nor_answers_garbage(data: bytes) -> None:
    wire.parse_udp_echo(data, KEY)
    assert wire.udp_echo_reply(data, 0, KEY) is None
