"""Rollup rows merged over their span (core/figures.py summarizes each step)."""

from borderpath.core.figures import summarize
from borderpath.storage.rollups import merge


def test_merged_rollups_keep_exact_counts_and_extremes() -> None:
    first = summarize("ct", "hkg", "*", 0, [(1, True, 10.0, 0), (2, False, None, 1)])
    second = summarize("ct", "hkg", "*", 60, [(61, True, 30.0, 0), (62, True, 50.0, 0)])
    merged = merge("ct", "hkg", "*", 0, [first, second])
    assert (merged.sent, merged.received, merged.forged) == (4, 3, 1)
    assert (merged.rtt_min_ms, merged.rtt_max_ms, merged.rtt_mean_ms) == (10.0, 50.0, 30.0)
    assert merged.rtt_p50_ms == 25.0  # median of the two steps' medians, 10 and 40
