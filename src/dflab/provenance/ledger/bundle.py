"""Self-contained proof files and their offline verification (no database, only the public verifier key).

Inclusion proof file (what `dflab ledger prove RECORD --json` prints):
    {"type": "dflab.ledger.inclusion/v1", "origin", "index", "tree_size", "leaf_hash", "proof": [hex...],
     "root", "checkpoint": "<signed note>", "record": {...}}
Consistency proof file (`dflab ledger consistency OLD [NEW] --json`):
    {"type": "dflab.ledger.consistency/v1", "origin", "old_size", "new_size", "old_root", "new_root",
     "proof": [hex...], "old_checkpoint": note|null, "new_checkpoint": note|null}

Verification trusts nothing in the file except what the signed checkpoint vouches for: the checkpoint's
signature is checked first, then its size and root must equal the file's, the record must hash to the leaf
hash, and the proof must lead from that leaf to that root.
"""

from __future__ import annotations

import re
from typing import Any

from dflab.errors import IntegrityError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.note import Checkpoint, NoteVerifier, open_checkpoint
from dflab.provenance.ledger.record import Record, canonical_json

INCLUSION_TYPE = "dflab.ledger.inclusion/v1"
CONSISTENCY_TYPE = "dflab.ledger.consistency/v1"
_HASH_HEX = re.compile(r"^[0-9a-f]{64}$")


def _int(bundle: dict, key: str) -> int:
    value = bundle.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntegrityError(f"proof field {key!r} must be a non-negative integer, got {value!r}")
    return value


def _hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HASH_HEX.match(value.lower()):
        raise IntegrityError(f"{what} must be 64 hex characters, got {str(value)[:80]!r}")
    return bytes.fromhex(value)


def _hash_list(bundle: dict) -> list[bytes]:
    proof = bundle.get("proof")
    if proof is None:
        proof = []
    if not isinstance(proof, list):
        raise IntegrityError("proof field 'proof' must be a list of hex hashes")
    return [_hash(h, f"proof[{i}]") for i, h in enumerate(proof)]


def _as_verifier(key: NoteVerifier | str) -> NoteVerifier:
    return key if isinstance(key, NoteVerifier) else NoteVerifier.parse(key)


def _checkpoint_matches(note: Any, verifier: NoteVerifier, size: int, root: bytes, which: str) -> Checkpoint:
    if not isinstance(note, str):
        raise IntegrityError(f"{which} checkpoint is missing from the proof file")
    checkpoint = open_checkpoint(note, verifier)
    if checkpoint.tree_size != size:
        raise IntegrityError(f"{which} checkpoint is for tree size {checkpoint.tree_size}, the proof says {size}")
    if checkpoint.root != root:
        raise IntegrityError(f"{which} checkpoint root differs from the proof's root")
    return checkpoint


def verify_inclusion_bundle(bundle: Any, verifier_key: NoteVerifier | str) -> dict[str, Any]:
    """Check an inclusion proof file offline; returns a summary, raises IntegrityError on any failure."""
    if not isinstance(bundle, dict):
        raise IntegrityError("proof file must contain a JSON object")
    verifier = _as_verifier(verifier_key)
    index, size = _int(bundle, "index"), _int(bundle, "tree_size")
    root = _hash(bundle.get("root"), "root")
    leaf_hash = _hash(bundle.get("leaf_hash"), "leaf_hash")
    proof = _hash_list(bundle)
    checkpoint = _checkpoint_matches(bundle.get("checkpoint"), verifier, size, root, "signed")
    if "record" not in bundle:
        raise IntegrityError("proof file has no record")
    record = Record.from_json(bundle["record"])  # well-formed record, else IntegrityError
    if merkle.hash_leaf(canonical_json(bundle["record"])) != leaf_hash:
        raise IntegrityError("the record in the proof file does not hash to its leaf hash (record altered)")
    merkle.verify_inclusion(index, size, leaf_hash, proof, root)
    return {
        "ok": True,
        "kind": "inclusion",
        "origin": checkpoint.origin,
        "index": index,
        "tree_size": size,
        "root": root.hex(),
        "content_sha256": record.content_sha256,
        "key": f"{verifier.name}+{verifier.key_id.hex()}",
    }


def verify_consistency_bundle(bundle: Any, verifier_key: NoteVerifier | str | None) -> dict[str, Any]:
    """Check a consistency proof file; checkpoints in it (if any) must be signed by the verifier key."""
    if not isinstance(bundle, dict):
        raise IntegrityError("proof file must contain a JSON object")
    old_size, new_size = _int(bundle, "old_size"), _int(bundle, "new_size")
    old_root = _hash(bundle.get("old_root"), "old_root")
    new_root = _hash(bundle.get("new_root"), "new_root")
    proof = _hash_list(bundle)
    if old_size == 0:
        if proof or old_root != merkle.EMPTY_ROOT:
            raise IntegrityError("a proof from the empty tree must be empty and start at the empty root")
        if new_size == 0 and new_root != merkle.EMPTY_ROOT:
            raise IntegrityError("an empty tree must have the empty root")
    else:
        merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
    signed = []
    if verifier_key is not None:
        verifier = _as_verifier(verifier_key)
        for which, size, root in (("old", old_size, old_root), ("new", new_size, new_root)):
            note = bundle.get(f"{which}_checkpoint")
            if note is not None:
                _checkpoint_matches(note, verifier, size, root, which)
                signed.append(which)
    return {"ok": True, "kind": "consistency", "old_size": old_size, "new_size": new_size, "signed": signed}


def verify_proof(bundle: Any, verifier_key: NoteVerifier | str) -> dict[str, Any]:
    """Verify either kind of proof file (dispatch on its fields)."""
    if isinstance(bundle, dict) and "old_size" in bundle:
        return verify_consistency_bundle(bundle, verifier_key)
    return verify_inclusion_bundle(bundle, verifier_key)
