"""Transparency ledger: an append-only RFC 6962 / RFC 9162 Merkle log of media records.

Pure Merkle maths in `merkle`, storage behind `LedgerStore` (`MemoryStore`, `SQLiteStore`), C2SP signed-note
checkpoints in `note`, offline proof checking in `bundle`, and the `Ledger` facade returned by `open_ledger`.
Importing this package is cheap: SQLite and `cryptography` load only when used.
"""

from dflab.provenance.ledger.bundle import verify_consistency_bundle, verify_inclusion_bundle, verify_proof
from dflab.provenance.ledger.ledger import Ledger, default_ledger_path, open_ledger
from dflab.provenance.ledger.merkle import ProofError, RootMismatch
from dflab.provenance.ledger.note import Checkpoint, NoteSigner, NoteVerifier, open_checkpoint, open_note
from dflab.provenance.ledger.record import Record, canonical_json, sha256_file, utc_now_iso
from dflab.provenance.ledger.signing import DEFAULT_ORIGIN, default_verifier
from dflab.provenance.ledger.store import LeafEntry, LedgerBusy, LedgerStore, MemoryStore, StoredCheckpoint


def __getattr__(name: str):
    # SQLiteStore is imported lazily so `import dflab.provenance.ledger` does not load sqlite3.
    if name == "SQLiteStore":
        from dflab.provenance.ledger.sqlite_store import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Checkpoint",
    "DEFAULT_ORIGIN",
    "LeafEntry",
    "Ledger",
    "LedgerBusy",
    "LedgerStore",
    "MemoryStore",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "Record",
    "RootMismatch",
    "SQLiteStore",
    "StoredCheckpoint",
    "canonical_json",
    "default_ledger_path",
    "default_verifier",
    "open_checkpoint",
    "open_ledger",
    "open_note",
    "sha256_file",
    "utc_now_iso",
    "verify_consistency_bundle",
    "verify_inclusion_bundle",
    "verify_proof",
]
