"""The hourly history: a daily peak is predicted only once history shows it every day."""

import numpy as np

from borderpath.selector.config import TimeOfDayConfig
from borderpath.selector.time_of_day import DAY_S, HOUR_S, HourlyHistory

MIDNIGHT = 1_699_920_000  # 2023-11-14 00:00 UTC
PEAK_HOUR = 13  # 21:00 in Beijing


def history_of(
    days: int, peak_days: set[int], knobs: TimeOfDayConfig | None = None
) -> HourlyHistory:
    """Path 0 probed every minute for ``days`` days; 10 % loss in PEAK_HOUR on peak_days."""
    history = HourlyHistory(2, knobs or TimeOfDayConfig())
    for day in range(days):
        for minute in range(24 * 60):
            t = MIDNIGHT + day * DAY_S + minute * 60
            peak = day in peak_days and minute // 60 == PEAK_HOUR
            lost = [peak and minute % 10 == 0, False]
            history.add([0, 1], [t * 10**9] * 2, lost)
    return history


def before_peak(day: int, minutes: int = 20) -> float:
    return MIDNIGHT + day * DAY_S + PEAK_HOUR * HOUR_S - minutes * 60


def test_a_peak_seen_every_day_is_predicted_within_the_lookahead() -> None:
    history = history_of(4, {0, 1, 2, 3})
    predicted = history.predicted_loss(before_peak(4))
    assert predicted[0] == np.float32(0.1)
    assert predicted[1] == 0.0


def test_nothing_is_predicted_outside_the_lookahead() -> None:
    history = history_of(4, {0, 1, 2, 3})
    assert history.predicted_loss(before_peak(4, minutes=120))[0] == 0.0


def test_too_few_days_predict_nothing() -> None:
    history = history_of(2, {0, 1})
    assert history.predicted_loss(before_peak(2))[0] == 0.0


def test_a_peak_on_some_days_only_is_not_a_daily_peak() -> None:
    history = history_of(5, {1, 3})
    assert history.predicted_loss(before_peak(5))[0] == 0.0


def test_old_days_leave_the_ring() -> None:
    knobs = TimeOfDayConfig(history_days=3, min_days=2)
    history = history_of(6, {0, 1, 2}, knobs)
    assert history.predicted_loss(before_peak(6))[0] == 0.0


def test_disabled_predicts_nothing() -> None:
    history = history_of(4, {0, 1, 2, 3}, TimeOfDayConfig(enabled=False))
    assert history.predicted_loss(before_peak(4))[0] == 0.0
