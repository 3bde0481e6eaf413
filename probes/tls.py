"""TLS for the quic and http probes and the responder: pinned trust, self-signed certs.

The agent trusts a PoP by a CA file (which may be the PoP's self-signed certificate
itself) or by the SHA-256 fingerprint of its certificate; with neither, the system's
CAs. The responder creates a self-signed certificate when it is given none.
"""

import contextlib
import datetime
import hashlib
import ipaddress
import ssl
from pathlib import Path

from borderpath.core.errors import ConfigError, ProbeError
from borderpath.core.topology import PopConfig

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
CERT_DAYS = 3650


def fingerprint(certificate_der: bytes) -> str:
    """The SHA-256 fingerprint as operators write it: hex pairs joined by colons."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(certificate_der).digest())


def pinned(pop: PopConfig, certificate_der: bytes | None) -> bool:
    """Does the PoP's certificate match the pinned fingerprint (true if none is pinned)?"""
    expected = pop.fingerprint
    if expected is None:
        return True
    return certificate_der is not None and hashlib.sha256(certificate_der).digest() == expected


def client_context(pop: PopConfig) -> ssl.SSLContext:
    """An SSLContext for HTTPS probes of ``pop`` (one per PoP, reused by every probe)."""
    context = ssl.create_default_context()
    if pop.fingerprint is not None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif pop.tls_ca_file is not None:
        context = ssl.create_default_context(cafile=str(_readable(pop.tls_ca_file)))
    return context


def ca_data(pop: PopConfig) -> bytes | None:
    """The pinned CA as PEM bytes (aioquic re-reads a CA file on every handshake)."""
    if pop.tls_ca_file is None:
        return None
    return _readable(pop.tls_ca_file).read_bytes()


def _readable(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"tls_ca_file {path}: no such file (the PoP's CA or certificate)")
    return path


def ensure_certificate(directory: Path, server_name: str) -> tuple[Path, Path]:
    """The certificate and key in ``directory``, created self-signed for ``server_name``
    if absent; returns (cert.pem, key.pem)."""
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    if cert.is_file() and key.is_file():
        return cert, key
    try:
        directory.mkdir(parents=True, exist_ok=True)
        cert_pem, key_pem = self_signed(server_name)
        key.write_bytes(key_pem)
        key.chmod(0o600)
        cert.write_bytes(cert_pem)
    except OSError as exc:
        raise ProbeError(f"cannot write a certificate in {directory}: {exc.strerror}") from exc
    return cert, key


def self_signed(server_name: str) -> tuple[bytes, bytes]:
    """A self-signed EC certificate for ``server_name`` (PEM cert, PEM key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)])
    now = datetime.datetime.now(datetime.UTC)
    alternative: list[x509.GeneralName] = [x509.DNSName(server_name)]
    with contextlib.suppress(ValueError):
        alternative = [x509.IPAddress(ipaddress.ip_address(server_name))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
