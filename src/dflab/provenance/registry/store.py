"""SQLite store of registered media and their hashes: the source of truth the FAISS index is rebuilt from.

Hash row ids are dense and start at 0, so row id == FAISS position. Rows are only ever appended (inside
BEGIN IMMEDIATE, so concurrent writers serialise), never updated or deleted.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.errors import IntegrityError
from dflab.provenance.registry.hashers import HASH_BYTES

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    record INTEGER PRIMARY KEY,      -- ledger record id
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,              -- as registered (absolute)
    media_type TEXT NOT NULL,
    hasher TEXT NOT NULL,
    video_fps REAL NOT NULL,
    duration_s REAL NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    registered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_sha256 ON records (sha256);
CREATE TABLE IF NOT EXISTS hashes (
    id INTEGER PRIMARY KEY,          -- == FAISS position
    record INTEGER NOT NULL REFERENCES records (record),
    time_s REAL NOT NULL,
    variant TEXT NOT NULL,
    quality INTEGER NOT NULL,
    code BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class RecordRow:
    record: int
    sha256: str
    path: str
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


class RegistryStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"registry database {self.path} is unreadable: {exc}") from exc
        version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise IntegrityError(f"registry database {self.path} has schema {version}, expected {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def add(self, record: RecordRow, hashes: list[HashRow]) -> None:
        """One record and its hashes, all or nothing."""
        for row in hashes:
            if len(row.code) != HASH_BYTES:
                raise IntegrityError(f"hash of {len(row.code)} bytes, expected {HASH_BYTES}")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (record.record, record.sha256, record.path, record.media_type, record.hasher, record.video_fps,
                 record.duration_s, record.width, record.height, record.frames, record.registered_at or time.time()),
            )
            next_id = db.execute("SELECT COALESCE(MAX(id) + 1, 0) FROM hashes").fetchone()[0]
            db.executemany(
                "INSERT INTO hashes VALUES (?,?,?,?,?,?)",
                [(next_id + i, row.record, row.time_s, row.variant, row.quality, row.code) for i, row in enumerate(hashes)],
            )
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK")
            raise IntegrityError(f"record {record.record} is already in the registry ({exc})") from exc
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def record(self, record_id: int) -> RecordRow | None:
        row = self._db.execute("SELECT * FROM records WHERE record=?", (int(record_id),)).fetchone()
        return RecordRow(*row) if row else None

    def records_by_sha256(self, sha256: str) -> list[RecordRow]:
        rows = self._db.execute("SELECT * FROM records WHERE sha256=? ORDER BY record", (sha256,)).fetchall()
        return [RecordRow(*row) for row in rows]

    def count_hashes(self, record: int | None = None) -> int:
        if record is None:  # ids are dense from 0, so MAX(id)+1 is the count, read off the rowid b-tree
            return int(self._db.execute("SELECT COALESCE(MAX(id) + 1, 0) FROM hashes").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM hashes WHERE record=?", (int(record),)).fetchone()[0])

    def count_records(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def codes(self, start: int = 0) -> np.ndarray:
        """Codes of hash rows from id `start` on, in id order, as an (n, 32) uint8 matrix."""
        blobs = [row[0] for row in self._db.execute("SELECT code FROM hashes WHERE id>=? ORDER BY id", (start,))]
        if not blobs:
            return np.zeros((0, HASH_BYTES), np.uint8)
        return np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), HASH_BYTES)

    def code_at(self, hash_id: int) -> bytes | None:
        row = self._db.execute("SELECT code FROM hashes WHERE id=?", (int(hash_id),)).fetchone()
        return bytes(row[0]) if row else None

    def hash_rows(self, ids: list[int]) -> dict[int, HashRow]:
        """Rows for FAISS positions (the mapping index id -> record, time, variant)."""
        out: dict[int, HashRow] = {}
        unique = sorted({int(i) for i in ids if i >= 0})
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT id, record, time_s, variant, quality, code FROM hashes WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = HashRow(row[1], row[2], row[3], row[4], bytes(row[5]))
        return out
