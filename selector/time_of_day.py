"""Hourly history per path, and the peak it predicts.

Cross-border standard routes lose 5-15 % every evening (docs/border.md, The evening peak); the
selector should not wait to measure the peak each day. Every path keeps probes sent
and lost per (day, hour) for ``history_days`` days (two weeks = every hour of the week
twice). An hour of the day is a *peak hour* of a path when, on at least ``min_days``
observed days and on ``peak_share`` of them, its loss was above ``peak_loss``. From
``lookahead`` before a peak hour until it ends, the path carries the predicted loss
(the median over its peak days) as if measured: its score is worse, and a class whose
loss limit is below it counts the path as failing it. Hours are UTC hours: a daily
pattern does not care which zone names it.
"""

import warnings

import numpy as np
import numpy.typing as npt

from borderpath.selector.config import TimeOfDayConfig
from borderpath.selector.windows import Floats

HOUR_S = 3600
DAY_S = 86400


class HourlyHistory:
    """Probes sent and lost per path, per (day, hour), in a ring of days."""

    def __init__(self, paths: int, knobs: TimeOfDayConfig) -> None:
        self.knobs = knobs
        days = knobs.history_days
        self.sent = np.zeros((paths, days, 24), dtype=np.int32)
        self.lost = np.zeros((paths, days, 24), dtype=np.int32)
        self.day_of_slot = np.full(days, -1, dtype=np.int64)
        """The absolute day (Unix days) each ring slot holds, -1 when empty."""
        self._cache: tuple[int, Floats] | None = None

    def add(self, paths: list[int], times_ns: list[int], lost: list[bool]) -> None:
        """Count probes (path index, send time, lost) into their hour."""
        self.add_counts(paths, times_ns, np.ones(len(paths), dtype=np.int32), lost)

    def add_counts(
        self, paths: list[int], times_ns: list[int], sent: npt.ArrayLike, lost: npt.ArrayLike
    ) -> None:
        """Count probes sent and lost (per path index and time) into their hour."""
        if not paths:
            return
        seconds = np.asarray(times_ns, dtype=np.int64) // 1_000_000_000
        days = seconds // DAY_S
        for day in np.unique(days):
            self._claim(int(day))
        slot = days % self.knobs.history_days
        keep = self.day_of_slot[slot] == days
        where = (np.asarray(paths)[keep], slot[keep], (seconds[keep] // HOUR_S) % 24)
        np.add.at(self.sent, where, np.asarray(sent, dtype=np.int32)[keep])
        np.add.at(self.lost, where, np.asarray(lost, dtype=np.int32)[keep])
        self._cache = None

    def _claim(self, day: int) -> None:
        slot = day % self.knobs.history_days
        if self.day_of_slot[slot] < day:
            self.sent[:, slot, :] = 0
            self.lost[:, slot, :] = 0
            self.day_of_slot[slot] = day

    def predicted_loss(self, now: float) -> Floats:
        """Per path: the loss its history predicts for now..now+lookahead (0 = no peak)."""
        paths = self.sent.shape[0]
        if not self.knobs.enabled:
            return np.zeros(paths, dtype=np.float32)
        minute = int(now // 60)
        if self._cache is not None and self._cache[0] == minute:
            return self._cache[1]
        today = int(now // DAY_S)
        hours = {int(now // HOUR_S) % 24, int((now + self.knobs.lookahead) // HOUR_S) % 24}
        predicted = np.zeros(paths, dtype=np.float32)
        for hour in hours:
            predicted = np.maximum(predicted, self._peak_loss(hour, today))
        self._cache = (minute, predicted)
        return predicted

    def _peak_loss(self, hour: int, today: int) -> Floats:
        past = (self.day_of_slot >= 0) & (self.day_of_slot < today)
        sent = self.sent[:, past, hour]
        lost = self.lost[:, past, hour]
        observed = sent >= self.knobs.min_probes_per_hour
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.where(observed, lost / np.maximum(sent, 1), np.nan)
        peak = observed & (loss > self.knobs.peak_loss)
        days = observed.sum(axis=1)
        peak_days = peak.sum(axis=1)
        daily = (days >= self.knobs.min_days) & (peak_days >= self.knobs.peak_share * days)
        if not daily.any():
            return np.zeros(sent.shape[0], dtype=np.float32)
        with warnings.catch_warnings():
            # Paths without a peak have all-NaN rows; their median is not used.
            warnings.simplefilter("ignore", RuntimeWarning)
            typical = np.nanmedian(np.where(peak, loss, np.nan), axis=1)
        return np.where(daily, typical, 0.0).astype(np.float32)
