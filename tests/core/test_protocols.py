"""One definition per protocol: every part finds each protocol it is given."""

import pydantic
import pytest

from borderpath.core.events import EventKind
from borderpath.core.protocols import BY_NAME, PROTOCOLS
from borderpath.core.topology import PopConfig
from borderpath.probes.transports import TRANSPORTS
from borderpath.selector.config import DEFAULT_CLASSES
from borderpath.storage.line_protocol import MEASUREMENTS, RESULT_LINES


def test_every_protocol_has_a_transport_and_a_measurement() -> None:
    # icmp's transport is the engine's ICMP socket, which every engine opens
    assert {"icmp", *TRANSPORTS} == set(PROTOCOLS)
    for protocol in BY_NAME.values():
        assert protocol.measurement in MEASUREMENTS
        assert protocol.measurement in RESULT_LINES


def test_config_files_accept_exactly_the_defined_protocols() -> None:
    pop = PopConfig(name="hkg", address="198.18.1.2")
    assert tuple(pop.protocols) == PROTOCOLS
    with pytest.raises(pydantic.ValidationError, match="'icmp', 'tcp', 'udp', 'quic' or 'http'"):
        PopConfig(name="hkg", address="198.18.1.2", protocols=["dns"])


def test_the_default_classes_are_judged_by_the_protocols_that_speak_for_them() -> None:
    assert {name: sla.protocols for name, sla in DEFAULT_CLASSES.items()} == {
        "voice": ["udp"],
        "interactive": ["tcp", "quic", "http"],
        "bulk": ["tcp", "http"],
    }


def test_event_kinds_are_stored_as_the_strings_dashboards_already_read() -> None:
    assert [kind.value for kind in EventKind] == [
        "decision",
        "route.replaced",
        "route.deleted",
        "route.failed",
        "alert.firing",
        "alert.resolved",
        "alert.dead",
        "path.label",
        "agent.start",
        "agent.stop",
        "agent.part_failed",
        "storage.dropped",
        "storage.full",
        "export.dead_letter",
        "export.refused",
    ]
