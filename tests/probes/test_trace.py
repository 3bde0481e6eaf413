"""Traceroute over each uplink of the lab, and the backbone label it gives."""

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from borderpath.lab import netns
from borderpath.lab.hops import labelled_prefixes
from borderpath.lab.lab import Lab
from borderpath.probes import Classifier, LabelTracker, Plumbing
from borderpath.probes.config import ProbingConfig, TraceConfig, TraceProtocol
from borderpath.probes.series import plan
from borderpath.probes.trace import TraceResult, _Matcher, _Run, merge, trace_path
from tests.probes.conftest import lab_pops, lab_uplinks

TRACE = TraceConfig(extra_prefixes=labelled_prefixes(), max_hops=12, hop_timeout=0.6, traces=2)


def test_merging_takes_the_majority_per_hop_and_ends_at_the_pop() -> None:
    runs = [
        _Run(sent={1: 0, 2: 0, 3: 0, 4: 0}, answers={1: ("a", 1.0), 2: ("b", 2.0), 3: ("t", 3.0)}),
        _Run(sent={1: 0, 2: 0, 3: 0, 4: 0}, answers={1: ("a", 1.2), 3: ("t", 3.1)}),
        _Run(sent={1: 0, 2: 0, 3: 0, 4: 0}, answers={1: ("x", 1.1), 2: ("b", 2.2)}),
    ]
    runs[0].reached_at = runs[1].reached_at = 3
    result = merge("t", "tcp", runs)
    assert result.addresses == ["a", "b", "t"]
    assert result.reached and result.hops[0].answers == 3


def test_a_trace_that_never_reaches_stops_after_the_last_answer() -> None:
    result = merge("t", "udp", [_Run(sent={1: 0, 2: 0, 3: 0}, answers={1: ("a", 1.0)})])
    assert result.addresses == ["a"] and not result.reached


def _trace(lab: Lab, uplink: str, pop: str, protocol: TraceProtocol = "tcp") -> TraceResult:
    uplinks = lab_uplinks(lab)
    probing = ProbingConfig()
    series = plan(
        uplinks,
        lab_pops(lab, ["icmp"]),
        probing,
        only_uplinks={uplink},
        only_pops={pop},
    )[0]
    config = TRACE.model_copy(update={"protocol": protocol})
    plumbing = Plumbing(uplinks, probing)
    with netns.entered(lab.namespace("branch")):
        plumbing.apply()
        try:
            return asyncio.run(trace_path(series.target, series.mark, series.source, config))
        finally:
            plumbing.remove()


@pytest.mark.lab
@pytest.mark.parametrize("protocol", ["tcp", "udp", "icmp"])
def test_each_uplink_is_labelled_with_its_backbone(
    shared_lab: Lab, protocol: TraceProtocol
) -> None:
    classifier = Classifier(TRACE.extra_prefixes)
    labels = {}
    for uplink in ("ct", "cu", "cm"):
        result = _trace(shared_lab, uplink, "hkg", protocol)
        assert result.reached, result.text()
        assert result.hops[0].address == f"100.64.{['ct', 'cu', 'cm'].index(uplink) + 1}.1"
        labels[uplink] = classifier.label(result.addresses)
    assert labels == {"ct": "ct-163", "cu": "cu-9929", "cm": "cm-cmi"}


@pytest.mark.lab
def test_a_silent_hop_costs_the_pops_rtt_not_the_hop_timeout(shared_lab: Lab) -> None:
    # Every lab route has a silent hop, as most real ones do: once the PoP has answered,
    # the trace waits its RTT again for the nearer hops, not the whole hop_timeout.
    start = time.monotonic()
    result = _trace(shared_lab, "ct", "hkg")
    took = time.monotonic() - start
    assert result.reached and None in result.addresses, result.text()
    assert took < TRACE.traces * TRACE.hop_timeout / 2, f"{took:.2f} s"


@pytest.mark.lab
def test_a_route_change_moves_the_label_after_the_agreed_traces(shared_lab: Lab) -> None:
    classifier = Classifier(TRACE.extra_prefixes)
    tracker = LabelTracker(agree=2)
    assert tracker.observe(classifier.label(_trace(shared_lab, "ct", "sin").addresses)) == "ct-163"
    shared_lab.apply([{"uplink": "ct", "pop": "sin", "route": "ct-cn2-gt"}])
    try:
        first = classifier.label(_trace(shared_lab, "ct", "sin").addresses)
        assert (first, tracker.observe(first)) == ("ct-cn2-gt", "ct-163")
        assert tracker.observe(classifier.label(_trace(shared_lab, "ct", "sin").addresses)) == (
            "ct-cn2-gt"
        )
        shared_lab.apply([{"uplink": "ct", "pop": "sin", "route": "ct-cn2-gia"}])
        assert classifier.label(_trace(shared_lab, "ct", "sin").addresses) == "ct-cn2-gia"
    finally:
        shared_lab.apply([{"uplink": "ct", "pop": "sin", "route": "ct-163"}])


@given(st.binary(max_size=120), st.integers(0, 255), st.sampled_from([1, 6, 58]))
def test_the_trace_parser_never_raises(data: bytes, ttl: int, proto: int) -> None:
    for version, address in ((4, "203.0.113.10"), (6, "2001:db8::10")):
        matcher = _Matcher(address, version, 0x8123, TRACE)
        matcher.answer(data, ttl, address, proto)
