"""Reference TTLs and probes in flight: pure logic on a fake clock."""

from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.config import ProbingConfig
from borderpath.probes.series import Series, plan
from borderpath.probes.validate import REBASE_AFTER, InFlight, Pending, TtlReference


def _series() -> Series:
    uplink = UplinkConfig(name="ct", carrier="ct", interface="ct", gateway="100.64.1.1")
    pop = PopConfig(name="hkg", address="203.0.113.10", protocols=["icmp"])
    return plan([uplink], [pop], ProbingConfig())[0]


def test_nothing_known_means_no_verdict() -> None:
    assert TtlReference(tolerance=2).matches(63) is None


def test_a_forged_ttl_is_told_apart_once_the_pop_is_known() -> None:
    reference = TtlReference(tolerance=2)
    assert reference.authenticated(63)
    assert reference.matches(62)
    assert reference.matches(113) is False


def test_the_reference_follows_a_route_change_after_consistent_genuine_answers() -> None:
    reference = TtlReference(tolerance=2)
    reference.authenticated(63)
    verdicts = [reference.authenticated(55) for _ in range(REBASE_AFTER)]
    assert verdicts == [False] * (REBASE_AFTER - 1) + [True]
    assert reference.expected == 55


def test_interleaved_genuine_answers_keep_a_forger_from_moving_the_reference() -> None:
    reference = TtlReference(tolerance=2)
    reference.authenticated(63)
    for _ in range(5):
        assert not reference.authenticated(113)
        assert reference.authenticated(63)
    assert reference.expected == 63


def test_probes_expire_in_send_order_and_answered_ones_never_expire() -> None:
    series = _series()
    flight: InFlight[int] = InFlight(timeout=1.0)
    for key, sent in enumerate((0.0, 0.1, 0.2)):
        flight.add(key, Pending(series, sent, 0, b""))
    flight.pop(1)
    assert [p.sent for p in flight.expired(1.15)] == [0.0]
    assert [p.sent for p in flight.expired(5.0)] == [0.2]
    assert len(flight) == 0
