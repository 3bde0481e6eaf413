"""What ``borderpath probe`` prints per series."""

from borderpath.probes.result import ErrorKind, ProbeResult
from borderpath.probes.summary import percentile, summarize, table


def _result(n: int, rtt: float | None, forged: int = 0) -> ProbeResult:
    if rtt is None:
        return ProbeResult(n, "ct", "hkg", "icmp", False, error=ErrorKind.TIMEOUT, forged=forged)
    return ProbeResult(n, "ct", "hkg", "icmp", True, rtt_ms=rtt, forged=forged)


def test_loss_percentiles_jitter_forged_and_errors() -> None:
    results = [_result(1, 40.0), _result(2, 42.0), _result(3, None, forged=1), _result(4, 41.0)]
    (summary,) = summarize(results)
    assert summary.series == "ct/hkg/icmp"
    assert (summary.sent, summary.received, summary.loss) == (4, 3, 0.25)
    assert (summary.rtt_min_ms, summary.rtt_p50_ms, summary.rtt_p95_ms) == (40.0, 41.0, 42.0)
    assert summary.jitter_ms == 1.5
    assert summary.forged == 1
    assert summary.errors == {"timeout": 1}
    assert "ct/hkg/icmp" in table([summary])


def test_nearest_rank_percentile() -> None:
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
