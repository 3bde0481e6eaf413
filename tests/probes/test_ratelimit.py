"""The responder's rate limit: per-network buckets in a bounded table, O(1) per packet."""

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from borderpath.probes.ratelimit import RateLimit, network_of


def stepped(rate: float, burst: float, size: int = 1024) -> tuple[RateLimit, list[float]]:
    now = [0.0]
    return RateLimit(rate, burst, size, clock=lambda: now[0]), now


def test_the_bucket_refills_at_the_rate() -> None:
    limit, now = stepped(rate=10, burst=5)
    assert [limit.allow("198.18.0.1") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("198.18.9.1")  # another network has its own bucket
    now[0] = 0.25
    assert [limit.allow("198.18.0.1") for _ in range(3)] == [True, True, False]
    assert limit.refused == 2


def test_hosts_of_one_slash_24_or_slash_64_share_a_bucket() -> None:
    limit, _ = stepped(rate=1, burst=2)
    assert [limit.allow(f"198.18.3.{host}") for host in (1, 77, 254)] == [True, True, False]
    assert limit.allow("198.18.4.1")
    assert [limit.allow(f"2001:db8:0:7::{host:x}") for host in (1, 2, 3)] == [True, True, False]
    assert limit.allow("2001:db8:0:8::1")
    assert network_of("::ffff:198.18.3.9") == "::ffff:198.18.3"
    assert network_of("fe80::1%lo") == network_of("fe80::2")


def test_the_least_recently_seen_network_is_evicted_and_starts_full() -> None:
    limit, _ = stepped(rate=1, burst=1, size=3)
    for network in ("198.18.0.1", "198.18.1.1", "198.18.2.1"):
        assert limit.allow(network)
    assert not limit.allow("198.18.0.1")  # seen again: now the most recent
    assert limit.allow("198.18.3.1")  # evicts 198.18.1.x, the least recent
    assert (len(limit), limit.evicted) == (3, 1)
    assert not limit.allow("198.18.0.1")  # kept, still empty
    assert limit.allow("198.18.1.1")  # forgotten: a full bucket again


def test_a_million_spoofed_networks_stay_within_the_table() -> None:
    limit, _ = stepped(rate=200, burst=400, size=65536)
    tracemalloc.start()
    try:
        for index in range(1_000_000):
            limit.allow(f"2001:db8:{index >> 16:x}:{index & 0xFFFF:x}::1")
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(limit) == 65536 and limit.evicted == 1_000_000 - 65536
    assert held < 20_000_000


@given(
    st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=300),
    st.floats(min_value=0.5, max_value=50),
    st.integers(min_value=1, max_value=20),
)
def test_no_source_gets_more_than_its_burst_plus_the_rate(
    times: list[float], rate: float, burst: int
) -> None:
    limit, now = stepped(rate, burst)
    allowed = []
    for moment in sorted(times):
        now[0] = moment
        if limit.allow("198.18.0.1"):
            allowed.append(moment)
    for start_index, start in enumerate(allowed):
        for end_index in range(start_index, len(allowed)):
            span = allowed[end_index] - start
            assert end_index - start_index + 1 <= burst + rate * span + 1e-6
