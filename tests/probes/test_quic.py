"""QUIC handshakes against the responder on loopback: ALPN, version, pinning."""

from pathlib import Path

from borderpath.core.results import ErrorKind
from borderpath.probes.responder import Responder, ResponderConfig
from tests.probes.conftest import against_responder


def test_a_handshake_reports_alpn_version_and_the_retry(
    scratch_namespace: str, tmp_path: Path
) -> None:
    results = against_responder(scratch_namespace, tmp_path, "quic")
    assert [r.ok for r in results] == [True, True]
    assert results[0].extras["alpn"] == "h3"
    assert results[0].extras["version"] == "0x00000001"
    assert results[0].extras["retry"] == 1  # the responder asks every client for a Retry
    assert 0 < (results[0].rtt_ms or 0) <= float(results[0].extras["handshake_ms"])


def test_the_pinned_fingerprint_is_accepted_and_another_refused(
    scratch_namespace: str, tmp_path: Path
) -> None:
    fingerprint = Responder(ResponderConfig(listen=["127.0.0.1"], cert_dir=tmp_path)).fingerprint
    good = against_responder(scratch_namespace, tmp_path, "quic", tls_fingerprint=fingerprint)
    assert all(r.ok for r in good)
    bad = against_responder(scratch_namespace, tmp_path, "quic", tls_fingerprint="00" * 32)
    assert {(r.ok, r.error, r.extras.get("reason")) for r in bad} == {(False, ErrorKind.TLS, "pin")}


def test_an_untrusted_certificate_is_a_tls_failure(scratch_namespace: str, tmp_path: Path) -> None:
    other = tmp_path / "other"
    Responder(ResponderConfig(listen=["127.0.0.1"], cert_dir=other))
    results = against_responder(scratch_namespace, tmp_path, "quic", tls_ca_file=other / "cert.pem")
    assert {r.error for r in results} == {ErrorKind.TLS}
