"""A witness: cosigns another log's checkpoints (C2SP tlog-cosignature, as used by tlog-witness), never two
inconsistent ones.

A cosignature is one more signature line on the log's signed note:
    "— <witness name> base64(key id (4) || timestamp (8, big-endian seconds) || Ed25519 signature (64))"
over the message "cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint text; the key id is
SHA-256(name || 0x0A || 0x04 || public key)[:4] and the verifier key is "<name>+<hex id>+base64(0x04 || key)".

Before cosigning, the witness checks the log's signature (the log's verifier key is given), and that the new
checkpoint is consistent with the last one it cosigned for that origin: same size and root, or a larger tree with
a consistency proof (RFC 9162) from the old size. It keeps that last checkpoint, one file per origin, so it can
never be walked back or shown a forked tree. Its key and state live under <dflab home>/witness/.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dflab.atomic import write_text_atomic
from dflab.errors import IntegrityError, UsageError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.checkpoint_file import CheckpointFile
from dflab.provenance.ledger.note import EM_DASH, Checkpoint, NoteVerifier, _b64decode, open_checkpoint, split_note

SIG_TYPE_COSIGNATURE = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"
WITNESS_KEY_FILE = "witness_ed25519.pem"
WITNESS_VKEY_FILE = "witness.vkey"


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([SIG_TYPE_COSIGNATURE]) + public_key).digest()[:4]


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return (COSIGNATURE_HEADER + f"time {timestamp}\n" + checkpoint_text).encode("utf-8")


@dataclass(frozen=True)
class CosignatureVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> CosignatureVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not parts[0]:
            raise IntegrityError("witness key must look like <name>+<8 hex digits>+<base64 key>")
        name, hex_id, b64 = parts
        raw = _b64decode(b64, "witness key")
        if len(raw) != 33 or raw[0] != SIG_TYPE_COSIGNATURE:
            raise IntegrityError("witness key is not a cosignature/v1 (type 0x04) Ed25519 key")
        verifier = cls(name, cosignature_key_id(name, raw[1:]), raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise IntegrityError(f"witness key id {hex_id} does not match its public key")
        return verifier

    def __str__(self) -> str:
        b64 = base64.b64encode(bytes([SIG_TYPE_COSIGNATURE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def verify(self, note: str) -> int:
        """The timestamp of this witness's valid cosignature on `note`; IntegrityError if there is none."""
        text, sigs = split_note(note)
        for sig in sigs:
            if (sig.name, sig.key_id) != (self.name, self.key_id):
                continue
            if len(sig.signature) != 8 + 64:
                raise IntegrityError(f"cosignature by {self.name} has the wrong length")
            timestamp = struct.unpack(">Q", sig.signature[:8])[0]
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

            try:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                    sig.signature[8:], cosigned_message(text, timestamp)
                )
            except InvalidSignature:
                raise IntegrityError(f"cosignature by {self.name} does not verify (forged or altered note)") from None
            return timestamp
        raise IntegrityError(f"the checkpoint carries no cosignature by witness {self.name}")


class Witness:
    """Cosigns checkpoints of other logs after checking they extend what it cosigned before."""

    def __init__(self, home: str | Path, name: str = "dflab.local/witness") -> None:
        if not name or any(ch.isspace() for ch in name) or "+" in name:
            raise UsageError(f"witness name {name!r} must be non-empty without spaces or '+'")
        self.dir = Path(home)
        self.name = name
        self._key = None

    def _private_key(self):
        if self._key is None:
            from cryptography.hazmat.primitives import serialization

            from dflab.provenance.ledger.signing import _create_key

            path = self.dir / WITNESS_KEY_FILE
            if not path.exists():
                _create_key(path)
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            self._key = key
        return self._key

    @property
    def verifier(self) -> CosignatureVerifier:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self._private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return CosignatureVerifier(self.name, cosignature_key_id(self.name, raw), raw)

    def state_file(self, origin: str) -> CheckpointFile:
        safe = hashlib.sha256(origin.encode()).hexdigest()[:16]  # origins are URLs; keep file names plain
        return CheckpointFile(self.dir / "logs" / f"{safe}.checkpoint")

    def last_cosigned(self, origin: str, log_key: NoteVerifier) -> Checkpoint | None:
        note = self.state_file(origin).read()
        return open_checkpoint(note, log_key, origin) if note is not None else None

    def cosign(self, note: str, log_key: NoteVerifier, proof: list[bytes] | None = None,
               timestamp: int | None = None) -> dict[str, Any]:  # fmt: skip
        """Check `note` (the log's signature, consistency with the last cosigned checkpoint of its origin) and
        return it with this witness's cosignature added. The checkpoint becomes the witness's new state."""
        checkpoint = open_checkpoint(note, log_key)
        previous = self.last_cosigned(checkpoint.origin, log_key)
        check_extends(previous, checkpoint, proof or [])
        text, _ = split_note(note)
        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        key = self._private_key()
        signature = key.sign(cosigned_message(text, timestamp))
        blob = self.verifier.key_id + struct.pack(">Q", timestamp) + signature
        cosigned = note + f"{EM_DASH} {self.name} {base64.b64encode(blob).decode()}\n"
        self.state_file(checkpoint.origin).publish(note)
        write_text_atomic(self.dir / WITNESS_VKEY_FILE, str(self.verifier) + "\n", mode=0o644)
        return {
            "origin": checkpoint.origin,
            "tree_size": checkpoint.tree_size,
            "root": checkpoint.root.hex(),
            "previous_size": previous.tree_size if previous is not None else None,
            "timestamp": timestamp,
            "witness_key": str(self.verifier),
            "checkpoint": cosigned,
        }


def check_extends(previous: Checkpoint | None, new: Checkpoint, proof: list[bytes]) -> None:
    """IntegrityError unless `new` is `previous` or a consistent extension of it (proof from the old size)."""
    if previous is None:
        return
    if new.tree_size < previous.tree_size:
        raise IntegrityError(
            f"checkpoint of {new.origin} at size {new.tree_size} is older than the one already cosigned at size "
            f"{previous.tree_size}: refusing to go back"
        )
    if new.tree_size == previous.tree_size:
        if new.root != previous.root:
            raise IntegrityError(
                f"{new.origin} signed two different trees at size {new.tree_size}: a fork, refusing to cosign"
            )
        return
    if previous.tree_size == 0:
        return
    if not proof:
        raise UsageError(
            f"a consistency proof from size {previous.tree_size} to {new.tree_size} is needed (the last checkpoint "
            f"of {new.origin} cosigned here): give --proof with `dflab ledger consistency {previous.tree_size} "
            f"{new.tree_size} --json` from the log"
        )
    try:
        merkle.verify_consistency(previous.tree_size, new.tree_size, proof, previous.root, new.root)
    except merkle.ProofError as exc:
        raise IntegrityError(
            f"checkpoint of {new.origin} at size {new.tree_size} is not consistent with the one cosigned at size "
            f"{previous.tree_size} ({exc}): refusing to cosign"
        ) from None
