"""Path state: up, degraded, interfered or down; fail fast, recover slowly.

A path's raw state is read from its series every tick:
- down: some protocol has lost its last ``down_after_lost`` probes (it is *failing*)
  and no protocol has answered since the latest failing run began. Protocols probed
  slowly (HTTP every 10 s) need not fail three times first: their silence since the
  fast ones failed is enough;
- interfered: some protocols are failing while others still answer (UDP or QUIC
  blocked while ICMP and TCP get through): its own condition, because moving helps
  only if another path is not blocked too, and it must never be mistaken for an outage;
- degraded: the short window's loss, all protocols pooled, is above ``degraded_loss``
  at the lower 95 % bound (so a single unlucky loss does not count);
- unknown: fewer than MIN_PROBES_TO_JUDGE probes in the long window (and not down).
A worse raw state is taken at once (fail fast). A better one only once every
protocol's latest probe was answered, one of them has answered ``recover_good`` in a
row, and ``recover_min`` has passed since the last bad tick (recover slowly).
"""

import dataclasses
import enum

import numpy as np

from borderpath.core.protocols import PROTOCOLS
from borderpath.selector.config import HealthConfig
from borderpath.selector.metrics import wilson
from borderpath.selector.windows import NEVER_NS, Bools, Ints, RingWindows

MIN_PROBES_TO_JUDGE = 5
"""Probes a path needs in the long window before it is judged: one RTT is noise, five
give a median, and a first choice made on one probe would be moved again at once."""


class State(enum.IntEnum):
    """Path states, ordered by severity (higher is worse)."""

    UP = 0
    DEGRADED = 1
    INTERFERED = 2
    DOWN = 3
    UNKNOWN = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclasses.dataclass(frozen=True)
class SeriesSignals:
    """Per-series facts the state and the SLA checks share, shaped [paths, protocols]."""

    long_sent: Ints
    measured: Bools
    """The series has probes in the long window."""
    failing: Bools
    """The series lost its last ``down_after_lost`` probes."""
    last_ok_ns: Ints
    run_start_ns: Ints
    short_sent: Ints
    short_lost: Ints


def series_signals(
    windows: RingWindows, long_sent: Ints, short_sent: Ints, short_lost: Ints, down_after: int
) -> SeriesSignals:
    shape = (windows.layout.paths, len(PROTOCOLS))
    sent = long_sent.reshape(shape)
    failing = (sent > 0) & (windows.run_lost >= down_after).reshape(shape)
    return SeriesSignals(
        long_sent=sent,
        measured=sent > 0,
        failing=failing,
        last_ok_ns=windows.last_ok_ns.reshape(shape),
        run_start_ns=windows.run_start_ns.reshape(shape),
        short_sent=short_sent.reshape(shape),
        short_lost=short_lost.reshape(shape),
    )


class PathStates:
    """The state of every path, with the hysteresis that keeps it from flapping."""

    def __init__(self, paths: int, knobs: HealthConfig) -> None:
        self.knobs = knobs
        self.state = np.full(paths, State.UNKNOWN, dtype=np.int8)
        self.last_bad_ns = np.full(paths, NEVER_NS, dtype=np.int64)

    def update(self, windows: RingWindows, signals: SeriesSignals, now_ns: int) -> None:
        raw = self._raw(signals)
        self.last_bad_ns = np.where(
            (raw != State.UP) & (raw != State.UNKNOWN), now_ns, self.last_bad_ns
        )
        run_ok = np.where(signals.measured, windows.run_ok.reshape(signals.measured.shape), 0)
        answering = np.where(signals.measured, run_ok >= 1, True).all(axis=1)
        steady = answering & (run_ok.max(axis=1) >= self.knobs.recover_good)
        rested = now_ns - self.last_bad_ns >= int(self.knobs.recover_min * 1e9)
        worse = (raw > self.state) | (self.state == State.UNKNOWN)
        recovers = (raw < self.state) & steady & rested
        self.state = np.where(worse | recovers, raw, self.state).astype(np.int8)

    def _raw(self, signals: SeriesSignals) -> np.ndarray:
        failing = signals.failing.any(axis=1)
        failing_since = np.where(signals.failing, signals.run_start_ns, NEVER_NS).max(axis=1)
        others = signals.measured & ~signals.failing
        answered_last = np.where(others, signals.last_ok_ns, NEVER_NS).max(axis=1)
        lower, _ = wilson(signals.short_lost.sum(axis=1), signals.short_sent.sum(axis=1))
        raw = np.full(failing.shape, State.UP, dtype=np.int8)
        raw[np.nan_to_num(lower) > self.knobs.degraded_loss] = State.DEGRADED
        raw[failing] = State.INTERFERED
        raw[failing & (answered_last < failing_since)] = State.DOWN
        too_few = signals.long_sent.sum(axis=1) < MIN_PROBES_TO_JUDGE
        raw[too_few & (raw != State.DOWN)] = State.UNKNOWN
        return raw
