"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, and tlog checkpoints (c2sp.org/tlog-checkpoint).

A signed note is: text ending in "\\n", a blank line, then signature lines
    "— <key name> <base64(4-byte key id || Ed25519 signature over the text)>\\n"
with key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. A verifier key is shared as
    "<key name>+<8 hex digits of key id>+<base64(0x01 || public key)>".
A checkpoint is a note whose text is "<origin>\\n<tree size>\\n<base64 root hash>\\n" (+ optional extension lines).

Everything that can be wrong with a note someone hands us (bad UTF-8, control characters, bad base64, wrong
key, forged signature, malformed body) raises IntegrityError with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from dflab.errors import IntegrityError, UsageError

SIG_TYPE_ED25519 = 0x01
EM_DASH = "\u2014"
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
_SIG_LINE = re.compile(r"^\u2014 (\S+) (\S+)$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise IntegrityError(f"{what} is not valid base64") from None


def _check_key_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise UsageError(f"note key name {name!r} must be non-empty without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id the signed-note spec recommends for Ed25519 keys."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([SIG_TYPE_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier: key name, key id and 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> NoteVerifier:
        _check_key_name(name)
        if len(public_key) != 32:
            raise UsageError("an Ed25519 public key has 32 bytes")
        return cls(name, key_id(name, public_key), bytes(public_key))

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse "<name>+<hex key id>+<base64(0x01 || public key)>", checking the id matches the key."""
        if not isinstance(vkey, str):
            raise IntegrityError("verifier key must be a string")
        parts = vkey.strip().split("+", 2)  # base64 may itself contain '+'; names and ids cannot
        if len(parts) != 3 or not parts[0] or any(ch.isspace() for ch in parts[0]):
            raise IntegrityError("verifier key must look like <name>+<8 hex digits>+<base64 key>")
        name, hex_id, b64 = parts
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise IntegrityError(f"verifier key id {hex_id!r} must be 8 lowercase hex digits")
        raw = _b64decode(b64, "verifier key")
        if len(raw) != 33 or raw[0] != SIG_TYPE_ED25519:
            raise IntegrityError("verifier key is not an Ed25519 (type 0x01) key of 32 bytes")
        verifier = cls(name, bytes.fromhex(hex_id), raw[1:])
        if key_id(name, verifier.public_key) != verifier.key_id:
            raise IntegrityError(f"verifier key id {hex_id} does not match its public key")
        return verifier

    def __str__(self) -> str:
        b64 = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
            return True
        except (InvalidSignature, ValueError):
            return False


class NoteSigner:
    """Signs note texts with an Ed25519 private key under a key name."""

    def __init__(self, name: str, private_key) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        _check_key_name(name)
        self.name = name
        self._key = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = NoteVerifier.from_public_key(name, raw)

    def signature_line(self, text: str) -> str:
        sig = self._key.sign(text.encode("utf-8"))
        return f"{EM_DASH} {self.name} {base64.b64encode(self.verifier.key_id + sig).decode()}\n"

    def sign(self, text: str) -> str:
        """The signed note: text, blank line, our signature line."""
        _check_text(text)
        return text + "\n" + self.signature_line(text)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise UsageError("note text must end with a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise UsageError("note text must not contain control characters")


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Parse a signed note into its text and signatures (nothing verified yet)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise IntegrityError("signed note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise IntegrityError("signed note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise IntegrityError("signed note must be text")
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise IntegrityError("signed note is too large")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise IntegrityError("signed note contains control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise IntegrityError("signed note is malformed: no blank line before the signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise IntegrityError("signed note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise IntegrityError(f"signed note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        match = _SIG_LINE.match(line)
        if not match or "+" in match.group(1):
            raise IntegrityError(f"signed note has a malformed signature line: {line[:80]!r}")
        raw = _b64decode(match.group(2), "note signature")
        if len(raw) < 5:
            raise IntegrityError("note signature is too short")
        sigs.append(NoteSignature(match.group(1), raw[:4], raw[4:]))
    return text, sigs


def open_note(note: str | bytes, verifiers: list[NoteVerifier]) -> str:
    """The note text, if a known key signed it; otherwise IntegrityError.

    Signatures from unknown keys (name and id not both matching) are ignored, as the spec requires; a
    failing signature from a known key rejects the whole note.
    """
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if len(sig.signature) != 64 or not verifier.verify(text.encode("utf-8"), sig.signature):
            raise IntegrityError(f"signature by {sig.name} on the note does not verify (forged or altered note)")
        verified = True
    if not verified:
        names = ", ".join(sorted({s.name for s in sigs})) or "nobody"
        expected = ", ".join(f"{v.name}+{v.key_id.hex()}" for v in verifiers)
        raise IntegrityError(f"note is signed by {names}, not by the expected key {expected}")
    return text


# --------------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse a checkpoint body (already verified)."""
    if not text.endswith("\n"):
        raise IntegrityError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise IntegrityError("checkpoint must have an origin, a tree size and a root hash line")
    origin, size, root_b64, *ext = lines
    if not origin:
        raise IntegrityError("checkpoint origin is empty")
    if not _DECIMAL.match(size) or len(size) > 20:
        raise IntegrityError(f"checkpoint tree size {size[:40]!r} is not a decimal number")
    root = _b64decode(root_b64, "checkpoint root hash")
    if len(root) != 32:
        raise IntegrityError(f"checkpoint root hash has {len(root)} bytes, expected 32")
    if any(not line for line in ext):
        raise IntegrityError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size), root, tuple(ext))


def open_checkpoint(note: str | bytes, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and return its contents; the origin must match if one is given."""
    checkpoint = parse_checkpoint_text(open_note(note, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise IntegrityError(f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
