"""Window figures: loss with its confidence, percentiles, jitter and MOS."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from borderpath.core import figures
from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.selector.metrics import mos_g711, percentile_of_sorted, wilson, window_figures
from borderpath.selector.windows import Layout, RingWindows
from tests.selector.support import T0


def test_one_lost_of_three_is_not_certainly_33_percent() -> None:
    lower, upper = wilson(np.array([1]), np.array([3]))
    assert lower[0] == pytest.approx(0.0615, abs=1e-3)
    assert upper[0] == pytest.approx(0.7923, abs=1e-3)


def test_no_probes_means_no_loss_figure() -> None:
    lower, upper = wilson(np.array([0]), np.array([0]))
    assert np.isnan(lower[0]) and np.isnan(upper[0])


@settings(max_examples=100)
@given(st.integers(1, 5000).flatmap(lambda sent: st.tuples(st.integers(0, sent), st.just(sent))))
def test_wilson_agrees_with_core(counts: tuple[int, int]) -> None:
    lost, sent = counts
    lower, upper = wilson(np.array([lost]), np.array([sent]))
    expected = figures.wilson(lost, sent)
    assert (lower[0], upper[0]) == pytest.approx(expected, rel=1e-5, abs=1e-7)


@settings(max_examples=50)
@given(st.lists(st.floats(0.5, 1000, width=32), min_size=1, max_size=64), st.integers(0, 10))
def test_percentiles_match_numpy_and_core(values: list[float], missing: int) -> None:
    row = np.array(sorted(values) + [np.nan] * missing, dtype=np.float32)[None, :]
    counts = np.array([len(values)])
    for q in (0.0, 0.5, 0.95, 1.0):
        expected = np.percentile(np.array(values, dtype=np.float32), 100 * q)
        assert percentile_of_sorted(row, counts, q)[0] == pytest.approx(expected, rel=1e-4)
        assert figures.percentile(sorted(values), q) == pytest.approx(expected, rel=1e-4)


def test_mos_of_a_clean_path_is_toll_quality_and_loss_lowers_it() -> None:
    clean, lossy, far = mos_g711(
        np.array([40.0, 40.0, 400.0], dtype=np.float32),
        np.array([1.0, 1.0, 1.0], dtype=np.float32),
        np.array([0.0, 0.05, 0.0], dtype=np.float32),
    )
    assert clean > 4.3
    assert lossy < 3.9
    assert far < clean


def windows_with(results: list[ProbeResult]) -> RingWindows:
    windows = RingWindows(Layout.of(["ct"], [("hkg", ["icmp", "tcp"])]), capacity=8)
    windows.ingest(results)
    return windows


def probe(t: float, ok: bool, rtt: float | None = None, **extra: object) -> ProbeResult:
    return ProbeResult(int((T0 + t) * 1e9), "ct", "hkg", "icmp", ok, rtt_ms=rtt, **extra)  # type: ignore[arg-type]


def test_forged_answers_count_as_lost_and_genuine_refusals_as_answered() -> None:
    windows = windows_with(
        [
            probe(0, False, error=ErrorKind.FORGED, forged=3),
            probe(1, False, error=ErrorKind.REFUSED),
            probe(2, True, 30.0, forged=1),
        ]
    )
    figures = window_figures(windows, int(T0 * 1e9))
    assert figures.sent[0] == 3
    assert figures.lost[0] == 1
    assert figures.rtt_p50[0] == pytest.approx(30.0)


def test_jitter_follows_rfc3550_and_a_loss_breaks_the_pair() -> None:
    rtts = [30.0, 34.0, 30.0, None, 50.0, 46.0]
    windows = windows_with(
        [
            probe(i, rtt is not None, rtt, error=None if rtt else ErrorKind.TIMEOUT)
            for i, rtt in enumerate(rtts)
        ]
    )
    jitter = 4.0  # seeded with the first difference
    jitter += (4.0 - jitter) / 16  # 34 -> 30
    jitter += (4.0 - jitter) / 16  # 50 -> 46 (30 -> lost -> 50 is no pair)
    assert windows.jitter_ms[0] == pytest.approx(jitter)
    figures = window_figures(windows, int(T0 * 1e9))
    assert figures.step_p95[0] == pytest.approx(4.0)


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.floats(0.5, 1000, width=32)), min_size=1, max_size=48))
def test_window_jitters_agree_with_core(rtts: list[float | None]) -> None:
    windows = RingWindows(Layout.of(["ct"], [("hkg", ["icmp"])]), capacity=64)
    windows.ingest(
        [
            probe(i, rtt is not None, rtt, error=None if rtt is not None else ErrorKind.TIMEOUT)
            for i, rtt in enumerate(rtts)
        ]
    )
    jitter = figures.rfc3550_jitter(rtts)
    if jitter is None:
        assert np.isnan(windows.jitter_ms[0])
    else:
        assert float(windows.jitter_ms[0]) == pytest.approx(jitter, rel=1e-4, abs=1e-3)
    steps = sorted(figures.steps(rtts))
    step_p95 = window_figures(windows, int(T0 * 1e9)).step_p95[0]
    if steps:
        assert float(step_p95) == pytest.approx(figures.percentile(steps, 0.95), rel=1e-4, abs=1e-3)
    else:
        assert np.isnan(step_p95)


def test_the_window_keeps_only_recent_probes() -> None:
    windows = windows_with([probe(t, True, 10.0 + t) for t in range(12)])
    figures = window_figures(windows, int((T0 + 6) * 1e9))
    assert figures.sent[0] == 6
    assert figures.rtt_min[0] == pytest.approx(16.0)
    assert figures.rtt_max[0] == pytest.approx(21.0)
