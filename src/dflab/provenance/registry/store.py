"""Where registered media and their hashes live: the `RegistryStore` interface, shared by every backend.

The store is the source of truth; the FAISS index (index.py) is a cache rebuilt from it. Every hash row gets an
id from the store when it is added (SQLite: the next integer after the largest; a PostgreSQL store: a sequence,
with gaps). Ids only grow within one writer's transaction, but nothing else is promised: they need not start
at 0, need not be dense, and with concurrent PostgreSQL writers a smaller id can commit after a larger one. The
index therefore keeps an id map (index.py) and the registry checks it against `count_hashes()` (core.py).

Rows are only ever added, never updated or deleted. `add` writes one record and its hashes atomically; inside a
transaction the caller opened (`transaction()`, e.g. around a ledger append on the same database) it joins that
transaction. Implementations: sqlite_store.SQLiteRegistryStore (default), memory_store.MemoryRegistryStore
(tests); the contract tests in tests/provenance/test_registry_store.py run against each.

Audio fingerprints (audio_fingerprint.py): `audio_prints` says which records have them and with which
fingerprint version, `audio_hashes` holds one row per peak quad, looked up by its key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from dflab.errors import IntegrityError
from dflab.provenance.registry.hashers import HASH_BYTES


@dataclass(frozen=True)
class AudioHits:
    """Stored quads whose key was asked for: `query_row[i]` is the caller's row the i-th hit answers."""

    query_row: np.ndarray
    record: np.ndarray
    anchor_s: np.ndarray
    span_s: np.ndarray
    anchor_oct: np.ndarray

    def __len__(self) -> int:
        return len(self.record)


@dataclass(frozen=True)
class RecordRow:
    record: int  # the ledger record id
    sha256: str
    path: str  # as registered (absolute)
    media_type: str
    hasher: str
    video_fps: float
    duration_s: float
    width: int
    height: int
    frames: int
    registered_at: float


@dataclass(frozen=True)
class HashRow:
    record: int
    time_s: float
    variant: str
    quality: int
    code: bytes


@runtime_checkable
class RegistryStore(Protocol):
    """Storage contract shared by SQLiteRegistryStore, MemoryRegistryStore and any future backend."""

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together; the store's own writes join it."""
        ...

    def add(self, record: RecordRow, hashes: Sequence[HashRow]) -> list[int]:
        """One record and its hashes, all or nothing; returns the ids the hash rows were given, in order.
        A record id already stored is an IntegrityError."""
        ...

    def record(self, record_id: int) -> RecordRow | None: ...

    def records_by_sha256(self, sha256: str) -> list[RecordRow]:
        """Records of these exact bytes, by record id."""
        ...

    def count_records(self) -> int: ...

    def count_hashes(self, record: int | None = None) -> int:
        """Hash rows in all (cheap: called before every search), or of one record."""
        ...

    def hash_codes(self, after_id: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(ids, codes) of the hash rows with id > after_id, ascending: int64 (n,) and uint8 (n, 32)."""
        ...

    def codes(self, start: int = 0) -> np.ndarray:
        """Codes of the hash rows with id >= start, in id order, as an (n, 32) uint8 matrix."""
        ...

    def code_of(self, hash_id: int) -> bytes | None: ...

    def hash_rows(self, ids: Iterable[int]) -> dict[int, HashRow]:
        """The rows behind index hits (id -> record, time, variant); unknown ids are left out."""
        ...

    def add_audio(self, record: int, fingerprint: str, duration_s: float, keys: np.ndarray, anchor_s: np.ndarray,
                  span_s: np.ndarray, anchor_oct: np.ndarray) -> None:  # fmt: skip
        """A record's audio quads, all or nothing; a record is fingerprinted once (IntegrityError otherwise)."""
        ...

    def audio_print(self, record: int) -> tuple[str, float, int] | None:
        """(fingerprint name, duration, hash count) of a record's audio, None when it has none."""
        ...

    def audio_stats(self) -> tuple[int, float, int]:
        """(fingerprinted records, their total duration in seconds, hash rows)."""
        ...

    def audio_hits(self, keys: np.ndarray, fingerprint: str) -> AudioHits:
        """Every stored quad (of records fingerprinted as `fingerprint`) under each of `keys`."""
        ...

    def close(self) -> None: ...


def check_codes(hashes: Sequence[HashRow]) -> None:
    for row in hashes:
        if len(row.code) != HASH_BYTES:
            raise IntegrityError(f"hash of {len(row.code)} bytes, expected {HASH_BYTES}")


def codes_matrix(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, HASH_BYTES), np.uint8)
    return np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), HASH_BYTES)


def group_hits(keys: np.ndarray, found: list[tuple[int, int, float, float, float]]) -> AudioHits:
    """AudioHits from stored rows (hash key, record, anchor, span, octave): each row repeated for every caller row
    that asked for its key (a key can be asked for by several query quads)."""
    keys = np.asarray(keys, np.int64)
    if not found:
        empty = np.zeros(0)
        return AudioHits(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty, empty)
    order = np.argsort(keys, kind="stable")
    unique, first = np.unique(keys[order], return_index=True)
    rows = {int(k): g for k, g in zip(unique, np.split(order, first[1:]))}
    table = np.array(found, dtype=float)
    stored_keys = table[:, 0].astype(np.int64)
    counts = np.array([len(rows[int(k)]) for k in stored_keys])
    query_row = np.concatenate([rows[int(k)] for k in stored_keys])
    expand = np.repeat(np.arange(len(table)), counts)
    return AudioHits(query_row.astype(np.int64), table[expand, 1].astype(np.int64), table[expand, 2],
                     table[expand, 3], table[expand, 4])  # fmt: skip


def unique_keys(keys: np.ndarray) -> list[int]:
    return np.unique(np.asarray(keys, np.int64)).tolist()


def __getattr__(name: str):
    # The SQLite implementation under its old place, loaded lazily (sqlite3 only when used).
    if name == "SQLiteRegistryStore":
        from dflab.provenance.registry.sqlite_store import SQLiteRegistryStore

        return SQLiteRegistryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
