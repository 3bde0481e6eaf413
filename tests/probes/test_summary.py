"""What ``borderpath probe`` prints per series."""

import pytest

from borderpath.core.results import ErrorKind, ProbeResult
from borderpath.probes.summary import summarize, table


def _result(n: int, rtt: float | None, forged: int = 0) -> ProbeResult:
    if rtt is None:
        return ProbeResult(n, "ct", "hkg", "icmp", False, error=ErrorKind.TIMEOUT, forged=forged)
    return ProbeResult(n, "ct", "hkg", "icmp", True, rtt_ms=rtt, forged=forged)


def test_loss_percentiles_jitter_forged_and_errors() -> None:
    results = [_result(1, 40.0), _result(2, 42.0), _result(3, None, forged=1), _result(4, 41.0)]
    (line,) = summarize(results)
    summary = line.summary
    assert line.series == "ct/hkg/icmp"
    assert (summary.sent, summary.received, summary.loss) == (4, 3, 0.25)
    # The p95 interpolates, as the rollups' and the selector's do (nearest rank said 42)
    assert (summary.rtt_min_ms, summary.rtt_p50_ms) == (40.0, 41.0)
    assert summary.rtt_p95_ms == pytest.approx(41.9)
    # The loss breaks 42 -> 41, leaving one pair: both jitters are its |D|
    assert (summary.jitter_ms, line.mean_step_ms) == (2.0, 2.0)
    assert summary.forged == 1
    assert line.errors == {"timeout": 1}
    assert "ct/hkg/icmp" in table([line])


def test_the_json_line_names_both_jitters() -> None:
    results = [_result(1, 30.0), _result(2, 30.0), _result(3, 30.0), _result(4, 62.0)]
    (line,) = summarize(results)
    document = line.document()
    assert document["series"] == "ct/hkg/icmp"
    # One 32 ms spike after two flat pairs: RFC 3550 moves by 32 / 16, the mean by 32 / 3
    assert document["jitter_ms"] == 2.0
    assert document["mean_step_ms"] == pytest.approx(32 / 3)
    assert "start_ns" not in document and "uplink" not in document
