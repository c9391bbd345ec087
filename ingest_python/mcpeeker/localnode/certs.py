"""A small private CA for the local node's TLS front: CA, server and client certificates (cryptography)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import MCPeekerError

# Names a client may use for the local node; the server certificate covers all of them.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
SERVER_DAYS = 397  # what public CAs may issue at most; rotation is routine, not an event
CA_DAYS = 3650


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write then rename, so a reader (or a reloading TLS front) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MCPeeker local"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    common_name: str,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    end: dt.datetime,
    *,
    ca: bool,
) -> x509.CertificateBuilder:
    """What the CA and the certificates it issues share: names, key, serial, validity, basic constraints and key
    usage (a CA signs certificates and CRLs, a leaf only its TLS handshakes)."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=ca,
                crl_sign=ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def create_ca(
    directory: Path, common_name: str = "MCPeeker local CA", days: int = CA_DAYS, stem: str = "ca"
) -> KeyPair:
    """A self-signed CA: `<stem>.crt` (public, give it to clients as --ca-certs) and `<stem>.key` (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    cert = (
        _builder(common_name, _name(common_name), key, start, end, ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pair = KeyPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    _atomic_write(pair.key, _key_pem(key), 0o600)
    _atomic_write(pair.cert, _cert_pem(cert), 0o644)
    return pair


def _load_ca(ca: KeyPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
        key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise MCPeekerError(f"cannot load the CA {ca.cert} / {ca.key}: {exc}") from exc
    return cert, key  # type: ignore[return-value]


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    hosts: Iterable[str] = (),
    client: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = SERVER_DAYS,
) -> tuple[bytes, bytes]:
    """Sign a fresh key for a server (`hosts` in the SAN) or a client; returns (cert PEM, key PEM).

    `not_before`/`not_after` exist so tests can make a certificate that has already expired.
    """
    ca_cert, ca_key = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        _builder(common_name, ca_cert.subject, key, start, end, ca=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    hosts = list(hosts)
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _cert_pem(cert), _key_pem(key)


def write_bundle(path: Path, cert_pem: bytes, key_pem: bytes) -> Path:
    """Certificate and key in one 0600 PEM, replaced in one rename (what the TLS front loads)."""
    _atomic_write(path, cert_pem + key_pem, 0o600)
    return path


def write_pair(directory: Path, stem: str, cert_pem: bytes, key_pem: bytes) -> KeyPair:
    pair = KeyPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    _atomic_write(pair.key, key_pem, 0o600)
    _atomic_write(pair.cert, cert_pem, 0o644)
    return pair


def certificate_of(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file (a bundle's key is skipped)."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def expires_within(path: Path, days: float) -> bool:
    try:
        cert = certificate_of(path)
    except (OSError, ValueError):
        return True
    return cert.not_valid_after_utc - _now() < dt.timedelta(days=days)
