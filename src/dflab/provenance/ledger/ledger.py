"""The transparency ledger: an append-only Merkle log of media records with signed checkpoints.

    with open_ledger() as ledger:                 # $DFLAB_HOME/ledger.sqlite
        rid = ledger.append(Record.for_file("photo.jpg", media_type="image"))
        note = ledger.checkpoint()                # C2SP signed checkpoint over the current tree
        proof = ledger.prove(rid)                 # self-contained, verifiable offline
        verify_proof(proof, ledger.verifier_key)  # anyone holding the public key can do this

Record ids are leaf indexes (0, 1, 2, ...). Every append batch is followed, once it has committed, by a signed
checkpoint of the new tree, stored in the database and in the checkpoint file beside it (checkpoint_file.py), so
`verify_all` can tell a rewritten history from the real one (audit.py). The signing key is created on first use.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dflab.config import default_config
from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.audit import VERIFY_CHUNK, FoundCheckpoint, audit_ledger
from dflab.provenance.ledger.bundle import CONSISTENCY_TYPE, INCLUSION_TYPE, verify_proof
from dflab.provenance.ledger.checkpoint_file import CheckpointFile, checkpoint_path_for
from dflab.provenance.ledger.note import Checkpoint, NoteSigner, NoteVerifier, open_checkpoint
from dflab.provenance.ledger.record import Record
from dflab.provenance.ledger.signing import DEFAULT_ORIGIN, KEY_FILE, keys_dir, load_or_create_signer
from dflab.provenance.ledger.store import LeafEntry, LedgerStore, StoredCheckpoint


def default_ledger_path() -> Path:
    return default_config().database_path


class Ledger:
    """Library face of the log. Thin over a LedgerStore; all Merkle maths lives in merkle.py.

    The checkpoint key comes from `keys` (a provenance.keys.KeySet: what a lab passes in) or, without one, from
    the key file at `key_path` (default: the keys directory of the default configuration). `owns_store=False`
    leaves the store open on close() (the lab that built it closes it). `checkpoint_file`: where the latest
    signed checkpoint is also kept, outside the database (None: only in the database, e.g. in memory)."""

    def __init__(self, store: LedgerStore, *, origin: str = DEFAULT_ORIGIN, key_path: Path | None = None,
                 keys=None, owns_store: bool = True,
                 checkpoint_file: CheckpointFile | str | Path | None = None) -> None:  # fmt: skip
        self.store = store
        if checkpoint_file is not None and not isinstance(checkpoint_file, CheckpointFile):
            checkpoint_file = CheckpointFile(checkpoint_file)
        self.checkpoint_file: CheckpointFile | None = checkpoint_file
        self.origin = origin
        self.keys = keys
        if key_path:
            self.key_path: Path | None = Path(key_path)
        elif keys is not None:
            self.key_path = getattr(keys, "ledger_key_path", None)
        else:
            self.key_path = keys_dir() / KEY_FILE
        self._owns_store = owns_store
        self._signer: NoteSigner | None = None

    # --- context manager ---------------------------------------------------------------------------------

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    # --- keys --------------------------------------------------------------------------------------------

    @property
    def signer(self) -> NoteSigner:
        if self._signer is None:
            if self.keys is not None and self.key_path is None:
                self._signer = self.keys.ledger_signer(self.origin)
            else:
                self._signer = load_or_create_signer(self.origin, self.key_path)
        return self._signer

    @property
    def has_key(self) -> bool:
        """Whether a checkpoint key exists (checking never creates one)."""
        if self._signer is not None:
            return True
        if self.key_path is None:
            return self.keys is not None and self.keys.has_ledger_key()
        return self.key_path.exists()

    @property
    def verifier(self) -> NoteVerifier:
        """The public key checkpoints are checked with (never creates a key)."""
        if not self.has_key:
            where = self.key_path if self.key_path is not None else f"of {getattr(self.keys, 'location', 'this lab')}"
            raise NotFound(f"the ledger signing key {where} does not exist, so checkpoints cannot be checked")
        return self.signer.verifier

    @property
    def verifier_key(self) -> str:
        """The verifier key string ("<name>+<id>+<key>") to share with whoever verifies proofs."""
        return str(self.signer.verifier)

    # --- appending ---------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.store.size()

    def append(self, record: Record) -> int:
        return self.append_batch([record])[0]

    def append_batch(self, records: Sequence[Record]) -> list[int]:
        """Append records atomically (all or none) and return their ids, in order."""
        if not records:
            return []
        size = self.store.size()
        entries = []
        for rec in records:
            if not isinstance(rec, Record):
                raise UsageError(f"ledger records must be Record objects, got {type(rec).__name__}")
            # Ids only grow, so a parent below today's size exists whoever appends concurrently.
            missing = [p for p in rec.parents if p >= size]
            if missing:
                raise NotFound(f"parent record(s) {missing} do not exist (the ledger has {size} records)")
            entries.append(LeafEntry(rec.leaf_bytes(), rec.content_sha256, rec.watermark_payload))
        start = self.store.append_batch(entries)
        self._checkpoint_after_commit()
        return list(range(start, start + len(entries)))

    def _checkpoint_after_commit(self) -> None:
        """Sign a checkpoint of the new tree now, or, inside a caller's transaction, once it commits: a checkpoint
        of records that may still roll back would be a signed lie."""
        database = getattr(self.store, "database", None)
        if database is not None and getattr(database, "in_transaction", False):
            later = getattr(database, "after_commit", None)
            if later is None:
                return  # a backend without the hook: the next append or `ledger checkpoint` signs it
            later(self._checkpoint_quietly)
            return
        self.checkpoint()

    def _checkpoint_quietly(self) -> None:
        self.checkpoint()

    # --- reading -----------------------------------------------------------------------------------------

    def _check_id(self, record_id: int, size: int | None = None) -> int:
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise UsageError(f"record id must be an integer, got {record_id!r}")
        size = self.store.size() if size is None else size
        if not 0 <= record_id < size:
            raise NotFound(f"ledger record {record_id} does not exist (the ledger has {size} records)")
        return record_id

    def get(self, record_id: int) -> Record:
        return Record.from_leaf(self.store.get_leaf(self._check_id(record_id)))

    def get_json(self, record_id: int) -> dict[str, Any]:
        """The record exactly as stored (the dict whose canonical JSON is the leaf)."""
        return self.get(record_id).to_json()

    def leaf_hash(self, record_id: int) -> bytes:
        return self.store.get_node(0, self._check_id(record_id))

    def find(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]:
        """Ids of records with this content hash and/or watermark payload (hex)."""
        return self.store.find_leaves(content_sha256=content_sha256, watermark_payload=watermark_payload)

    def root(self, size: int | None = None) -> bytes:
        """Merkle root of the first `size` records (default: all)."""
        current = self.store.size()
        size = current if size is None else size
        if not 0 <= size <= current:
            raise UsageError(f"tree size {size} is outside 0..{current}")
        return merkle.root_at(size, self.store.get_nodes)

    # --- checkpoints -------------------------------------------------------------------------------------

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self.store.checkpoints()

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        cps = self.store.checkpoints()
        return max(cps, key=lambda c: c.tree_size) if cps else None

    def checkpoint(self) -> str:
        """Sign a checkpoint of the current tree, store it, write it to the checkpoint file, and return it.

        A log must never sign a tree inconsistent with one it signed before, so the latest stored checkpoint and
        the one in the checkpoint file are first checked against the current stored tree.
        """
        # Signed checkpoints first, then the size: the tree only grows, so a checkpoint another appender signed
        # meanwhile is never larger than the size read after it, unless records really were lost.
        previous = [(f"the checkpoint at size {c.tree_size}", c.tree_size, c.root) for c in self._latest_signed()]
        size = self.store.size()
        root = merkle.root_at(size, self.store.get_nodes)
        for what, old_size, old_root in previous:
            if old_size > size:
                raise IntegrityError(f"the ledger has {size} records but {what} was signed: records lost")
            if merkle.root_at(old_size, self.store.get_nodes) != old_root:
                raise IntegrityError(f"stored tree no longer matches {what}; refusing to sign")
        note = self.signer.sign(Checkpoint(self.origin, size, root).text())
        created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.store.add_checkpoint(StoredCheckpoint(size, root, note, created))
        if self.checkpoint_file is not None:
            self.checkpoint_file.publish(note)
        return note

    def _latest_signed(self) -> list[StoredCheckpoint]:
        """The latest checkpoint in the database and the one in the checkpoint file (signature checked)."""
        found = []
        latest = self.latest_checkpoint()
        if latest is not None:
            found.append(latest)
        external = self.checkpoint_file.read() if self.checkpoint_file is not None else None
        if external is not None:
            try:
                cp = open_checkpoint(external, self.signer.verifier, self.origin)
            except IntegrityError as exc:
                raise IntegrityError(f"checkpoint file {self.checkpoint_file.path} does not verify ({exc}); "
                                     "refusing to sign") from None  # fmt: skip
            found.append(StoredCheckpoint(cp.tree_size, cp.root, external, ""))
        return found

    # --- proofs ------------------------------------------------------------------------------------------

    def prove(self, record_id: int) -> dict[str, Any]:
        """A self-contained inclusion proof against the latest signed checkpoint that covers the record.

        If no stored checkpoint covers it yet, a new one is signed.
        """
        self._check_id(record_id)
        covering = [c for c in self.store.checkpoints() if c.tree_size > record_id]
        if covering:
            cp = max(covering, key=lambda c: c.tree_size)
            note, size, root = cp.note, cp.tree_size, cp.root
        else:
            note = self.checkpoint()
            cp_parsed = open_checkpoint(note, self.signer.verifier)
            size, root = cp_parsed.tree_size, cp_parsed.root
        leaf = self.store.get_leaf(record_id)
        leaf_hash = self.store.get_node(0, record_id)
        if merkle.hash_leaf(leaf) != leaf_hash:
            raise IntegrityError(f"ledger record {record_id} was altered: its content no longer matches its leaf hash")
        proof = merkle.inclusion_proof(record_id, size, self.store.get_nodes)
        merkle.verify_inclusion(record_id, size, leaf_hash, proof, root)  # never hand out a bad proof
        return {
            "type": INCLUSION_TYPE,
            "origin": self.origin,
            "index": record_id,
            "tree_size": size,
            "leaf_hash": leaf_hash.hex(),
            "proof": [h.hex() for h in proof],
            "root": root.hex(),
            "checkpoint": note,
            "record": json.loads(leaf),  # the stored leaf itself, so its canonical form hashes to leaf_hash
        }

    def consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """A consistency proof between two tree sizes, with the stored signed checkpoints at those sizes."""
        current = self.store.size()
        new_size = current if new_size is None else new_size
        if not 0 <= old_size <= new_size <= current:
            raise UsageError(f"need 0 <= old size ({old_size}) <= new size ({new_size}) <= ledger size ({current})")
        read = self.store.get_nodes
        proof = [] if old_size in (0, new_size) else merkle.consistency_proof(old_size, new_size, read)
        by_size = {c.tree_size: c.note for c in self.store.checkpoints()}  # later ones win; all are consistent
        return {
            "type": CONSISTENCY_TYPE,
            "origin": self.origin,
            "old_size": old_size,
            "new_size": new_size,
            "old_root": merkle.root_at(old_size, read).hex(),
            "new_root": merkle.root_at(new_size, read).hex(),
            "proof": [h.hex() for h in proof],
            "old_checkpoint": by_size.get(old_size),
            "new_checkpoint": by_size.get(new_size),
        }

    def verify_proof(self, proof: dict[str, Any], verifier_key: NoteVerifier | str | None = None) -> dict[str, Any]:
        """Verify a proof file (inclusion or consistency); raises IntegrityError, returns a summary."""
        return verify_proof(proof, verifier_key if verifier_key is not None else self.verifier)

    # --- audit -------------------------------------------------------------------------------------------

    def verify_all(self, against: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Recompute every leaf hash, every stored subtree hash, the lookup columns and the root from the stored
        records, and hold the tree to every checkpoint: the database's, the checkpoint file's, and `against`
        (pairs of signed note and where it came from). See audit.py.

        Raises IntegrityError naming the first record, column or checkpoint that does not check out.
        """
        found = [FoundCheckpoint(note, where) for note, where in (against or [])]
        return audit_ledger(self, found, chunk=VERIFY_CHUNK)


