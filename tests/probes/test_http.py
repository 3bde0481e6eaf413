"""HTTPS health probes against the responder on loopback: phases, status, pinning."""

from pathlib import Path

from borderpath.probes import ErrorKind
from borderpath.probes.responder import Responder, ResponderConfig
from tests.probes.conftest import against_responder


def test_a_health_probe_times_each_phase(scratch_namespace: str, tmp_path: Path) -> None:
    results = against_responder(scratch_namespace, tmp_path, "http")
    assert [r.ok for r in results] == [True, True]
    extras = results[0].extras
    assert extras["status"] == 200
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
