"""The transparency ledger: an append-only Merkle log of media records with signed checkpoints.

    with open_ledger() as ledger:                 # $DFLAB_HOME/ledger.sqlite
        rid = ledger.append(Record.for_file("photo.jpg", media_type="image"))
        note = ledger.checkpoint()                # C2SP signed checkpoint over the current tree
        proof = ledger.prove(rid)                 # self-contained, verifiable offline
        verify_proof(proof, ledger.verifier_key)  # anyone holding the public key can do this

Record ids are leaf indexes (0, 1, 2, ...). The signing key is only created when a checkpoint is first made.
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
from dflab.provenance.ledger.bundle import CONSISTENCY_TYPE, INCLUSION_TYPE, verify_proof
from dflab.provenance.ledger.note import Checkpoint, NoteSigner, NoteVerifier, open_checkpoint
from dflab.provenance.ledger.record import Record
from dflab.provenance.ledger.signing import DEFAULT_ORIGIN, KEY_FILE, keys_dir, load_or_create_signer
from dflab.provenance.ledger.store import LeafEntry, LedgerStore, StoredCheckpoint

VERIFY_CHUNK = 1 << 14  # leaves per step of verify_all (a multiple of 2 keeps chunk starts aligned)


def default_ledger_path() -> Path:
    return default_config().database_path


class Ledger:
    """Library face of the log. Thin over a LedgerStore; all Merkle maths lives in merkle.py.

    The checkpoint key comes from `keys` (a provenance.keys.KeySet: what a lab passes in) or, without one, from
    the key file at `key_path` (default: the keys directory of the default configuration). `owns_store=False`
    leaves the store open on close() (the lab that built it closes it)."""

    def __init__(self, store: LedgerStore, *, origin: str = DEFAULT_ORIGIN, key_path: Path | None = None,
                 keys=None, owns_store: bool = True) -> None:  # fmt: skip
        self.store = store
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
        return list(range(start, start + len(entries)))

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
        """Sign, store and return a checkpoint of the current tree.

        A log must never sign a tree inconsistent with one it signed before, so the latest stored checkpoint
        is first checked against the current stored tree.
        """
        size = self.store.size()
        root = merkle.root_at(size, self.store.get_nodes)
        previous = self.latest_checkpoint()
        if previous is not None:
            if previous.tree_size > size:
                raise IntegrityError(
                    f"the ledger has {size} records but a checkpoint was signed at {previous.tree_size}: records lost"
                )
            if merkle.root_at(previous.tree_size, self.store.get_nodes) != previous.root:
                raise IntegrityError(
                    f"stored tree no longer matches the checkpoint at size {previous.tree_size}; refusing to sign"
                )
        note = self.signer.sign(Checkpoint(self.origin, size, root).text())
        created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.store.add_checkpoint(StoredCheckpoint(size, root, note, created))
        return note

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

    def verify_all(self) -> dict[str, Any]:
        """Recompute every leaf hash, every stored subtree hash and the root from the stored records, and check
        every stored checkpoint (signature, and root equal to the recomputed tree at its size).

        Raises IntegrityError naming the first record or checkpoint that does not check out.
        """
        size = self.store.size()
        last_at_level: dict[int, tuple[int, bytes]] = {}

        def read_recomputed(keys: Sequence[merkle.NodeKey]) -> list[bytes]:
            out = []
            for level, idx in keys:
                have = last_at_level.get(level)
                if have is None or have[0] != idx:
                    raise IntegrityError(f"internal: node ({level}, {idx}) not recomputed yet")
                out.append(have[1])
            return out

        checked_nodes = 0
        for start in range(0, size, VERIFY_CHUNK):
            end = min(size, start + VERIFY_CHUNK)
            leaves = list(self.store.iter_leaves(start, end))
            if [i for i, _ in leaves] != list(range(start, end)):
                present = {i for i, _ in leaves}
                gap = next(i for i in range(start, end) if i not in present)
                raise IntegrityError(f"ledger record {gap} is missing from the store")
            rows = merkle.new_perfect_nodes(start, [merkle.hash_leaf(data) for _, data in leaves], read_recomputed)
            checked_nodes += self._compare_nodes(rows)
            for level, idx, h in rows:
                last_at_level[level] = (idx, h)

        root = merkle.root_at(size, self.store.get_nodes)  # every node it reads was just checked
        cps = self.store.checkpoints()
        verifier = self.verifier if cps else None
        for cp in cps:
            self._check_checkpoint(cp, verifier, size, root)
        return {
            "ok": True,
            "records": size,
            "nodes_checked": checked_nodes,
            "root": root.hex(),
            "checkpoints": len(cps),
        }

    def _compare_nodes(self, rows: list[tuple[int, int, bytes]]) -> int:
        by_level: dict[int, list[tuple[int, bytes]]] = {}
        for level, idx, h in rows:
            by_level.setdefault(level, []).append((idx, h))
        for level, items in by_level.items():
            first = items[0][0]
            stored = self.store.node_range(level, first, first + len(items))
            for pos, (idx, h) in enumerate(items):
                if pos >= len(stored):
                    raise IntegrityError(f"ledger tree node ({level}, {idx}) is missing from the store")
                if stored[pos] != h:
                    if level == 0:
                        raise IntegrityError(
                            f"ledger record {idx} was altered: its content no longer matches its stored leaf hash"
                        )
                    raise IntegrityError(f"ledger tree node ({level}, {idx}) does not match the recomputed tree")
        return len(rows)

    def _check_checkpoint(self, cp: StoredCheckpoint, verifier: NoteVerifier, size: int, root: bytes) -> None:
        try:
            parsed = open_checkpoint(cp.note, verifier)
        except IntegrityError as exc:
            raise IntegrityError(f"stored checkpoint at size {cp.tree_size} does not verify: {exc}") from None
        if (parsed.tree_size, parsed.root) != (cp.tree_size, cp.root):
            raise IntegrityError(f"stored checkpoint at size {cp.tree_size} disagrees with its signed note")
        if parsed.tree_size > size:
            raise IntegrityError(
                f"a checkpoint was signed at size {parsed.tree_size} but the ledger has {size} records: records lost"
            )
        if merkle.root_at(parsed.tree_size, self.store.get_nodes) != parsed.root:
            raise IntegrityError(f"the ledger is no longer consistent with the checkpoint signed at size {parsed.tree_size}")
        if 0 < parsed.tree_size < size:
            proof = merkle.consistency_proof(parsed.tree_size, size, self.store.get_nodes)
            merkle.verify_consistency(parsed.tree_size, size, proof, parsed.root, root)


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
    Commands get theirs from a lab (`Lab.ledger()`)."""
    from dflab.storage.postgres import is_postgres_url

    if store is None and isinstance(path, str) and is_postgres_url(path):
        from dflab.provenance.ledger.postgres_store import PostgresLedgerStore

        store, path = PostgresLedgerStore(path), None
        return Ledger(store, origin=origin, key_path=key_path)
    if store is None:
        from dflab.provenance.ledger.sqlite_store import SQLiteStore

        store = SQLiteStore(Path(path) if path else default_ledger_path(), synchronous=synchronous)
    elif path is not None:
        raise UsageError("give either a ledger path or a store, not both")
    return Ledger(store, origin=origin, key_path=key_path)
