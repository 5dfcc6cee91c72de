"""The local signing CA and the end-entity certificate that signs C2PA manifests.

Layout under `<dflab home>/keys/`:
    ca.key.pem, ca.cert.pem          root CA (ES256): BasicConstraints ca=True, KeyUsage keyCertSign + cRLSign
    signer.key.pem, signer.cert.pem  end entity issued by the CA: KeyUsage digitalSignature (critical),
                                     ExtendedKeyUsage emailProtection
    chain.pem                        signer cert then CA cert, the form the C2PA SDK wants

Why these exact extensions: c2pa-python 0.38.1 rejects a self-signed end entity, an end entity without EKU,
and the serverAuth / documentSigning EKUs (see shared/docs/DEPENDENCIES.md). Private keys are written 0600.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from dflab.atomic import write_bytes_atomic
from dflab.config import dflab_home
from dflab.errors import IntegrityError, NotFound, UsageError

CA_KEY = "ca.key.pem"
CA_CERT = "ca.cert.pem"
SIGNER_KEY = "signer.key.pem"
SIGNER_CERT = "signer.cert.pem"
CHAIN = "chain.pem"
ALL_FILES = (CA_KEY, CA_CERT, SIGNER_KEY, SIGNER_CERT, CHAIN)

CA_VALID_DAYS = 3650
SIGNER_VALID_DAYS = 825


@dataclass(frozen=True)
class KeyPaths:
    """Where one key set lives; `keys_dir()` gives the default one."""

    root: Path

    @property
    def ca_key(self) -> Path:
        return self.root / CA_KEY

    @property
    def ca_cert(self) -> Path:
        return self.root / CA_CERT

    @property
    def signer_key(self) -> Path:
        return self.root / SIGNER_KEY

    @property
    def signer_cert(self) -> Path:
        return self.root / SIGNER_CERT

    @property
    def chain(self) -> Path:
        return self.root / CHAIN


@dataclass(frozen=True)
class SigningMaterial:
    """What the C2PA signer needs, loaded from disk."""

    chain_pem: bytes  # end entity first, then the CA
    private_key_pem: bytes
    ca_pem: bytes


def keys_dir(home: Path | None = None) -> Path:
    return (home or dflab_home()) / "keys"


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dflab local"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_key_set(common_name: str = "dflab") -> dict[str, bytes]:
    """Generate a CA and an end-entity cert in memory; returns PEM bytes keyed by file name. Pure apart from randomness."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)  # tolerate small clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{common_name} root CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=CA_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{common_name} signer"))
        .issuer_name(ca_name)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=SIGNER_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def key_pem(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ee_pem = ee_cert.public_bytes(serialization.Encoding.PEM)
    return {
        CA_KEY: key_pem(ca_key),
        CA_CERT: ca_pem,
        SIGNER_KEY: key_pem(ee_key),
        SIGNER_CERT: ee_pem,
        CHAIN: ee_pem + ca_pem,
    }


def init_keys(force: bool = False, home: Path | None = None) -> KeyPaths:
    """Create the key set under the dflab home. Refuses to replace an existing one unless `force`."""
    paths = KeyPaths(keys_dir(home))
    existing = [name for name in ALL_FILES if (paths.root / name).exists()]
    if existing and not force:
        raise UsageError(f"keys already exist in {paths.root} (use --force to replace them)")
    paths.root.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)
    material = make_key_set()
    for name, data in material.items():
        write_bytes_atomic(paths.root / name, data, 0o600 if name.endswith(".key.pem") else 0o644)
    return paths


def load_signing_material(home: Path | None = None) -> SigningMaterial:
    """Read the chain and the signer key; a missing or broken key set is a clear error, not a traceback."""
    paths = KeyPaths(keys_dir(home))
    missing = [p.name for p in (paths.chain, paths.signer_key, paths.ca_cert) if not p.is_file()]
    if missing:
        raise NotFound(f"signing keys not found in {paths.root} (missing {', '.join(missing)}); run `dflab keys init`")
    chain, key, ca = paths.chain.read_bytes(), paths.signer_key.read_bytes(), paths.ca_cert.read_bytes()
    _check_pem(chain, "CERTIFICATE", paths.chain)
    _check_pem(key, "PRIVATE KEY", paths.signer_key)
    _check_pem(ca, "CERTIFICATE", paths.ca_cert)
    return SigningMaterial(chain_pem=chain, private_key_pem=key, ca_pem=ca)


def load_trust_anchor(home: Path | None = None) -> bytes | None:
    """The CA certificate PEM to trust when reading, or None when no keys were initialised."""
    path = KeyPaths(keys_dir(home)).ca_cert
    return path.read_bytes() if path.is_file() else None


def _check_pem(data: bytes, kind: str, path: Path) -> None:
    if f"-----BEGIN {kind}-----".encode() not in data:
        raise IntegrityError(f"{path} is not a PEM {kind.lower()}; run `dflab keys init --force` to recreate the keys")


def describe_keys(home: Path | None = None) -> dict:
    """Subject, issuer, validity and SHA-256 fingerprints of the key set, for `dflab keys show`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    paths = KeyPaths(keys_dir(home))
    if not paths.ca_cert.is_file() or not paths.signer_cert.is_file():
        raise NotFound(f"no keys in {paths.root}; run `dflab keys init`")
    out: dict = {"dir": str(paths.root)}
    for role, path in (("ca", paths.ca_cert), ("signer", paths.signer_cert)):
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError as exc:
            raise IntegrityError(f"{path} is not a valid certificate: {exc}") from None
        key_path = paths.ca_key if role == "ca" else paths.signer_key
        out[role] = {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
            "key_file": str(key_path),
            "key_mode": oct(key_path.stat().st_mode & 0o777) if key_path.exists() else None,
        }
    return out
