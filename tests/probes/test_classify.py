"""The backbone label of synthetic traces: table-driven, each case named for what it proves."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from borderpath.probes.classify import BACKBONE_PREFIXES, LABELS, Classifier, LabelTracker

LAB_PREFIXES = {
    "198.18.1.0/24": "ct-163",
    "198.18.2.0/24": "ct-cn2",
    "198.18.3.0/24": "cu-4837",
    "198.18.4.0/24": "cu-9929",
    "198.18.5.0/24": "cm-cmnet",
    "198.18.6.0/24": "cm-cmi",
    "198.18.7.0/24": "cm-cmin2",
    "198.18.8.0/24": "ct-ctg",
    "2001:db8:163::/48": "ct-163",
    "2001:db8:4809::/48": "ct-cn2",
}

CASES = {
    "gia_is_cn2_without_163": (
        ["100.64.1.1", None, "59.43.1.1", "59.43.2.2", "203.0.113.10"],
        "ct-cn2-gia",
    ),
    "gt_is_cn2_after_163": (["100.64.1.1", "202.97.1.1", None, "59.43.9.9"], "ct-cn2-gt"),
    "plain_163": (["100.64.1.1", "202.97.33.1", "202.97.50.2", None], "ct-163"),
    "cmi_wins_over_the_cmnet_it_crossed": (["221.183.1.1", "223.120.2.1"], "cm-cmi"),
    "cmin2_longest_prefix_beats_cmi": (["221.183.1.1", "223.120.128.5"], "cm-cmin2"),
    "cmi_outside_the_cmin2_slices": (["223.119.40.1"], "cm-cmi"),
    "9929_from_either_prefix": (["210.51.3.3"], "cu-9929"),
    "4837": (["219.158.1.1", "219.158.9.9"], "cu-4837"),
    "ctg_alone": (["69.194.1.1"], "ct-ctg"),
    "all_silent_is_unknown": ([None, None, None], "unknown"),
    "unlisted_is_unknown": (["198.51.100.1", "100.64.1.1"], "unknown"),
    "lab_gt_skeleton": (
        ["100.64.1.1", "198.18.100.1", "198.18.1.3", None, "198.18.2.4", "198.18.200.1"],
        "ct-cn2-gt",
    ),
    "lab_gia_skeleton_with_silent_hops": (
        ["100.64.1.1", None, None, None, "198.18.2.9", "203.0.113.10"],
        "ct-cn2-gia",
    ),
    "lab_cmin2": (["100.64.3.1", "198.18.5.1", "198.18.7.2"], "cm-cmin2"),
    "ipv6_gt": (["2001:db8:163::1", "2001:db8:4809::7"], "ct-cn2-gt"),
    "ipv6_gia": (["2001:db8:4809::1"], "ct-cn2-gia"),
    "garbage_hops_are_ignored": (["not-an-ip", "202.97.0.1"], "ct-163"),
}


@pytest.mark.parametrize(("hops", "label"), CASES.values(), ids=CASES.keys())
def test_trace_label(hops: list[str | None], label: str) -> None:
    assert Classifier(LAB_PREFIXES).label(hops) == label
    assert label in LABELS


def test_string_prefix_trap_is_avoided() -> None:
    # "223.120.16" as text is a prefix of CMIN2's 223.120.128.0/17 spelled loosely; by
    # network it is CMI.
    assert Classifier().network("223.120.16.1") == "cm-cmi"


def test_extra_prefixes_override_and_extend_the_table() -> None:
    classifier = Classifier({"202.97.99.0/24": "cu-9929"})
    assert classifier.network("202.97.99.1") == "cu-9929"
    assert classifier.network("202.97.98.1") == "ct-163"


def test_every_builtin_prefix_is_a_network() -> None:
    classifier = Classifier()
    for prefix, network in BACKBONE_PREFIXES.items():
        first = prefix.split("/")[0]
        assert classifier.network(first) is not None, network


def test_a_label_changes_only_after_enough_traces_agree() -> None:
    tracker = LabelTracker(agree=3)
    assert tracker.observe("ct-cn2-gia") == "ct-cn2-gia"
    assert tracker.observe("ct-cn2-gt") == "ct-cn2-gia"
    assert tracker.observe("ct-cn2-gt") == "ct-cn2-gia"
    assert tracker.observe("ct-cn2-gt") == "ct-cn2-gt"


def test_one_dissenting_trace_resets_the_count() -> None:
    tracker = LabelTracker(agree=2)
    tracker.observe("ct-163")
    tracker.observe("unknown")
    tracker.observe("ct-163")
    assert tracker.observe("unknown") == "ct-163"
    assert tracker.observe("unknown") == "unknown"


@given(st.one_of(st.none(), st.text(max_size=45), st.ip_addresses().map(str)))
def test_any_hop_text_is_a_network_or_none(hop: str | None) -> None:
    assert Classifier(LAB_PREFIXES).network(hop) in {
        None,
        *LAB_PREFIXES.values(),
        *BACKBONE_PREFIXES.values(),
    }
