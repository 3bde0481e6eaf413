"""What a probe found: the record the probes make and storage, the selector and the
alerts consume, with the kinds of failure it can report.

Batches travel as ``list[ProbeResult]`` everywhere (engine -> storage, selector, alerts).
"""

import dataclasses
import enum
from collections.abc import Mapping
from types import MappingProxyType


class ErrorKind(enum.StrEnum):
    """Why a probe did not succeed; stored as text, one of these values."""

    TIMEOUT = "timeout"
    """No genuine answer within the timeout (forged answers do not count)."""
    UNREACHABLE = "unreachable"
    """An ICMP unreachable, or the uplink has no route: the path is cut."""
    REFUSED = "refused"
    """The PoP itself refused the connection (a genuine RST or port unreachable)."""
    RESET = "reset"
    """A connection established, then reset by the PoP."""
    FORGED = "forged"
    """Only forged answers arrived (an injected RST, echo or reply)."""
    TLS = "tls"
    """The TLS or QUIC handshake failed (certificate, version, protocol)."""
    HTTP_STATUS = "http-status"
    """The PoP answered with an HTTP status that is not 2xx."""
    LOCAL = "local"
    """The probe could not be sent from here (socket, binding, interface down)."""


PATH_CARRIED_ERRORS = frozenset({ErrorKind.REFUSED, ErrorKind.RESET, ErrorKind.HTTP_STATUS})
"""The PoP itself answered (a genuine refusal, reset or HTTP status): the path carried the
probe both ways, so for path health it is not lost (it has no RTT worth ranking)."""


_NO_EXTRAS: Mapping[str, float | int | str] = MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of one series (uplink, pop, protocol)."""

    time_ns: int
    """Wall-clock time the probe was sent, ns since the Unix epoch."""
    uplink: str
    pop: str
    protocol: str
    """One of ``borderpath.core.protocols.PROTOCOLS``."""
    ok: bool
    """The PoP genuinely answered."""
    rtt_ms: float | None = None
    """Round-trip (or handshake) time on the monotonic clock; None unless ok."""
    error: ErrorKind | None = None
    """Why not ok; None when ok."""
    forged: int = 0
    """Forged answers seen and discarded for this probe."""
    ttl: int | None = None
    """TTL (hop limit) the genuine answer arrived with."""
    extras: Mapping[str, float | int | str] = dataclasses.field(default_factory=lambda: _NO_EXTRAS)
    """Protocol details: phases (connect_ms, tls_ms, ttfb_ms), status, content_length, alpn,
    version, retry; the port probed (tcp, udp)."""

    @property
    def answered(self) -> bool:
        """The PoP answered: with success, or with one of PATH_CARRIED_ERRORS."""
        return self.ok or self.error in PATH_CARRIED_ERRORS

    @property
    def series(self) -> tuple[str, str, str]:
        return (self.uplink, self.pop, self.protocol)

    @property
    def path(self) -> tuple[str, str]:
        return (self.uplink, self.pop)
