"""What every protocol's transport shares: the context it reports into, and its shape."""

import abc
import asyncio
import dataclasses
import errno
import logging
import socket
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from borderpath.core.errors import ProbeError
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.probes.series import Series
from borderpath.probes.sockets import Clock
from borderpath.probes.validate import InFlight, Pending, TtlBook


@dataclasses.dataclass(slots=True)
class SeriesCounters:
    """What a series saw beyond its results: the engine's ``stats()``."""

    sent: int = 0
    received: int = 0
    forged: int = 0
    duplicates: int = 0
    reordered: int = 0


@dataclasses.dataclass
class Context:
    """Shared by the transports of one engine."""

    loop: asyncio.AbstractEventLoop
    report: Callable[[ProbeResult], None]
    ttl: TtlBook
    clock: Clock = dataclasses.field(default_factory=Clock)
    counters: dict[Series, SeriesCounters] = dataclasses.field(default_factory=dict)
    malformed: dict[str, int] = dataclasses.field(default_factory=dict)
    """Packets that were truncated, mis-summed or garbage, per protocol: dropped."""

    def count(self, series: Series) -> SeriesCounters:
        counters = self.counters.get(series)
        if counters is None:
            counters = self.counters[series] = SeriesCounters()
        return counters

    def drop_malformed(self, protocol: str) -> None:
        self.malformed[protocol] = self.malformed.get(protocol, 0) + 1

    def success(
        self,
        probe: Pending,
        arrival: float,
        ttl: int | None,
        extras: dict[str, float | int | str] | None = None,
    ) -> None:
        """The PoP genuinely answered ``probe`` at monotonic ``arrival``."""
        rtt_ms = (arrival - probe.sent) * 1000
        self.succeeded(probe.series, probe.time_ns, rtt_ms, ttl, extras, forged=probe.forged)

    def succeeded(
        self,
        series: Series,
        time_ns: int,
        rtt_ms: float | None,
        ttl: int | None,
        extras: dict[str, float | int | str] | None = None,
        *,
        forged: int = 0,
    ) -> None:
        self.count(series).received += 1
        self.report(
            ProbeResult(
                time_ns=time_ns,
                uplink=series.uplink,
                pop=series.pop,
                protocol=series.protocol,
                ok=True,
                rtt_ms=rtt_ms,
                forged=forged,
                ttl=ttl,
                extras=_with_port(series, extras),
            )
        )

    def failure(
        self,
        series: Series,
        time_ns: int,
        error: ErrorKind,
        *,
        forged: int = 0,
        ttl: int | None = None,
        extras: dict[str, float | int | str] | None = None,
    ) -> None:
        self.report(
            ProbeResult(
                time_ns=time_ns,
                uplink=series.uplink,
                pop=series.pop,
                protocol=series.protocol,
                ok=False,
                error=error,
                forged=forged,
                ttl=ttl,
                extras=_with_port(series, extras),
            )
        )

    def forged(self, probe: Pending) -> None:
        probe.forged += 1
        self.count(probe.series).forged += 1

    def cut(self, probe: Pending) -> None:
        """An ICMP unreachable answered the probe: the path is cut on the way."""
        self.failure(probe.series, probe.time_ns, ErrorKind.UNREACHABLE, forged=probe.forged)

    def timed_out(self, probe: Pending) -> None:
        """No genuine answer in time: a timeout, or FORGED when only forgeries came."""
        error = ErrorKind.FORGED if probe.forged else ErrorKind.TIMEOUT
        self.failure(probe.series, probe.time_ns, error, forged=probe.forged)


class Transport(abc.ABC):
    """Sends the probes of one protocol and reports each one's result exactly once."""

    protocol: str

    def __init__(self, context: Context) -> None:
        self.context = context

    def open(self, series: list[Series]) -> None:  # noqa: B027 - most transports need nothing
        """Create sockets for these series (called once, on the event loop)."""

    @abc.abstractmethod
    def send(self, series: Series) -> None:
        """Send one probe of ``series`` now; the send is timed just before the packet
        leaves, not when the engine's timer fired."""

    def expire(self, now: float) -> None:  # noqa: B027 - handshakes time themselves out
        """Report the probes whose timeout has passed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop: report what is still in flight as timed out, release the sockets."""


Key = TypeVar("Key", bound=Hashable)
log = logging.getLogger("borderpath.probes")


class SocketTransport(Transport, Generic[Key]):
    """A transport of our own packets: probes in flight keyed by what answers carry,
    read from sockets on the event loop."""

    def __init__(self, context: Context, timeout: float) -> None:
        super().__init__(context)
        self.in_flight: InFlight[Key] = InFlight(timeout)
        self.sockets: list[socket.socket] = []

    def watch(self, sock: socket.socket, reader: Callable[..., None], *args: object) -> None:
        """Read ``sock`` with ``reader(sock, *args)`` whenever it has data; probes past
        their timeout are expired first, so no answer counts after it (the engine's own
        sweep runs only every batch interval: a SYN-ACK sent again after 1 s slipped in)."""

        def read() -> None:
            self.expire(self.context.loop.time())
            reader(sock, *args)

        self.sockets.append(sock)
        self.context.loop.add_reader(sock.fileno(), read)

    def lost(self, probe: Pending) -> None:
        """A probe's time is up without a genuine answer."""
        self.context.timed_out(probe)

    def expire(self, now: float) -> None:
        for probe in self.in_flight.expired(now):
            self.lost(probe)

    async def close(self) -> None:
        for probe in self.in_flight.drain():
            self.lost(probe)
        for sock in self.sockets:
            self.context.loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets.clear()


UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH}
"""What the kernel says when the uplink's table has only its unreachable guard left: the path
is cut here, and the probe did not leak out by another uplink."""


def _with_port(
    series: Series, extras: dict[str, float | int | str] | None
) -> dict[str, float | int | str]:
    """A TCP or UDP result names the port it probed (Telegraf's ``port`` tag)."""
    pop = series.pop_config
    port = {"tcp": pop.tcp_port, "udp": pop.udp_port}.get(series.protocol)
    return {"port": port, **(extras or {})} if port is not None else extras or {}


def send_error(exc: OSError) -> ErrorKind:
    return ErrorKind.UNREACHABLE if exc.errno in UNREACHABLE_ERRNOS else ErrorKind.LOCAL


def wall_ns() -> int:
    return time.time_ns()


class HandshakeTransport(Transport):
    """A transport whose probe is a whole exchange (QUIC, HTTPS): one task per probe,
    bounded by the series' timeout."""

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, series: Series) -> None:
        task = self.context.loop.create_task(self._timed(series, wall_ns()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _timed(self, series: Series, time_ns: int) -> None:
        try:
            async with asyncio.timeout(series.timeout):
                await self.exchange(series, time_ns)
        except TimeoutError:
            self.context.failure(series, time_ns, ErrorKind.TIMEOUT)
        except asyncio.CancelledError:
            self.context.failure(series, time_ns, ErrorKind.TIMEOUT)
            raise
        except OSError as exc:
            self.context.failure(series, time_ns, send_error(exc))
        except ProbeError:  # no socket on this uplink now (e.g. its address is gone)
            self.context.failure(series, time_ns, ErrorKind.LOCAL)
        except Exception:  # every probe gets exactly one result, whatever went wrong
            log.exception("probe %s failed unexpectedly", series.name)
            self.context.failure(series, time_ns, ErrorKind.LOCAL)

    @abc.abstractmethod
    async def exchange(self, series: Series, time_ns: int) -> None:
        """Run one probe and report its result (the timeout is handled here)."""

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
