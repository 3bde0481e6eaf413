"""The probe plan from a config."""

from borderpath.core.topology import PopConfig, UplinkConfig
from borderpath.probes.config import ProbingConfig
from borderpath.probes.series import plan

UPLINKS = [
    UplinkConfig(
        name="ct", carrier="ct", interface="ct", gateway="100.64.1.1", source="100.64.1.2"
    ),
    UplinkConfig(
        name="cu", carrier="cu", interface="cu", gateway="100.64.2.1", source6="2001:db8:2::2"
    ),
]
POPS = [
    PopConfig(name="hkg", address="203.0.113.10"),
    PopConfig(name="v6", address="2001:db8:ff::10", protocols=["icmp", "quic"]),
]


def test_every_uplink_pop_protocol_is_a_series_with_its_mark_and_source() -> None:
    series = plan(UPLINKS, POPS, ProbingConfig(burst=3))
    assert len(series) == 2 * (5 + 2)
    ct_hkg = [s for s in series if (s.uplink, s.pop) == ("ct", "hkg")]
    assert {s.mark for s in ct_hkg} == {0x4251}
    assert {s.source for s in ct_hkg} == {"100.64.1.2"}
    cu_v6 = [s for s in series if (s.uplink, s.pop) == ("cu", "v6")]
    assert {s.source for s in cu_v6} == {"2001:db8:2::2"} and {s.version for s in cu_v6} == {6}


def test_handshakes_run_less_often_and_never_in_bursts() -> None:
    series = {s.key: s for s in plan(UPLINKS, POPS, ProbingConfig(burst=3))}
    assert series["ct", "hkg", "quic"].interval == 5.0
    assert series["ct", "hkg", "quic"].burst == 1
    assert series["ct", "hkg", "icmp"].burst == 3


def test_filters_narrow_the_plan() -> None:
    series = plan(UPLINKS, POPS, ProbingConfig(), only_uplinks={"cu"}, only_protocols={"icmp"})
    assert [(s.uplink, s.pop, s.protocol) for s in series] == [
        ("cu", "hkg", "icmp"),
        ("cu", "v6", "icmp"),
    ]
