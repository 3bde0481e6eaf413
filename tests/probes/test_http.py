"""HTTPS health probes against the responder on loopback: phases, status, pinning."""

from pathlib import Path

import pytest

from borderpath.core.results import ErrorKind
from borderpath.lab.lab import Lab
from borderpath.probes.responder import Responder, ResponderConfig
from tests.probes.conftest import against_responder, probe_lab


def test_a_health_probe_times_each_phase(scratch_namespace: str, tmp_path: Path) -> None:
    results = against_responder(scratch_namespace, tmp_path, "http")
    assert [r.ok for r in results] == [True, True]
    extras = results[0].extras
    assert extras["status"] == 200
    assert extras["content_length"] == len(b"ok\n")  # Telegraf's content_length: the body
    for phase in ("connect_ms", "tls_ms", "ttfb_ms", "total_ms"):
        assert float(extras[phase]) > 0, phase
    assert float(extras["total_ms"]) >= float(extras["tls_ms"])


def test_a_wrong_path_is_an_http_status_error(scratch_namespace: str, tmp_path: Path) -> None:
    results = against_responder(scratch_namespace, tmp_path, "http", http_path="/nope")
    assert {(r.error, r.extras["status"]) for r in results} == {(ErrorKind.HTTP_STATUS, 404)}


def test_pinning_by_fingerprint(scratch_namespace: str, tmp_path: Path) -> None:
    fingerprint = Responder(ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path)).fingerprint
    good = against_responder(scratch_namespace, tmp_path, "http", tls_fingerprint=fingerprint)
    assert all(r.ok for r in good)
    bad = against_responder(scratch_namespace, tmp_path, "http", tls_fingerprint="ab" * 32)
    assert {r.error for r in bad} == {ErrorKind.TLS}


def test_nothing_listening_is_refused(scratch_namespace: str, tmp_path: Path) -> None:
    results = against_responder(scratch_namespace, tmp_path, "http", http_port=8443)
    assert {r.error for r in results} == {ErrorKind.REFUSED}


@pytest.mark.lab
def test_a_lost_syn_ack_leaves_no_one_second_rtt(shared_lab: Lab) -> None:
    lossy = {"uplink": "cu", "pop": "hkg", "direction": "in", "protocol": "tcp", "loss": 0.4}
    shared_lab.apply([lossy])
    try:
        results = probe_lab(shared_lab, ["http"], rounds=25, only_uplinks={"cu"}, only_pops={"hkg"})
    finally:
        shared_lab.apply([{**lossy, "loss": 0.0}])
    answered = [r for r in results if r.ok]
    retransmitted = [r for r in answered if r.extras.get("retransmits")]
    # The PoP's second SYN-ACK echoes our first SYN's timestamp: the kernel's "RTT" of
    # such a handshake is 1 s + RTT, so it is not reported.
    assert retransmitted and all(r.rtt_ms is None for r in retransmitted)
    assert all(r.rtt_ms is not None and r.rtt_ms < 100 for r in answered if r not in retransmitted)
