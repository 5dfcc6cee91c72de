"""The local signing CA and the end-entity certificate that signs C2PA manifests.

Layout under `<dflab home>/keys/`:
    ca.key.pem, ca.cert.pem          root CA (ES256): BasicConstraints ca=True, KeyUsage keyCertSign + cRLSign
    signer.key.pem, signer.cert.pem  end entity issued by the CA: KeyUsage digitalSignature (critical),
                                     ExtendedKeyUsage emailProtection
    chain.pem                        signer cert then CA cert, the form the C2PA SDK wants

Why these exact extensions: c2pa-python 0.38.1 rejects a self-signed end entity, an end entity without EKU,
and the serverAuth / documentSigning EKUs (see shared/docs/DEPENDENCIES.md). Private keys are written 0600.

A `KeySet` is how the rest of dflab reaches keys: `FileKeySet(dir)` (the files above, plus the ledger's checkpoint
key from ledger/signing.py) or `MemoryKeySet()` (generated in memory, for tests). The lab holds one and passes it
to whatever signs or verifies. The module-level functions keep working on the default directory.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from dflab.atomic import write_bytes_atomic
from dflab.config import default_config
from dflab.errors import IntegrityError, NotFound, UsageError

if TYPE_CHECKING:
    from dflab.provenance.ledger.note import NoteSigner, NoteVerifier

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
    return Path(home) / "keys" if home is not None else default_config().keys_dir


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


@runtime_checkable
class KeySet(Protocol):
    """The C2PA signing material and the ledger's checkpoint key of one lab."""

    location: str  # where the keys are, for messages

    def init(self, force: bool = False) -> None:
        """Create the C2PA CA and signer; refuses to replace existing ones unless `force`."""
        ...

    def signing_material(self) -> SigningMaterial:
        """Raises NotFound when the keys were never created, IntegrityError when they are damaged."""
        ...

    def trust_anchor(self) -> bytes | None: ...

    def describe(self) -> dict: ...

    def ledger_signer(self, origin: str) -> NoteSigner:
        """The ledger's checkpoint signer, its key created on first use."""
        ...

    def has_ledger_key(self) -> bool: ...

    def ledger_verifier(self) -> NoteVerifier:
        """The public checkpoint key (never creates one)."""
        ...


