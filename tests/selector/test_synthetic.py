"""Synthetic streams: timeouts arrive after the timeout, events apply in their window."""

from bench.synthetic import BLACKHOLE, Event, Link, probe_stream, scheduled


def test_lost_probes_arrive_one_timeout_later_and_events_end() -> None:
    conditions = scheduled(lambda _u, _p: Link(30, 0), [Event(1, 2, "ct", "hkg", BLACKHOLE)])
    steps = list(
        probe_stream(
            [("ct", "hkg", "icmp")], conditions, start=100, duration=3, interval=0.5, timeout=1
        )
    )
    arrived = {now - 100: [(r.time_ns / 1e9 - 100, r.ok) for r in batch] for now, batch in steps}
    assert arrived[1.0] == []  # sent at 1.0, lost
    assert arrived[2.0] == [(2.0, True), (1.0, False)]
    assert arrived[2.5] == [(2.5, True), (1.5, False)]
