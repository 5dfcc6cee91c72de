"""RegistryStore on PostgreSQL: the hashes of every matcher's FAISS index, shared by every machine.

Hash ids come from a sequence, taken under the writers' transaction-scoped advisory lock (storage/postgres.py),
held until the writing transaction commits: ids therefore become visible in ascending order, and a matcher that has indexed every row up
to id N refreshes by reading only `id > N` (core.Registry._synced), never rebuilding from zero while writers
keep adding. A rolled-back add leaves a gap in the ids, which nothing relies on. The row count the registry
checks before every search lives in `registry_meta` (one row read). Bulk reads of codes use binary COPY (a 10
million row index loads without building 10 million Python tuples). Tables: storage/migrations.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from dflab.errors import IntegrityError
from dflab.provenance.registry.hashers import HASH_BYTES
from dflab.provenance.registry.store import AudioHits, HashRow, RecordRow, check_codes, codes_matrix, group_hits, unique_keys
from dflab.storage.postgres import WRITE_LOCK, PostgresDatabase, PostgresStore

_COPY_HEADER = 19  # PGCOPY signature (11) + flags (4) + header extension length (4)
# One binary COPY row of (id BIGINT, code BYTEA of HASH_BYTES): field count, then length + value per field.
_ROW = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("code_len", ">i4"), ("code", "u1", HASH_BYTES)])


class PostgresRegistryStore(PostgresStore):
    """RegistryStore over PostgreSQL: its own connection pool for `url`, or the tables inside a shared `database`."""

    def __init__(self, url: str | None = None, *, database: PostgresDatabase | None = None) -> None:
        super().__init__(url, database=database, what="registry store", label="registry")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction holding the write lock from its start (as BEGIN IMMEDIATE does in SQLite): the
        registry's look-up-then-insert inside it cannot race another writer registering the same bytes."""
        with self.database.transaction():
            self.database.advisory_lock(WRITE_LOCK)
            yield

    def _rows(self, sql: str, args=None) -> list[tuple]:
        return self.database.execute(sql, args).fetchall()

    # ---------------------------------------------------------------- records and hashes

    def add(self, record: RecordRow, hashes: Sequence[HashRow]) -> list[int]:
        check_codes(hashes)
        db = self.database
        with db.transaction():
            db.advisory_lock(WRITE_LOCK)
            if self._rows("SELECT 1 FROM records WHERE record = %s", (record.record,)):
                raise IntegrityError(f"record {record.record} is already in the registry")
            db.execute(
                "INSERT INTO records VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (record.record, record.sha256, record.path, record.media_type, record.hasher, record.video_fps,
                 record.duration_s, record.width, record.height, record.frames, record.registered_at or time.time()),
            )  # fmt: skip
            if not hashes:
                return []
            ids = sorted(int(r[0]) for r in self._rows("SELECT nextval('hash_ids') FROM generate_series(1, %s)",
                                                       (len(hashes),)))  # fmt: skip
            with db.connection.cursor() as cur, cur.copy(
                "COPY hashes (id, record, time_s, variant, quality, code) FROM STDIN"
            ) as copy:
                for hash_id, row in zip(ids, hashes):
                    copy.write_row((hash_id, row.record, row.time_s, row.variant, row.quality, row.code))
            db.execute("UPDATE registry_meta SET value = value + %s WHERE key = 'hash_rows'", (len(ids),))
        return ids

    def record(self, record_id: int) -> RecordRow | None:
        rows = self._rows("SELECT * FROM records WHERE record = %s", (int(record_id),))
        return RecordRow(*rows[0]) if rows else None

    def records_by_sha256(self, sha256: str) -> list[RecordRow]:
        return [RecordRow(*row) for row in self._rows("SELECT * FROM records WHERE sha256 = %s ORDER BY record", (sha256,))]

    def count_records(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM records")[0][0])

    def count_hashes(self, record: int | None = None) -> int:
        if record is None:
            return int(self._rows("SELECT value FROM registry_meta WHERE key = 'hash_rows'")[0][0])
        return int(self._rows("SELECT COUNT(*) FROM hashes WHERE record = %s", (int(record),))[0][0])

    def hash_codes(self, after_id: int = -1) -> tuple[np.ndarray, np.ndarray]:
        id_parts, code_parts = [np.zeros(0, np.int64)], [codes_matrix([])]
        pending = bytearray()
        skipped_header = False
        with self.database.connection.cursor() as cur, cur.copy(
            "COPY (SELECT id, code FROM hashes WHERE id > %s ORDER BY id) TO STDOUT (FORMAT BINARY)", (int(after_id),)
        ) as copy:
            for block in copy:
                pending += block
                if not skipped_header:
                    if len(pending) < _COPY_HEADER:
                        continue
                    del pending[:_COPY_HEADER]
                    skipped_header = True
                whole = len(pending) // _ROW.itemsize
                if whole == 0:
                    continue
                rows = np.frombuffer(bytes(pending[: whole * _ROW.itemsize]), _ROW)
                id_parts.append(rows["id"].astype(np.int64))
                code_parts.append(np.ascontiguousarray(rows["code"]))
                del pending[: whole * _ROW.itemsize]
        # What is left is the trailer (-1 as int16); anything else means a row of an unexpected shape.
        if bytes(pending) not in (b"", b"\xff\xff"):
            raise IntegrityError("registry hashes in PostgreSQL are not all 32-byte codes")
        return np.concatenate(id_parts), np.concatenate(code_parts)

    def codes(self, start: int = 0) -> np.ndarray:
        return self.hash_codes(after_id=start - 1)[1]

    def code_of(self, hash_id: int) -> bytes | None:
        rows = self._rows("SELECT code FROM hashes WHERE id = %s", (int(hash_id),))
        return bytes(rows[0][0]) if rows else None

    def hash_rows(self, ids: Iterable[int]) -> dict[int, HashRow]:
        unique = sorted({int(i) for i in ids if i >= 0})
        if not unique:
            return {}
        rows = self._rows("SELECT id, record, time_s, variant, quality, code FROM hashes WHERE id = ANY(%s)", (unique,))
        return {int(r[0]): HashRow(int(r[1]), float(r[2]), str(r[3]), int(r[4]), bytes(r[5])) for r in rows}

    # ---------------------------------------------------------------- audio fingerprints

    def add_audio(self, record: int, fingerprint: str, duration_s: float, keys: np.ndarray, anchor_s: np.ndarray,
                  span_s: np.ndarray, anchor_oct: np.ndarray) -> None:  # fmt: skip
        db = self.database
        with db.transaction():
            if self._rows("SELECT 1 FROM audio_prints WHERE record = %s", (int(record),)):
                raise IntegrityError(f"record {record} already has audio fingerprints")
            db.execute("INSERT INTO audio_prints VALUES (%s, %s, %s, %s)",
                       (int(record), fingerprint, float(duration_s), len(keys)))  # fmt: skip
            with db.connection.cursor() as cur, cur.copy(
                "COPY audio_hashes (hash, record, anchor_s, span_s, anchor_oct) FROM STDIN"
            ) as copy:
                for row in zip(np.asarray(keys, np.int64).tolist(), [int(record)] * len(keys),
                               np.asarray(anchor_s, float).tolist(), np.asarray(span_s, float).tolist(),
                               np.asarray(anchor_oct, float).tolist()):  # fmt: skip
                    copy.write_row(row)

    def audio_print(self, record: int) -> tuple[str, float, int] | None:
        rows = self._rows("SELECT fingerprint, duration_s, hashes FROM audio_prints WHERE record = %s", (int(record),))
        return (str(rows[0][0]), float(rows[0][1]), int(rows[0][2])) if rows else None

    def audio_stats(self) -> tuple[int, float, int]:
        count, seconds, hashes = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(duration_s), 0), COALESCE(SUM(hashes), 0) FROM audio_prints")[0]
        return int(count), float(seconds), int(hashes)

    def audio_hits(self, keys: np.ndarray, fingerprint: str) -> AudioHits:
        found = self._rows(
            "SELECT h.hash, h.record, h.anchor_s, h.span_s, h.anchor_oct FROM audio_hashes h "
            "JOIN audio_prints p ON p.record = h.record WHERE p.fingerprint = %s AND h.hash = ANY(%s)",
            (fingerprint, unique_keys(keys)),
        )
        return group_hits(keys, [tuple(r) for r in found])
