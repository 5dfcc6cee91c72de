"""Where the log lives: the `LedgerStore` interface and the in-memory store used by unit tests.

A store keeps three things:
  * leaves      index -> canonical record JSON (plus two derived lookup columns)
  * nodes       (level, index) -> hash of every *perfect* subtree, level 0 being the leaf hashes.
                About 2n rows for n leaves; any root or proof needs O(log n) of them.
  * checkpoints every signed checkpoint the log has issued (a log must never sign two inconsistent ones)

`append_batch` is the only writer and is atomic: it reads the current size, computes the new perfect-subtree
hashes and writes leaves and nodes in one transaction, so concurrent writers are serialised and a crash never
leaves a partial batch. Each store is built on a `dflab.storage.Database`; inside a transaction the caller opened
on that database (e.g. registering a file: ledger record + registry rows), the append joins it and commits or
rolls back with the caller's other writes. The SQLite store lives in sqlite_store.py; a PostgreSQL store would
implement the same contract (and run the same tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dflab.errors import NotFound
from dflab.provenance.ledger import merkle
from dflab.storage import StoreBusy
from dflab.storage.memory import MemoryDatabase

# Another writer held the ledger for longer than the busy timeout (the name predates the shared databases).
LedgerBusy = StoreBusy


@dataclass(frozen=True)
class LeafEntry:
    """One leaf to append: the canonical bytes that are hashed, plus lookup keys derived from them."""

    data: bytes
    content_sha256: str
    watermark_payload: str | None = None


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes
    note: str
    created: str


@runtime_checkable
class LedgerStore(Protocol):
    """Storage contract shared by MemoryStore, SQLiteStore and any future backend (run by the same tests)."""

    def size(self) -> int: ...

    def append_batch(self, entries: Sequence[LeafEntry]) -> int:
        """Append atomically; returns the index given to entries[0]."""
        ...

    def get_leaf(self, index: int) -> bytes: ...

    def iter_leaves(self, start: int, end: int) -> Iterator[tuple[int, bytes]]: ...

    def iter_leaf_entries(self, start: int, end: int) -> Iterator[tuple[int, LeafEntry]]:
        """Leaves with their lookup columns as stored (what `verify --all` holds to the records)."""
        ...

    def get_node(self, level: int, index: int) -> bytes: ...

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]: ...

    def node_range(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored hashes of nodes [start, end) at `level` (fewer if some are missing)."""
        ...

    def find_leaves(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]: ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    def checkpoints(self) -> list[StoredCheckpoint]: ...

    def close(self) -> None: ...


def plan_nodes(start: int, entries: Sequence[LeafEntry], read: merkle.NodeReader) -> list[tuple[int, int, bytes]]:
    """All perfect-subtree rows an append of `entries` at `start` must write (level 0 included)."""
    return merkle.new_perfect_nodes(start, [merkle.hash_leaf(e.data) for e in entries], read)


class MemoryStore:
    """A LedgerStore in process memory. Same contract as SQLiteStore, nothing survives close().

    `database`: the MemoryDatabase shared with the lab's other memory stores (one transaction over all of them);
    by default a private one."""

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.database = database or MemoryDatabase()
        self._leaves: list[LeafEntry] = []
        self._nodes: dict[merkle.NodeKey, bytes] = {}
        self._checkpoints: list[StoredCheckpoint] = []

    def size(self) -> int:
        with self.database.reading():
            return len(self._leaves)

    def append_batch(self, entries: Sequence[LeafEntry]) -> int:
        with self.database.transaction():
            start = len(self._leaves)
            rows = plan_nodes(start, entries, self.get_nodes)  # computed before any mutation: all or nothing
            new_keys = [(level, idx) for level, idx, _ in rows]
            self._leaves.extend(entries)
            self._nodes.update({(level, idx): h for level, idx, h in rows})
            self.database.on_rollback(lambda: self._undo_append(start, new_keys))
            return start

    def _undo_append(self, start: int, keys: list[merkle.NodeKey]) -> None:
        del self._leaves[start:]
        for key in keys:
            self._nodes.pop(key, None)

    def get_leaf(self, index: int) -> bytes:
        with self.database.reading():
            if not 0 <= index < len(self._leaves):
                raise NotFound(f"ledger record {index} does not exist (the ledger has {len(self._leaves)} records)")
            return self._leaves[index].data

    def iter_leaves(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        with self.database.reading():
            leaves = self._leaves[max(0, start) : max(0, end)]
        for i, entry in enumerate(leaves, max(0, start)):
            yield i, entry.data

    def iter_leaf_entries(self, start: int, end: int) -> Iterator[tuple[int, LeafEntry]]:
        with self.database.reading():
            leaves = self._leaves[max(0, start) : max(0, end)]
        yield from enumerate(leaves, max(0, start))

    def get_node(self, level: int, index: int) -> bytes:
        with self.database.reading():
            found = self._nodes.get((level, index))
        if found is None:
            raise NotFound(f"ledger node ({level}, {index}) is not stored")
        return found

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        return [self.get_node(level, idx) for level, idx in keys]

    def node_range(self, level: int, start: int, end: int) -> list[bytes]:
        with self.database.reading():
            return [self._nodes[(level, i)] for i in range(start, end) if (level, i) in self._nodes]

    def find_leaves(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]:
        with self.database.reading():
            return [
                i
                for i, e in enumerate(self._leaves)
                if (content_sha256 is None or e.content_sha256 == content_sha256)
                and (watermark_payload is None or e.watermark_payload == watermark_payload)
            ]

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.database.transaction():
            self._checkpoints.append(checkpoint)
            self.database.on_rollback(self._checkpoints.pop)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.database.reading():
            return list(self._checkpoints)

    def close(self) -> None:
        pass

    # Test hooks: the in-memory counterparts of editing rows with raw sqlite3.
    def _tamper_column(self, index: int, content_sha256: str, watermark_payload: str | None) -> None:
        self._leaves[index] = LeafEntry(self._leaves[index].data, content_sha256, watermark_payload)

    def _tamper_leaf(self, index: int, data: bytes) -> None:
        old = self._leaves[index]
        self._leaves[index] = LeafEntry(data, old.content_sha256, old.watermark_payload)