class FileKeySet:
    """Keys as files in one directory (the layout in the module docstring), private keys 0600."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.paths = KeyPaths(self.root)
        self.location = str(self.root)

    @property
    def ledger_key_path(self) -> Path:
        from dflab.provenance.ledger.signing import KEY_FILE

        return self.root / KEY_FILE

    def init(self, force: bool = False) -> KeyPaths:
        paths = self.paths
        existing = [name for name in ALL_FILES if (paths.root / name).exists()]
        if existing and not force:
            raise UsageError(f"keys already exist in {paths.root} (use --force to replace them)")
        paths.root.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.root, 0o700)
        for name, data in make_key_set().items():
            write_bytes_atomic(paths.root / name, data, 0o600 if name.endswith(".key.pem") else 0o644)
        return paths

    def signing_material(self) -> SigningMaterial:
        paths = self.paths
        missing = [p.name for p in (paths.chain, paths.signer_key, paths.ca_cert) if not p.is_file()]
        if missing:
            raise NotFound(f"signing keys not found in {paths.root} (missing {', '.join(missing)}); run `dflab keys init`")
        chain, key, ca = paths.chain.read_bytes(), paths.signer_key.read_bytes(), paths.ca_cert.read_bytes()
        _check_pem(chain, "CERTIFICATE", paths.chain)
        _check_pem(key, "PRIVATE KEY", paths.signer_key)
        _check_pem(ca, "CERTIFICATE", paths.ca_cert)
        return SigningMaterial(chain_pem=chain, private_key_pem=key, ca_pem=ca)

    def trust_anchor(self) -> bytes | None:
        return self.paths.ca_cert.read_bytes() if self.paths.ca_cert.is_file() else None

    def describe(self) -> dict:
        paths = self.paths
        if not paths.ca_cert.is_file() or not paths.signer_cert.is_file():
            raise NotFound(f"no keys in {paths.root}; run `dflab keys init`")
        out: dict = {"dir": str(paths.root)}
        for role, cert_path, key_path in (("ca", paths.ca_cert, paths.ca_key), ("signer", paths.signer_cert, paths.signer_key)):
            mode = oct(key_path.stat().st_mode & 0o777) if key_path.exists() else None
            out[role] = _describe_cert(cert_path.read_bytes(), cert_path, str(key_path), mode)
        return out

    def ledger_signer(self, origin: str) -> NoteSigner:
        from dflab.provenance.ledger.signing import load_or_create_signer

        return load_or_create_signer(origin, self.ledger_key_path)

    def has_ledger_key(self) -> bool:
        return self.ledger_key_path.exists()

    def ledger_verifier(self) -> NoteVerifier:
        from dflab.provenance.ledger.signing import verifier_in

        return verifier_in(self.root)


class MemoryKeySet:
    """Keys generated in process memory (tests, throwaway labs); nothing is written to disk."""

    location = "memory"

    def __init__(self) -> None:
        self._files: dict[str, bytes] | None = None
        self._ledger_key = None
        self._ledger_origin: str | None = None

    def init(self, force: bool = False) -> None:
        if self._files is not None and not force:
            raise UsageError("keys already exist in this lab (use force to replace them)")
        self._files = make_key_set()

    def signing_material(self) -> SigningMaterial:
        if self._files is None:
            raise NotFound("this lab has no signing keys yet; create them with lab.keys.init()")
        return SigningMaterial(chain_pem=self._files[CHAIN], private_key_pem=self._files[SIGNER_KEY],
                               ca_pem=self._files[CA_CERT])  # fmt: skip

    def trust_anchor(self) -> bytes | None:
        return None if self._files is None else self._files[CA_CERT]

    def describe(self) -> dict:
        if self._files is None:
            raise NotFound("this lab has no signing keys yet; create them with lab.keys.init()")
        return {"dir": self.location,
                "ca": _describe_cert(self._files[CA_CERT], Path(CA_CERT), "(in memory)", None),
                "signer": _describe_cert(self._files[SIGNER_CERT], Path(SIGNER_CERT), "(in memory)", None)}  # fmt: skip

    def ledger_signer(self, origin: str) -> NoteSigner:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from dflab.provenance.ledger.note import NoteSigner

        if self._ledger_key is None:
            self._ledger_key = Ed25519PrivateKey.generate()
        self._ledger_origin = origin
        return NoteSigner(origin, self._ledger_key)

    def has_ledger_key(self) -> bool:
        return self._ledger_key is not None

    def ledger_verifier(self) -> NoteVerifier:
        if self._ledger_key is None or self._ledger_origin is None:
            raise NotFound("this lab's ledger has no signing key yet (no checkpoint was signed)")
        return self.ledger_signer(self._ledger_origin).verifier


def init_keys(force: bool = False, home: Path | None = None) -> KeyPaths:
    """Create the key set under the dflab home. Refuses to replace an existing one unless `force`."""
    return FileKeySet(keys_dir(home)).init(force)


def load_signing_material(home: Path | None = None) -> SigningMaterial:
    """Read the chain and the signer key; a missing or broken key set is a clear error, not a traceback."""
    return FileKeySet(keys_dir(home)).signing_material()


def load_trust_anchor(home: Path | None = None) -> bytes | None:
    """The CA certificate PEM to trust when reading, or None when no keys were initialised."""
    return FileKeySet(keys_dir(home)).trust_anchor()


def check_trust_anchors(data: bytes, source: str) -> bytes:
    """`data` itself when it is one or more PEM certificates and nothing secret; UsageError naming `source`
    otherwise. A trust anchor is public: a private key given in its place is refused, never silently ignored."""
    from cryptography import x509

    if b"PRIVATE KEY-----" in data:
        raise UsageError(f"{source} holds a private key, not a certificate: give the CA certificate (PEM) to trust")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise UsageError(f"{source} is not a PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)")
    return data


def read_trust_file(path: str | Path) -> bytes:
    """The certificates of a `--trust FILE`, checked (check_trust_anchors); errors name FILE, not the media."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"trust anchor {path} does not exist or is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--trust {path}: cannot read it ({exc.strerror or exc})") from None
    return check_trust_anchors(data, f"--trust {path}")


def _check_pem(data: bytes, kind: str, path: Path) -> None:
    if f"-----BEGIN {kind}-----".encode() not in data:
        raise IntegrityError(f"{path} is not a PEM {kind.lower()}; run `dflab keys init --force` to recreate the keys")


def describe_keys(home: Path | None = None) -> dict:
    """Subject, issuer, validity and SHA-256 fingerprints of the key set, for `dflab keys show`."""
    return FileKeySet(keys_dir(home)).describe()


def _describe_cert(pem: bytes, where: Path, key_file: str, key_mode: str | None) -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IntegrityError(f"{where} is not a valid certificate: {exc}") from None
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "key_file": key_file,
        "key_mode": key_mode,
    }
