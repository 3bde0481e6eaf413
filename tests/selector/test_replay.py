"""Replay: the selector offline over a stream, with its report; time-of-day in action."""

import datetime
import functools
from pathlib import Path

from bench.synthetic import BLACKHOLE, Event, Link, probe_stream, scheduled
from borderpath.selector import Selector, SelectorConfig, replay
from borderpath.selector.replay import ReplayReport, run
from borderpath.storage import StorageConfig, Store
from tests.selector.support import T0, pop, uplinks

MIDNIGHT = 1_699_920_000.0  # 2023-11-14 00:00 UTC
PEAK = (13.0, 15.0)
"""UTC hours of the evening peak: 21:00 to 23:00 in Beijing."""
STEP = 30.0
TICK = 60.0
DAYS = 4
SLOW_PROBING = {
    "windows": {"short": "3m", "long": "10m", "samples": 32},
    "antiflap": {"failback_delay": "5m"},
}
"""Windows for one probe every 30 s, so that four days replay in seconds."""


def evening_peak(uplink: str, _pop: str, _protocol: str, t: float) -> Link:
    """ct (standard) is the fastest off-peak and loses 12 % every evening; cu, cm are steady."""
    hour = ((MIDNIGHT + t) % 86400) / 3600
    if uplink == "ct":
        return Link(30, 2, 0.12 if PEAK[0] <= hour < PEAK[1] else 0.0)
    return Link(44 if uplink == "cu" else 48, 2)


@functools.cache
def replay_days(time_of_day: bool) -> ReplayReport:
    config = SelectorConfig.model_validate(
        {**SLOW_PROBING, "time_of_day": {"enabled": time_of_day}}
    )
    series = [(u, "hkg", "icmp") for u in ("ct", "cu", "cm")]
    stream = probe_stream(
        series, evening_peak, start=MIDNIGHT, duration=DAYS * 86400, interval=STEP, timeout=2
    )
    return run(Selector(config, uplinks(), [pop()]), stream, tick_every=TICK)


def left_ct_on_last_day(report: ReplayReport) -> float:
    """UTC hour of the first move away from ct on the last day."""
    last_day = MIDNIGHT + (DAYS - 1) * 86400
    moves = [
        d
        for d in report.decisions
        if d.time_ns / 1e9 >= last_day and d.previous and d.previous[0][0] == "ct"
    ]
    return (moves[0].time_ns / 1e9 - last_day) / 3600


def test_history_moves_traffic_before_the_evening_peak_begins() -> None:
    report = replay_days(time_of_day=True)
    hour = left_ct_on_last_day(report)
    lookahead_h = SelectorConfig().time_of_day.lookahead / 3600
    assert PEAK[0] - lookahead_h - 0.1 <= hour < PEAK[0]
    at = MIDNIGHT + (DAYS - 1) * 86400 + hour * 3600
    move = next(d for d in report.decisions if abs(d.time_ns / 1e9 - at) < 1)
    assert "daily peak is due" in move.reason


def test_without_history_traffic_moves_only_once_the_peak_hurts() -> None:
    assert left_ct_on_last_day(replay_days(time_of_day=False)) >= PEAK[0]


def test_the_report_counts_switches_per_hour_and_time_on_each_uplink() -> None:
    report = replay_days(time_of_day=True)
    assert report.switches == sum(report.switches_per_hour.values()) >= 2 * DAYS - 1
    hours = set(report.switches_per_hour)
    assert all(datetime.datetime.fromtimestamp(h, datetime.UTC).minute == 0 for h in hours)
    spent = report.time_on["hkg"]
    assert spent["ct"] > spent["cu"] > 0
    assert report.end is not None
    first = report.decisions[0].time_ns / 1e9
    assert abs(sum(spent.values()) - (report.end - first)) < STEP
    text = report.render()
    assert "switches per hour:" in text and "hkg: ct" in text


def test_replay_of_stored_batches_derives_time_from_the_results() -> None:
    conditions = scheduled(
        lambda u, _p: Link(30 if u == "cu" else 45, 2), [Event(60, 1e9, "cu", "hkg", BLACKHOLE)]
    )
    series = [(u, "hkg", "icmp") for u in ("ct", "cu", "cm")]
    stream = probe_stream(series, conditions, start=T0, duration=90, interval=0.2)
    batches = [batch for _, batch in stream]
    report = replay(Selector(SelectorConfig(), uplinks(), [pop()]), batches, tick_every=0.2)
    initial, moved = report.decisions
    assert initial.uplinks == ("cu",)
    assert moved.reason.startswith("hkg: cu") and moved.uplinks != ("cu",)
    assert 0 < moved.time_ns / 1e9 - (T0 + 60) <= 2.0


def test_a_selector_warmed_from_the_store_knows_the_evening_peak_at_once(
    tmp_path: Path,
) -> None:
    """The agent's start: three days in the store, then a new selector on day four."""
    series = [(u, "hkg", "icmp") for u in ("ct", "cu", "cm")]
    days_ns = int((MIDNIGHT + 3 * 86400) * 1e9)
    with Store.open(tmp_path / "s.db", site="sha", config=StorageConfig()) as store:
        for _, batch in probe_stream(
            series, evening_peak, start=MIDNIGHT, duration=3 * 86400 - STEP, interval=STEP
        ):
            store.write_results(batch)
        store.housekeeping(days_ns + 3600 * 10**9)
        counts = store.hourly_counts(0, days_ns)
    morning = MIDNIGHT + 3 * 86400 + 11 * 3600

    def hour_left_ct(warmed: bool) -> float | None:
        selector = Selector(SelectorConfig.model_validate(SLOW_PROBING), uplinks(), [pop()])
        if warmed:
            assert selector.warm_history(counts) == 3 * 72
        stream = probe_stream(series, evening_peak, start=morning, duration=2 * 3600, interval=STEP)
        for decision in run(selector, stream, tick_every=TICK).decisions:
            if decision.previous and decision.previous[0][0] == "ct":
                return (decision.time_ns / 1e9 - morning) / 3600 + 11
        return None

    assert hour_left_ct(warmed=False) is None
    left = hour_left_ct(warmed=True)
    assert left is not None and PEAK[0] - 0.6 <= left < PEAK[0]
