"""Sockets for probes: marked per send, kernel receive timestamps, TTL of what arrives.

A probe leaves by its uplink because every packet carries the uplink's fwmark (as
``SO_MARK`` on the socket, or per packet as a control message on shared raw sockets)
and plumbing.py routes that mark through the uplink's own table.
"""

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

from borderpath.core.errors import ProbeError

SO_TIMESTAMPNS = 35
"""Kernel receive timestamps (Python 3.11 does not export the name)."""
IP_RECVTTL = 12
SOL_RAW = 255
ICMP_FILTER = 1
ICMP6_FILTER = 1
IPV6_CHECKSUM_OFFSET_TCP = 16
ANCILLARY_SPACE = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4) * 2
RECEIVE_SIZE = 2048
_TIMESPEC = struct.Struct("@qq")
_INT = struct.Struct("@i")
_MARK = struct.Struct("@I")

Ancillary = list[tuple[int, int, bytes]]


def family_of(version: int) -> socket.AddressFamily:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def mark_message(mark: int) -> Ancillary:
    """The control message that sets one packet's fwmark (needs CAP_NET_ADMIN)."""
    return [(socket.SOL_SOCKET, socket.SO_MARK, _MARK.pack(mark))]


def raw_socket(version: int, protocol: int) -> socket.socket:
    """A non-blocking raw socket with kernel timestamps and TTL (hop limit) reporting."""
    try:
        sock = socket.socket(family_of(version), socket.SOCK_RAW, protocol)
    except PermissionError as exc:
        raise ProbeError("raw sockets need root or CAP_NET_RAW (run the agent as root)") from exc
    sock.setblocking(False)
    receive_details(sock, version)
    return sock


def receive_details(sock: socket.socket, version: int) -> None:
    """Ask the kernel for the receive timestamp and the TTL of every packet."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    if version == 4:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)


def marked_datagram_socket(version: int, mark: int, source: str | None) -> socket.socket:
    """A non-blocking UDP socket that leaves by the uplink of ``mark``, from ``source``."""
    sock = socket.socket(family_of(version), socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        sock.bind((source or ("0.0.0.0" if version == 4 else "::"), 0))
    except OSError as exc:
        sock.close()
        raise ProbeError(f"cannot bind a probe socket to {source} (mark {mark}): {exc}") from exc
    sock.setblocking(False)
    receive_details(sock, version)
    return sock


class Clock:
    """Turns kernel (wall-clock) receive stamps into the monotonic clock probes are timed on.

    The offset between the clocks is re-read at most every second, so a wall-clock step
    can skew at most the RTTs of the following second.
    """

    REFRESH_S = 1.0

    def __init__(self) -> None:
        self._offset = 0.0
        self._read_at = -self.REFRESH_S
        self.refresh()

    def refresh(self) -> None:
        before = time.monotonic()
        self._offset = time.time() - (before + time.monotonic()) / 2
        self._read_at = before

    def arrival(self, ancillary: Ancillary, now: float) -> float:
        """The monotonic time the kernel stamped this packet with (``now`` if none)."""
        if now - self._read_at > self.REFRESH_S:
            self.refresh()
        stamp = kernel_stamp(ancillary)
        return now if stamp is None else min(now, stamp - self._offset)


def kernel_stamp(ancillary: Ancillary) -> float | None:
    """The wall-clock time (s) the kernel received the packet at, if it said."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return float(seconds + nanoseconds / 1e9)
    return None


def received_ttl(ancillary: Ancillary) -> int:
    """The TTL (or hop limit) the packet arrived with, 0 if the kernel did not say."""
    for level, kind, data in ancillary:
        if len(data) < 4:
            continue
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TTL), _IPV6_HOPLIMIT):
            return int(_INT.unpack_from(data)[0])
    return 0


_IPV6_HOPLIMIT = (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)


def read_all(sock: socket.socket, limit: int) -> Iterator[tuple[bytes, Ancillary, Any]]:
    """Every packet waiting on ``sock`` (at most ``limit``): data, ancillary, source
    address (a tuple: host first)."""
    for _ in range(limit):
        try:
            data, ancillary, _, address = sock.recvmsg(RECEIVE_SIZE, ANCILLARY_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # An ICMP error queued on a datagram socket surfaces here: the read loop
            # goes on, the transport learns of it from its own timeout.
            continue
        yield data, ancillary, address


def source_address(version: int, mark: int, destination: str) -> str | None:
    """The source address the kernel picks for ``destination`` under ``mark`` (None: no
    route, e.g. the uplink's unreachable guard)."""
    with contextlib.closing(socket.socket(family_of(version), socket.SOCK_DGRAM)) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
            sock.connect((destination, 9))
        except OSError:
            return None
        return str(sock.getsockname()[0])
