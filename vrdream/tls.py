"""A self-signed TLS certificate for ``vrdream serve --https``, made on first use and kept in the user cache.

Browsers allow WebXR only in a secure context: https, or ``localhost``. A headset on the local
network reaches the computer by its LAN address, so the server needs https there; a
self-signed certificate is the one that needs no domain and no internet (the browser asks once
to trust it). It names ``localhost``, ``127.0.0.1`` and the addresses given; when the LAN
address changes a new one is made.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .atomic import atomic_path

#: How long a made certificate lasts (browsers cap accepted server certificates near 13 months).
VALID_DAYS = 397


def cert_dir() -> Path:
    """``<user cache>/vrdream/serve``: where the certificate and its key are kept."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("vrdream")) / "serve"


def _names(addresses: Iterable[str]) -> list[str]:
    """``localhost``, 127.0.0.1 and ``addresses``, in order, each once."""
    return list(dict.fromkeys(["localhost", "127.0.0.1", *addresses]))


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


def _usable(cert_path: Path, key_path: Path, names: list[str]) -> bool:
    """Whether the kept certificate exists, is valid for a day more, and names every one of ``names``."""
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    if cert.not_valid_after_utc < now + datetime.timedelta(days=1):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
    return set(names) <= have


def self_signed(addresses: Iterable[str] = (), folder: Path | None = None) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in ``folder`` (default :func:`cert_dir`) for localhost and ``addresses``:
    the kept pair when it still fits, else a new one (an ECDSA P-256 key, readable by the user alone)."""
    folder = cert_dir() if folder is None else folder
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    names = _names(addresses)
    if _usable(cert_path, key_path, names):
        return cert_path, key_path
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: the key is written into it
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vrdream serve")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # the headset's clock may lag
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with atomic_path(key_path) as tmp:
        tmp.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    key_path.chmod(0o600)
    with atomic_path(cert_path) as tmp:
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
