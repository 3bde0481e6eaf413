"""The figures every part reports: percentiles, median, Wilson, the two jitters, summaries."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from borderpath.core.figures import (
    mean_step,
    median,
    percentile,
    rfc3550_jitter,
    steps,
    summarize,
    wilson,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.05
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([40.0, 41.0, 42.0], 0.95) == pytest.approx(41.9)


@settings(max_examples=50)
@given(st.lists(st.floats(0.0, 1e4), min_size=1, max_size=64), st.floats(0.0, 1.0))
def test_percentile_is_numpys_linear(values: list[float], fraction: float) -> None:
    expected = float(np.percentile(values, 100 * fraction))
    assert percentile(sorted(values), fraction) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_median_leaves_out_missing_values() -> None:
    assert median([30.0, None, 10.0, 20.0, 40.0]) == 25.0
    assert median([None, None]) is None


def test_one_lost_of_three_is_not_certainly_33_percent() -> None:
    lower, upper = wilson(1, 3)
    assert lower == pytest.approx(0.0615, abs=1e-3)
    assert upper == pytest.approx(0.7923, abs=1e-3)
    assert wilson(0, 50)[0] == 0.0 and wilson(50, 50)[1] == pytest.approx(1.0)


def test_no_probes_means_no_loss_figure() -> None:
    assert all(math.isnan(bound) for bound in wilson(0, 0))


def test_rfc3550_jitter_is_seeded_by_the_first_pair_and_a_loss_breaks_the_pair() -> None:
    rtts = [30.0, 34.0, 30.0, None, 50.0, 46.0]
    assert steps(rtts) == [4.0, 4.0, 4.0]
    jitter = 4.0
    jitter += (4.0 - jitter) / 16
    jitter += (4.0 - jitter) / 16
    assert rfc3550_jitter(rtts) == jitter
    assert rfc3550_jitter([10.0, None, 12.0]) is None


def test_one_spike_moves_rfc3550_a_sixteenth_and_mean_step_by_its_share() -> None:
    rtts = [30.0, 30.0, 30.0, 30.0, 62.0]
    assert rfc3550_jitter(rtts) == 2.0  # 0 + (32 - 0) / 16
    assert mean_step(rtts) == 8.0  # (0 + 0 + 0 + 32) / 4
    assert mean_step([5.0]) is None


def test_summary_of_a_step() -> None:
    samples = [(3, True, 30.0, 0), (1, True, 10.0, 0), (2, False, None, 2), (4, True, 20.0, 1)]
    summary = summarize("ct", "hkg", "icmp", 0, samples)
    assert (summary.sent, summary.received, summary.loss, summary.forged) == (4, 3, 0.25, 3)
    assert (summary.rtt_min_ms, summary.rtt_p50_ms, summary.rtt_max_ms) == (10.0, 20.0, 30.0)
    assert summary.rtt_mean_ms == 20.0
    # RTTs in time order 10, lost, 30, 20: the loss breaks 10 -> 30, leaving |30 - 20|
    assert summary.jitter_ms == 10.0


def test_total_loss_has_no_rtt_but_full_loss() -> None:
    summary = summarize("ct", "hkg", "icmp", 0, [(1, False, None, 0), (2, False, None, 0)])
    assert summary.loss == 1.0 and summary.rtt_p50_ms is None and summary.jitter_ms is None
