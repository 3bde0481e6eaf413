"""Per-series facts: silence on send times, whatever order results arrive in."""

from borderpath.alerts.facts import Facts
from tests.alerts.synthetic import good, lost


def test_silence_counts_from_the_last_answer_on_any_protocol() -> None:
    facts = Facts(keep=30, outage=3)
    facts.add([good("ct", "hkg", "icmp", 10.0), good("ct", "hkg", "quic", 10.5)])
    facts.add([lost("ct", "hkg", p, 11.0 + i * 0.2) for i in range(20) for p in ("icmp", "tcp")])
    assert facts.silence(("ct", "hkg")) == (4.3, 40)
    facts.add([good("ct", "hkg", "tcp", 15.5)])
    assert facts.silence(("ct", "hkg")) == (0.0, 0)
    assert facts.recovered_ns(("ct", "hkg")) == 15_540_000_000  # sent at 15.5 s, 40 ms RTT


def test_a_handshake_that_retransmits_through_an_outage_does_not_date_the_recovery() -> None:
    facts = Facts(keep=30, outage=3)
    facts.add([good("ct", "hkg", "icmp", 10.0)])
    facts.add([lost("ct", "hkg", "icmp", 10.2 + i * 0.2) for i in range(40)])  # to 18 s
    # Sent at 17 s into the outage, its Initial retransmitted once the path was back.
    facts.add([good("ct", "hkg", "quic", 17.0, rtt=1500.0), good("ct", "hkg", "icmp", 18.2)])
    recovered = facts.recovered_ns(("ct", "hkg"))
    assert recovered == 18_500_000_000
    window = facts.window(("ct", "hkg"), "icmp", recovered)
    assert window is None or window.summary.loss == 0.0


def test_a_late_loss_sorts_before_later_answers() -> None:
    facts = Facts(keep=30, outage=3)
    facts.add([good("ct", "hkg", "udp", 1.0), good("ct", "hkg", "udp", 1.4)])
    facts.add([lost("ct", "hkg", "udp", 1.2)])  # its timeout came after the next answer
    window = facts.window(("ct", "hkg"), "udp", 0)
    assert window is not None
    assert (window.summary.sent, window.summary.loss, window.run_lost) == (3, 1 / 3, 0)


def test_trim_keeps_only_the_longest_window() -> None:
    facts = Facts(keep=5, outage=3)
    facts.add([good("ct", "hkg", "icmp", float(t)) for t in range(20)])
    facts.trim()
    window = facts.window(("ct", "hkg"), "icmp", 0)
    assert window is not None and window.summary.sent == 6
