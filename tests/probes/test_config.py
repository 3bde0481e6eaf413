"""The probes' config sections: defaults, durations, pins and prefixes."""

import pydantic
import pytest

from borderpath.core.topology import PopConfig
from borderpath.probes.config import ProbingConfig, TraceConfig


def test_cross_border_defaults_keep_the_timeout_well_above_500_ms() -> None:
    probing = ProbingConfig()
    assert probing.timeout_of("icmp") >= 1.0
    assert probing.interval_of("http") > probing.interval_of("icmp")


def test_per_protocol_durations_are_written_as_durations() -> None:
    probing = ProbingConfig.model_validate(
        {"intervals": {"udp": "250ms"}, "timeouts": {"tcp": "3s"}}
    )
    assert probing.interval_of("udp") == 0.25
    assert probing.timeout_of("tcp") == 3.0
    assert probing.timeout_of("icmp") == 2.0


def test_tcp_waits_at_most_the_one_second_after_which_a_syn_ack_is_sent_again() -> None:
    assert ProbingConfig().timeout_of("tcp") == 1.0
    assert ProbingConfig(timeout=0.3).timeout_of("tcp") == 0.3
    assert ProbingConfig.model_validate({"timeouts": {"udp": 3}}).timeout_of("tcp") == 1.0


def test_a_fingerprint_with_or_without_colons_is_read() -> None:
    hex_text = "ab" * 32
    with_colons = ":".join(["AB"] * 32)
    assert PopConfig(name="hkg", address="203.0.113.10", tls_fingerprint=hex_text).fingerprint == (
        PopConfig(name="hkg", address="203.0.113.10", tls_fingerprint=with_colons).fingerprint
    )


def test_a_short_fingerprint_is_a_mistake() -> None:
    with pytest.raises(pydantic.ValidationError):
        PopConfig(name="hkg", address="203.0.113.10", tls_fingerprint="abcd")


def test_extra_prefixes_must_be_prefixes() -> None:
    TraceConfig(extra_prefixes={"198.18.1.0/24": "ct-163", "2001:db8::/32": "ct-cn2"})
    with pytest.raises(pydantic.ValidationError, match="not an IP prefix"):
        TraceConfig(extra_prefixes={"198.18.1": "ct-163"})
