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
    assert facts.recovered_ns(("ct", "hkg")) == 15_500_000_000


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
