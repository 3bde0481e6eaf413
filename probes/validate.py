"""Telling the PoP's answers from forged ones, and probes in flight from lost ones.

Pure logic, no sockets: the transports feed it what arrived and ``now``.
"""

import collections
import dataclasses
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from borderpath.probes.series import Series

TTL_WINDOW = 16
"""Genuine answers whose TTL make up a path's reference."""
REBASE_AFTER = 3
"""Consecutive answers that prove themselves genuine (right nonce) at a new TTL before
the reference moves there: a route change at the border shifts every TTL of a path, and
three probes of one series is a few seconds of doubt, not a lasting blind spot."""


class TtlReference:
    """The TTL (hop limit) a PoP's genuine answers arrive with over one path, learnt from
    recent answers, never assumed: it changes whenever the route does."""

    def __init__(self, tolerance: int) -> None:
        self.tolerance = tolerance
        self._recent: collections.deque[int] = collections.deque(maxlen=TTL_WINDOW)
        self._expected: int | None = None
        self._candidate = 0
        self._candidate_count = 0

    @property
    def expected(self) -> int | None:
        """The most common TTL of recent genuine answers; None before the first."""
        return self._expected

    def _learn(self, ttl: int) -> None:
        self._recent.append(ttl)
        if ttl != self._expected:  # counting only when the answer differs keeps it cheap
            self._expected = collections.Counter(self._recent).most_common(1)[0][0]

    def matches(self, ttl: int) -> bool | None:
        """Is ``ttl`` like the PoP's? None when nothing is known yet."""
        expected = self.expected
        if expected is None:
            return None
        return abs(ttl - expected) <= self.tolerance

    def authenticated(self, ttl: int) -> bool:
        """An answer whose content proves it genuine (nonce, acknowledgement) arrived with
        ``ttl``: is it to be believed? It is, when its TTL fits, or when the last
        REBASE_AFTER such answers all agree on a new TTL (the route changed)."""
        if self.matches(ttl) is not False:
            self._candidate_count = 0
            self._learn(ttl)
            return True
        if ttl == self._candidate:
            self._candidate_count += 1
        else:
            self._candidate, self._candidate_count = ttl, 1
        if self._candidate_count >= REBASE_AFTER:
            self._recent.clear()
            self._recent.extend([ttl] * REBASE_AFTER)
            self._expected = ttl
            self._candidate_count = 0
            return True
        return False


@dataclasses.dataclass(slots=True)
class Pending:
    """A probe in flight."""

    series: Series
    sent: float
    """Monotonic time of the send."""
    time_ns: int
    """Wall-clock time of the send."""
    nonce: bytes | int
    forged: int = 0
    resets: list[int] = dataclasses.field(default_factory=list)
    """TTLs of RSTs that could not yet be judged (no reference TTL)."""


Key = TypeVar("Key", bound=Hashable)


class InFlight(Generic[Key]):
    """Probes awaiting an answer, keyed by what the answer carries; one timeout for all,
    so deadlines expire in send order."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pending: dict[Key, Pending] = {}
        self._order: collections.deque[tuple[float, Key]] = collections.deque()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Key, pending: Pending) -> None:
        self._pending[key] = pending
        self._order.append((pending.sent + self.timeout, key))

    def get(self, key: Key) -> Pending | None:
        return self._pending.get(key)

    def items(self) -> Iterator[tuple[Key, Pending]]:
        """Probes in flight, oldest first."""
        yield from self._pending.items()

    def pop(self, key: Key) -> Pending | None:
        return self._pending.pop(key, None)

    def expired(self, now: float) -> Iterator[Pending]:
        """Remove and yield every probe whose deadline has passed."""
        order, pending = self._order, self._pending
        while order and order[0][0] <= now:
            _, key = order.popleft()
            probe = pending.pop(key, None)
            if probe is not None:
                yield probe

    def drain(self) -> Iterator[Pending]:
        """Remove and yield every probe still in flight (the engine is stopping)."""
        self._order.clear()
        while self._pending:
            yield self._pending.popitem()[1]


class TtlBook:
    """One TtlReference per path (uplink, PoP), shared by the protocols of the path."""

    def __init__(self, tolerance: int) -> None:
        self._references: dict[tuple[str, str], TtlReference] = {}
        self._make: Callable[[], TtlReference] = lambda: TtlReference(tolerance)

    def __getitem__(self, path: tuple[str, str]) -> TtlReference:
        reference = self._references.get(path)
        if reference is None:
            reference = self._references[path] = self._make()
        return reference
