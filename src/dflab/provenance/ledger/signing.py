"""The ledger's Ed25519 checkpoint key, created on first use under <dflab home>/keys/.

    keys/ledger_ed25519.pem   private key, PKCS#8 PEM, mode 0600 (never leaves this machine)
    keys/ledger.vkey          the public verifier key string, to hand to anyone who checks proofs offline

Creation is race-free: the key is written to a private temp file and hard-linked into place, so when two
processes start at once exactly one key wins and both use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.config import default_config
from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.provenance.ledger.note import NoteSigner, NoteVerifier

DEFAULT_ORIGIN = "dflab.local/ledger"
KEY_FILE = "ledger_ed25519.pem"
VKEY_FILE = "ledger.vkey"


def keys_dir(home: Path | None = None) -> Path:
    return Path(home) / "keys" if home is not None else default_config().keys_dir


def load_or_create_signer(origin: str = DEFAULT_ORIGIN, key_path: Path | None = None) -> NoteSigner:
    """The checkpoint signer for `origin`, generating its key the first time."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(key_path) if key_path else keys_dir() / KEY_FILE
    if not path.exists():
        _create_key(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise IntegrityError(f"ledger signing key {path} is unreadable: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"ledger signing key {path} is not an Ed25519 key")
    signer = NoteSigner(origin, key)
    _write_vkey(path.parent / VKEY_FILE, str(signer.verifier))
    return signer


def _create_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(prefix=".ledger_key.", dir=path.parent)  # mkstemp files are 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process just created
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _write_vkey(path: Path, vkey: str) -> None:
    try:
        if path.exists() and path.read_text().strip() == vkey:
            return
        write_text_atomic(path, vkey + "\n", mode=0o644)
    except (OSError, UsageError):
        pass  # the public key file is a convenience; the private key is what matters


def default_verifier(home: Path | None = None) -> NoteVerifier:
    """The verifier key saved beside the ledger key (what `dflab ledger verify` uses without --key)."""
    return verifier_in(keys_dir(home))


def verifier_in(directory: Path) -> NoteVerifier:
    """The verifier key saved in a keys directory."""
    path = Path(directory) / VKEY_FILE
    if not path.exists():
        raise NotFound(f"no ledger verifier key at {path}: pass --key <name+id+key> (or a file holding it)")
    return NoteVerifier.parse(path.read_text().strip())


def parse_verifier_arg(value: str) -> NoteVerifier:
    """A verifier key given on the command line: the key string itself or a file containing it."""
    if "+" not in value or os.path.exists(value):
        try:
            value = Path(value).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--key {value!r} is neither a verifier key nor a readable file ({exc.strerror})") from None
    return NoteVerifier.parse(value)
