"""Path state: up, degraded, interfered or down; fail fast, recover slowly.

A path's raw state is read from its series every tick:
- down: every protocol with data has lost its last ``down_after_lost`` probes;
- interfered: some protocols have, others still answer (UDP or QUIC blocked while
  ICMP and TCP get through): its own condition, because moving helps only if another
  path is not blocked too, and it must never be mistaken for an outage;
- degraded: the short window's loss, all protocols pooled, is above ``degraded_loss``
  at the lower 95 % bound (so a single unlucky loss does not count);
- unknown: fewer than MIN_PROBES_TO_JUDGE probes in the long window (and not down).
A worse raw state is taken at once (fail fast). A better one only once every
protocol has answered ``recover_good`` probes in a row and ``recover_min`` has passed
since the last bad tick (recover slowly).
"""

import dataclasses
import enum

import numpy as np

from borderpath.probes.result import PROTOCOLS
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
    short_sent: Ints
    short_lost: Ints


def series_signals(
    windows: RingWindows, long_sent: Ints, short_sent: Ints, short_lost: Ints, down_after: int
) -> SeriesSignals:
    shape = (windows.layout.paths, len(PROTOCOLS))
    sent = long_sent.reshape(shape)
    failing = (sent > 0) & (windows.run_lost >= down_after).reshape(shape)
    return SeriesSignals(
        sent, sent > 0, failing, short_sent.reshape(shape), short_lost.reshape(shape)
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
        run_ok = windows.run_ok.reshape(signals.measured.shape)
        steady = np.where(signals.measured, run_ok >= self.knobs.recover_good, True).all(axis=1)
        rested = now_ns - self.last_bad_ns >= int(self.knobs.recover_min * 1e9)
        worse = (raw > self.state) | (self.state == State.UNKNOWN)
        recovers = (raw < self.state) & steady & rested
        self.state = np.where(worse | recovers, raw, self.state).astype(np.int8)

    def _raw(self, signals: SeriesSignals) -> np.ndarray:
        with_data = signals.measured.sum(axis=1)
        failing = signals.failing.sum(axis=1)
        lower, _ = wilson(signals.short_lost.sum(axis=1), signals.short_sent.sum(axis=1))
        raw = np.full(with_data.shape, State.UP, dtype=np.int8)
        raw[np.nan_to_num(lower) > self.knobs.degraded_loss] = State.DEGRADED
        raw[(failing > 0) & (failing < with_data)] = State.INTERFERED
        raw[(with_data > 0) & (failing == with_data)] = State.DOWN
        too_few = signals.long_sent.sum(axis=1) < MIN_PROBES_TO_JUDGE
        raw[too_few & (raw != State.DOWN)] = State.UNKNOWN
        return raw