def open_ledger(
    path: str | Path | None = None,
    *,
    store: LedgerStore | None = None,
    origin: str = DEFAULT_ORIGIN,
    key_path: Path | None = None,
    synchronous: str = "FULL",
) -> Ledger:
    """Open (creating if needed) the ledger: SQLite at `path` (default: the database of the default
    configuration, $DFLAB_HOME/ledger.sqlite), PostgreSQL when `path` is a postgresql:// URL, or `store`.
    Commands get theirs from a lab (`Lab.ledger()`). The latest checkpoint is also kept in a file: beside the
    SQLite file, or in the dflab home for a database server."""
    from dflab.storage.postgres import is_postgres_url

    if store is None and isinstance(path, str) and is_postgres_url(path):
        from dflab.provenance.ledger.postgres_store import PostgresLedgerStore

        store, path = PostgresLedgerStore(path), None
        return Ledger(store, origin=origin, key_path=key_path,
                      checkpoint_file=default_config().home / "ledger.checkpoint")  # fmt: skip
    checkpoint_file = None
    if store is None:
        from dflab.provenance.ledger.sqlite_store import SQLiteStore

        db_path = Path(path) if path else default_ledger_path()
        store = SQLiteStore(db_path, synchronous=synchronous)
        checkpoint_file = checkpoint_path_for(db_path)
    elif path is not None:
        raise UsageError("give either a ledger path or a store, not both")
    return Ledger(store, origin=origin, key_path=key_path, checkpoint_file=checkpoint_file)
