"""Step summaries: loss, RTT percentiles, jitter, forged counts."""

from borderpath.storage.rollups import merge, percentile, summarize


def test_summary_of_a_step() -> None:
    samples = [(3, True, 30.0, 0), (1, True, 10.0, 0), (2, False, None, 2), (4, True, 20.0, 1)]
    summary = summarize("ct", "hkg", "icmp", 0, samples)
    assert (summary.sent, summary.received, summary.loss, summary.forged) == (4, 3, 0.25, 3)
    assert (summary.rtt_min_ms, summary.rtt_p50_ms, summary.rtt_max_ms) == (10.0, 20.0, 30.0)
    assert summary.rtt_mean_ms == 20.0
    # RTTs in time order 10, 30, 20: differences 20 and 10
    assert summary.jitter_ms == 15.0


def test_total_loss_has_no_rtt_but_full_loss() -> None:
    summary = summarize("ct", "hkg", "icmp", 0, [(1, False, None, 0), (2, False, None, 0)])
    assert summary.loss == 1.0 and summary.rtt_p50_ms is None and summary.jitter_ms is None


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.05
    assert percentile([7.0], 0.95) == 7.0


def test_merged_rollups_keep_exact_counts_and_extremes() -> None:
    first = summarize("ct", "hkg", "*", 0, [(1, True, 10.0, 0), (2, False, None, 1)])
    second = summarize("ct", "hkg", "*", 60, [(61, True, 30.0, 0), (62, True, 50.0, 0)])
    merged = merge("ct", "hkg", "*", 0, [first, second])
    assert (merged.sent, merged.received, merged.forged) == (4, 3, 1)
    assert (merged.rtt_min_ms, merged.rtt_max_ms, merged.rtt_mean_ms) == (10.0, 50.0, 30.0)
    assert merged.rtt_p50_ms == 25.0  # median of the two steps' medians, 10 and 40
