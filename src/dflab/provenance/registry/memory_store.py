"""A RegistryStore in process memory, for tests and throwaway labs. Same contract as the SQLite store.

`ids` chooses how hash ids are handed out (default 1, 2, 3, ...): a test can pass e.g. itertools.count(1000, 7)
to behave like a PostgreSQL sequence (ids with gaps, not from 0) and check that nothing relies on dense ids.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from dflab.errors import IntegrityError
from dflab.provenance.registry.store import (
    AudioHits,
    HashRow,
    RecordRow,
    check_codes,
    codes_matrix,
    group_hits,
    unique_keys,
)
from dflab.storage.memory import MemoryDatabase


class MemoryRegistryStore:
    def __init__(self, database: MemoryDatabase | None = None, ids: Iterator[int] | None = None) -> None:
        self.database = database or MemoryDatabase()
        self._ids = ids if ids is not None else itertools.count(1)
        self._records: dict[int, RecordRow] = {}
        self._hash_ids: list[int] = []  # ascending
        self._hashes: dict[int, HashRow] = {}
        self._prints: dict[int, tuple[str, float, int]] = {}
        self._audio: dict[int, list[tuple[int, int, float, float, float]]] = defaultdict(list)  # key -> rows

    def transaction(self):
        return self.database.transaction()

    def close(self) -> None:
        pass

    # ---------------------------------------------------------------- records and hashes

    def add(self, record: RecordRow, hashes: Sequence[HashRow]) -> list[int]:
        check_codes(hashes)
        with self.transaction():
            if record.record in self._records:
                raise IntegrityError(f"record {record.record} is already in the registry")
            ids = [next(self._ids) for _ in hashes]
            if ids and (ids != sorted(set(ids)) or (self._hash_ids and ids[0] <= self._hash_ids[-1])):
                raise IntegrityError("the id sequence of the memory registry must grow")
            stored = record if record.registered_at else _with_time(record)
            self._records[record.record] = stored
            self._hashes.update(zip(ids, hashes))
            self._hash_ids.extend(ids)
            self.database.on_rollback(lambda: self._undo_add(record.record, ids))
        return ids

    def _undo_add(self, record: int, ids: list[int]) -> None:
        self._records.pop(record, None)
        if ids:
            del self._hash_ids[-len(ids):]
        for i in ids:
            self._hashes.pop(i, None)

    def record(self, record_id: int) -> RecordRow | None:
        with self.database.reading():
            return self._records.get(int(record_id))

    def records_by_sha256(self, sha256: str) -> list[RecordRow]:
        with self.database.reading():
            return sorted((r for r in self._records.values() if r.sha256 == sha256), key=lambda r: r.record)

    def count_records(self) -> int:
        with self.database.reading():
            return len(self._records)

    def count_hashes(self, record: int | None = None) -> int:
        with self.database.reading():
            if record is None:
                return len(self._hash_ids)
            return sum(1 for row in self._hashes.values() if row.record == int(record))

    def hash_codes(self, after_id: int = -1) -> tuple[np.ndarray, np.ndarray]:
        with self.database.reading():
            ids = [i for i in self._hash_ids if i > after_id]
            return np.array(ids, np.int64), codes_matrix([self._hashes[i].code for i in ids])

    def codes(self, start: int = 0) -> np.ndarray:
        return self.hash_codes(start - 1)[1]

    def code_of(self, hash_id: int) -> bytes | None:
        with self.database.reading():
            row = self._hashes.get(int(hash_id))
            return row.code if row else None

    def hash_rows(self, ids: Iterable[int]) -> dict[int, HashRow]:
        with self.database.reading():
            return {int(i): self._hashes[int(i)] for i in ids if int(i) in self._hashes}

    # ---------------------------------------------------------------- audio fingerprints

    def add_audio(self, record: int, fingerprint: str, duration_s: float, keys: np.ndarray, anchor_s: np.ndarray,
                  span_s: np.ndarray, anchor_oct: np.ndarray) -> None:  # fmt: skip
        record = int(record)
        rows = list(zip(np.asarray(keys, np.int64).tolist(), [record] * len(keys), np.asarray(anchor_s).tolist(),
                        np.asarray(span_s).tolist(), np.asarray(anchor_oct).tolist()))  # fmt: skip
        with self.transaction():
            if record in self._prints:
                raise IntegrityError(f"record {record} already has audio fingerprints")
            self._prints[record] = (fingerprint, float(duration_s), len(rows))
            for row in rows:
                self._audio[row[0]].append(row)
            self.database.on_rollback(lambda: self._undo_audio(record, rows))

    def _undo_audio(self, record: int, rows: list[tuple]) -> None:
        self._prints.pop(record, None)
        for key in {row[0] for row in rows}:
            self._audio[key] = [row for row in self._audio[key] if row[1] != record]

    def audio_print(self, record: int) -> tuple[str, float, int] | None:
        with self.database.reading():
            return self._prints.get(int(record))

    def audio_stats(self) -> tuple[int, float, int]:
        with self.database.reading():
            prints = list(self._prints.values())
        return len(prints), float(sum(p[1] for p in prints)), int(sum(p[2] for p in prints))

    def audio_hits(self, keys: np.ndarray, fingerprint: str) -> AudioHits:
        with self.database.reading():
            found = [row for key in unique_keys(keys) for row in self._audio.get(key, ())
                     if self._prints.get(row[1], ("",))[0] == fingerprint]  # fmt: skip
        return group_hits(keys, found)


def _with_time(record: RecordRow) -> RecordRow:
    from dataclasses import replace

    return replace(record, registered_at=time.time())
