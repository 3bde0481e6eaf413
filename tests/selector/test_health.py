"""Path state: fail fast, recover slowly, interference is not an outage."""

from bench.synthetic import BLACKHOLE, Event, Link
from borderpath.selector import Selector
from borderpath.selector.config import SelectorConfig
from tests.selector.support import pop, scenario, simulate, states

LINKS = {"ct": Link(46, 2), "cu": Link(32, 2), "cm": Link(44, 2)}
KNOBS = SelectorConfig().health


def timeline(
    *events: Event, duration: float = 120, protocols: tuple[str, ...] = ("icmp",)
) -> dict[float, str]:
    """cu's state at every tick."""
    seen: dict[float, str] = {}

    def observe(t: float, selector: Selector) -> None:
        seen[round(t, 1)] = states(selector)["cu"]

    simulate(scenario(LINKS, *events), duration, pops=[pop(protocols=protocols)], observe=observe)
    return seen


def first(seen: dict[float, str], state: str, after: float) -> float:
    return min(t for t, s in seen.items() if s == state and t >= after)


def test_a_path_is_down_within_a_second_of_losing_everything() -> None:
    seen = timeline(Event(30, 60, "cu", "hkg", BLACKHOLE), duration=40)
    assert seen[29.0] == "up"
    # Three lost probes (200 ms apart), the last one's 500 ms timeout, then the tick.
    assert first(seen, "down", 30) - 30 <= 0.5 + KNOBS.down_after_lost * 0.2 + 0.2


def test_recovery_waits_for_a_run_of_good_probes_and_the_minimum_time() -> None:
    seen = timeline(Event(30, 60, "cu", "hkg", BLACKHOLE))
    back = first(seen, "up", 60)
    assert back - 60 >= KNOBS.recover_min
    assert all(seen[t] != "up" for t in seen if 31.0 <= t < back)


def test_udp_blocked_while_icmp_and_tcp_answer_is_interference_not_down() -> None:
    blocked = Event(30, 120, "cu", "hkg", BLACKHOLE, protocol="udp")
    seen = timeline(blocked, duration=40, protocols=("icmp", "tcp", "udp"))
    assert seen[39.0] == "interfered"
    assert "down" not in {seen[t] for t in seen if t >= 30}


def test_a_15_percent_brownout_degrades_the_path() -> None:
    seen = timeline(Event(30, 120, "cu", "hkg", Link(32, 2, 0.15)), duration=60)
    assert seen[29.0] == "up"
    assert "degraded" in {seen[t] for t in seen if 30 <= t <= 40}


def test_half_a_percent_of_loss_never_degrades_a_path() -> None:
    seen = timeline(Event(0, 600, "cu", "hkg", Link(32, 2, 0.005)), duration=300)
    assert {s for t, s in seen.items() if t >= 2} == {"up"}
