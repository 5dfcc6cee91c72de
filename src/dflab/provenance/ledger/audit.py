"""`verify --all`: recompute the stored ledger and hold it to every signed checkpoint that can be found.

What is checked, and why each part is needed:
  * every leaf hash, every stored subtree hash and the root, recomputed from the stored records;
  * the lookup columns beside each leaf (content hash, watermark payload) equal the record's own fields, so a
    search by hash or watermark can never find a record that does not say so;
  * every checkpoint in the database, the external checkpoint file (checkpoint_file.py) and any checkpoint handed
    in (`--against`): its signature, its origin, the root of the stored tree at its size, and a consistency
    proof from its size to today's tree. A database rewritten consistently with itself (leaf edited, nodes
    recomputed, checkpoints deleted) still fails against a checkpoint kept elsewhere;
  * checkpoints cannot vanish unnoticed: a ledger with records and no checkpoint anywhere, a checkpoint file whose
    checkpoint is not in the database, or a database checkpoint newer than the file are all errors.

Every failure is an IntegrityError naming the record, node or checkpoint that does not check out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dflab.errors import IntegrityError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.checkpoint_file import unverified_checkpoint
from dflab.provenance.ledger.note import Checkpoint, NoteVerifier, open_checkpoint
from dflab.provenance.ledger.record import Record

if TYPE_CHECKING:
    from dflab.provenance.ledger.ledger import Ledger

VERIFY_CHUNK = 1 << 14  # leaves per step (a multiple of 2 keeps chunk starts aligned)


@dataclass(frozen=True)
class FoundCheckpoint:
    """A signed checkpoint note and where it was found (named in every message about it)."""

    note: str
    where: str


def audit_ledger(ledger: Ledger, against: Sequence[FoundCheckpoint] = (), chunk: int = VERIFY_CHUNK) -> dict[str, Any]:
    store = ledger.store
    stored, file_note = read_checkpoints(ledger)
    size = store.size()  # after the checkpoints: the tree only grows, so every checkpoint read is within it
    checked_nodes = recompute_tree(store, size, chunk)
    checked_columns = check_lookup_columns(store, size, chunk)
    root = merkle.root_at(size, store.get_nodes)  # every node it reads was just checked

    found = [FoundCheckpoint(cp.note, f"database checkpoint #{i + 1} (size {cp.tree_size})") for i, cp in enumerate(stored)]
    file = ledger.checkpoint_file
    if file_note is not None:
        found.append(FoundCheckpoint(file_note, f"checkpoint file {file.path}"))
    kept = len(found)
    found.extend(against)

    verifier = ledger.verifier if found else None
    parsed: dict[str, Checkpoint] = {}
    for item in found:  # a checkpoint the tree fails names the break best, so these come first
        parsed[item.where] = check_checkpoint(item, verifier, ledger.origin, store, size, root)
    if size > 0 and kept == 0:
        where = f" nor in {file.path}" if file is not None else ""
        raise IntegrityError(
            f"the ledger has {size} records but no signed checkpoint in the database{where}: checkpoints are missing"
        )
    # Stored rows must say what their signed notes say (the note is what was signed).
    for i, cp in enumerate(stored):
        note_cp = parsed[found[i].where]
        if (note_cp.tree_size, note_cp.root) != (cp.tree_size, cp.root):
            raise IntegrityError(f"{found[i].where} disagrees with its own signed note")
    if file is not None:
        check_file_against_database(file, file_note, stored, parsed)

    signed = max((cp.tree_size for cp in parsed.values()), default=0)
    return {
        "ok": True,
        "records": size,
        "nodes_checked": checked_nodes,
        "columns_checked": checked_columns,
        "root": root.hex(),
        "checkpoints": len(stored),
        "checkpoint_file": str(file.path) if file is not None else None,
        "external_checkpoint_size": parsed[f"checkpoint file {file.path}"].tree_size if file_note else None,
        "checked_against": [item.where for item in against],
        "unsigned_records": max(0, size - signed),
    }


def read_checkpoints(ledger: Ledger) -> tuple[list, str | None]:
    """The database's checkpoints and the checkpoint file's note, read so that appenders running meanwhile are no
    false alarm: a writer stores a checkpoint in the database and then publishes it to the file, so the file is read
    first, and once more if the database already holds a newer checkpoint (a writer between its two steps)."""
    file = ledger.checkpoint_file
    file_note = file.read() if file is not None else None
    stored = ledger.store.checkpoints()
    if file_note is not None and stored and max(cp.tree_size for cp in stored) > _unverified_size(file_note):
        file_note = file.read()
    return stored, file_note


def _unverified_size(note: str) -> int:
    try:
        return unverified_checkpoint(note).tree_size
    except IntegrityError:
        return -1  # damaged: check_checkpoint names it


def recompute_tree(store, size: int, chunk: int) -> int:
    """Recompute every leaf and perfect-subtree hash from the records and compare with the stored nodes."""
    last_at_level: dict[int, tuple[int, bytes]] = {}

    def read_recomputed(keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        out = []
        for level, idx in keys:
            have = last_at_level.get(level)
            if have is None or have[0] != idx:
                raise IntegrityError(f"internal: node ({level}, {idx}) not recomputed yet")
            out.append(have[1])
        return out

    checked = 0
    for start in range(0, size, chunk):
        end = min(size, start + chunk)
        leaves = list(store.iter_leaves(start, end))
        if [i for i, _ in leaves] != list(range(start, end)):
            present = {i for i, _ in leaves}
            gap = next(i for i in range(start, end) if i not in present)
            raise IntegrityError(f"ledger record {gap} is missing from the store")
        rows = merkle.new_perfect_nodes(start, [merkle.hash_leaf(data) for _, data in leaves], read_recomputed)
        checked += compare_nodes(store, rows)
        for level, idx, h in rows:
            last_at_level[level] = (idx, h)
    return checked


def compare_nodes(store, rows: list[tuple[int, int, bytes]]) -> int:
    by_level: dict[int, list[tuple[int, bytes]]] = {}
    for level, idx, h in rows:
        by_level.setdefault(level, []).append((idx, h))
    for level, items in by_level.items():
        first = items[0][0]
        stored = store.node_range(level, first, first + len(items))
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


def check_lookup_columns(store, size: int, chunk: int) -> int:
    """The content-hash and watermark columns of every leaf equal the fields of the record it stores."""
    iter_entries = getattr(store, "iter_leaf_entries", None)
    if iter_entries is None:
        return 0  # a backend without the columns (or without a way to read them back) has nothing to check
    checked = 0
    for start in range(0, size, chunk):
        for idx, entry in iter_entries(start, min(size, start + chunk)):
            record = Record.from_leaf(entry.data)
            if entry.content_sha256 != record.content_sha256:
                raise IntegrityError(
                    f"ledger record {idx}: its stored content hash {entry.content_sha256[:16]}... is not the record's "
                    f"{record.content_sha256[:16]}... (the lookup column was altered)"
                )
            if entry.watermark_payload != record.watermark_payload:
                raise IntegrityError(
                    f"ledger record {idx}: its stored watermark {entry.watermark_payload!r} is not the record's "
                    f"{record.watermark_payload!r} (the lookup column was altered)"
                )
            checked += 1
    return checked


def check_checkpoint(item: FoundCheckpoint, verifier: NoteVerifier, origin: str, store, size: int,
                     root: bytes) -> Checkpoint:  # fmt: skip
    """Signature, origin, the stored tree at its size, and consistency from there to today's tree."""
    try:
        cp = open_checkpoint(item.note, verifier, origin)
    except IntegrityError as exc:
        raise IntegrityError(f"{item.where} does not verify: {exc}") from None
    named = f"the checkpoint signed at size {cp.tree_size} (root {cp.root.hex()[:16]}..., {item.where})"
    if cp.tree_size > size:
        raise IntegrityError(f"{named} is beyond the ledger's {size} records: records lost")
    if merkle.root_at(cp.tree_size, store.get_nodes) != cp.root:
        raise IntegrityError(f"the ledger is no longer consistent with {named}: its history was rewritten")
    if 0 < cp.tree_size < size:
        proof = merkle.consistency_proof(cp.tree_size, size, store.get_nodes)
        try:
            merkle.verify_consistency(cp.tree_size, size, proof, cp.root, root)
        except merkle.ProofError as exc:
            raise IntegrityError(f"today's tree is not an extension of {named}: {exc}") from None
    return cp


def check_file_against_database(file, file_note: str | None, stored, parsed: dict[str, Checkpoint]) -> None:
    """Checkpoints kept in two places must agree on which exist (deleting them from one place is visible)."""
    if file_note is None:
        if stored:
            raise IntegrityError(
                f"the checkpoint file {file.path} is missing, though the database holds {len(stored)} checkpoint(s)"
            )
        return
    external = parsed[f"checkpoint file {file.path}"]
    if not any((cp.tree_size, cp.root) == (external.tree_size, external.root) for cp in stored):
        raise IntegrityError(
            f"the checkpoint at size {external.tree_size} in {file.path} is not in the database: database "
            "checkpoints were deleted"
        )
    latest = max(cp.tree_size for cp in stored)
    if latest > external.tree_size:
        raise IntegrityError(
            f"the checkpoint file {file.path} holds size {external.tree_size} but the database has a checkpoint at "
            f"size {latest}: the file was replaced by an older one (`dflab ledger checkpoint` rewrites it)"
        )
