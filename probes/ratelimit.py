"""The responder's rate limit: a bounded table of per-network buckets, O(1) per packet.

Sources are grouped by network (a /24 for IPv4, a /64 for IPv6): one host of a network
is usually one customer, and a spoofer hopping over addresses stays in few buckets.
Each bucket is one number, the GCRA's theoretical arrival time (RFC 2697's token bucket
seen from the clock side): a source may have ``burst`` answers at once, then ``rate``
per second. The table holds at most ``size`` networks, least recently seen evicted
first, so a flood of spoofed sources costs a dictionary operation per packet and a
fixed amount of memory; an evicted network starts again with a full bucket, which is
what it would have after idling.
"""

import collections
import socket
import time
from collections.abc import Callable

TABLE_SIZE = 65536
"""Networks remembered: about 14 MB; a flood must send this many other networks between
two packets of one source to reset its bucket."""


def network_of(address: str) -> str | bytes:
    """The bucket key of a source: its /24 (IPv4, IPv4-mapped IPv6) or /64 (IPv6)."""
    if "." in address:
        return address.rpartition(".")[0]
    return socket.inet_pton(socket.AF_INET6, address.partition("%")[0])[:8]


class RateLimit:
    """``allow(source)`` is True while the source's network is within its rate."""

    def __init__(
        self,
        rate: float,
        burst: float,
        size: int = TABLE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.size = size
        self.clock = clock
        self._arrivals: collections.OrderedDict[str | bytes, float] = collections.OrderedDict()
        self.refused = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._arrivals)

    def allow(self, source: str) -> bool:
        now = self.clock()
        key = network_of(source)
        arrivals = self._arrivals
        due = arrivals.get(key)
        if due is None:
            if len(arrivals) >= self.size:
                arrivals.popitem(last=False)
                self.evicted += 1
            due = now
        else:
            arrivals.move_to_end(key)
            due = max(due, now)
        if due - now > self.tolerance:
            arrivals[key] = due
            self.refused += 1
            return False
        arrivals[key] = due + self.interval
        return True
