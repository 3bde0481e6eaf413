"""Ring buffers per series: layout, wrap-around, counters and unknown series."""

from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.selector.windows import Layout, RingWindows


def test_rows_group_protocols_by_path_and_paths_by_pop() -> None:
    layout = Layout.of(["ct", "cu"], [("hkg", ["icmp"]), ("nrt", ["tcp", "udp"])])
    rows = layout.rows()
    assert layout.paths == 4 and layout.series == 20
    assert rows[("cu", "nrt", "icmp")] // 5 == layout.path("cu", "nrt") == 3
    assert layout.path_names(2) == ("ct", "nrt")
    assert layout.probed[layout.path("ct", "nrt")].tolist() == [False, True, True, False, False]


def test_the_ring_wraps_and_runs_count_consecutive_outcomes() -> None:
    windows = RingWindows(Layout.of(["ct"], [("hkg", ["icmp"])]), capacity=4)
    ok = [ProbeResult(i, "ct", "hkg", "icmp", True, rtt_ms=10.0) for i in range(6)]
    lost = [
        ProbeResult(6 + i, "ct", "hkg", "icmp", False, error=ErrorKind.TIMEOUT) for i in range(2)
    ]
    windows.ingest(ok + lost)
    assert sorted(windows.time_ns[0].tolist()) == [4, 5, 6, 7]
    assert windows.run_lost[0] == 2 and windows.run_ok[0] == 0


def test_results_of_unknown_series_are_counted_not_stored() -> None:
    windows = RingWindows(Layout.of(["ct"], [("hkg", ["icmp"])]), capacity=4)
    paths, _, _ = windows.ingest([ProbeResult(1, "zz", "hkg", "icmp", True, rtt_ms=1.0)])
    assert windows.ignored == 1 and paths == []
