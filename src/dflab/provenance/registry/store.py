"""SQLite store of registered media and their hashes: the source of truth the FAISS index is rebuilt from.

Hash row ids are dense and start at 0, so row id == FAISS position. Rows are only ever appended (inside
BEGIN IMMEDIATE, so concurrent writers serialise), never updated or deleted.

Schema 2 adds audio fingerprints (audio_fingerprint.py): `audio_prints` says which records have them and with
which fingerprint version, `audio_hashes` holds one row per peak quad, looked up by its key through an index.
A schema-1 registry gets the two tables (empty) the first time it is opened and is marked schema 2.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.errors import IntegrityError
from dflab.provenance.registry.hashers import HASH_BYTES

SCHEMA_VERSION = "2"
UPGRADABLE = {"1"}  # older schemas that opening brings up to SCHEMA_VERSION (their tables are unchanged)

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
CREATE TABLE IF NOT EXISTS audio_prints (
    record INTEGER PRIMARY KEY REFERENCES records (record),
    fingerprint TEXT NOT NULL,       -- audio_fingerprint.FINGERPRINT_NAME
    duration_s REAL NOT NULL,        -- of the fingerprinted audio
    hashes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audio_hashes (
    hash INTEGER NOT NULL,           -- quantised speed-invariant coordinates of one peak quad
    record INTEGER NOT NULL REFERENCES records (record),
    anchor_s REAL NOT NULL,          -- time of the quad's first peak
    span_s REAL NOT NULL,            -- time from its first to its last peak
    anchor_oct REAL NOT NULL         -- log2 frequency of its first peak
);
CREATE INDEX IF NOT EXISTS audio_hashes_hash ON audio_hashes (hash);
"""


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
        if version in UPGRADABLE:  # the new tables were created above; nothing else changed
            self._db.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise IntegrityError(f"registry database {self.path} has schema {version}, expected {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def add(self, record: RecordRow, hashes: list[HashRow]) -> None:
        """One record and its hashes, all or nothing."""
        for row in hashes:
            if len(row.code) != HASH_BYTES:
                raise IntegrityError(f"hash of {len(row.code)} bytes, expected {HASH_BYTES}")
        with self._transaction(f"record {record.record} is already in the registry") as db:
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

    @contextmanager
    def _transaction(self, on_conflict: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE (concurrent writers serialise) ... COMMIT, or ROLLBACK on any error; a constraint
        violation becomes IntegrityError(on_conflict)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            db.execute("ROLLBACK")
            raise IntegrityError(f"{on_conflict} ({exc})") from exc
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

    # ---------------------------------------------------------------- audio fingerprints

    def add_audio(self, record: int, fingerprint: str, duration_s: float, keys: np.ndarray, anchor_s: np.ndarray,
                  span_s: np.ndarray, anchor_oct: np.ndarray) -> None:  # fmt: skip
        """The audio hashes of one registered record, all or nothing; a record is fingerprinted once."""
        with self._transaction(f"record {record} already has audio fingerprints") as db:
            db.execute("INSERT INTO audio_prints VALUES (?,?,?,?)", (int(record), fingerprint, float(duration_s), len(keys)))
            db.executemany(
                "INSERT INTO audio_hashes VALUES (?,?,?,?,?)",
                zip(np.asarray(keys, np.int64).tolist(), [int(record)] * len(keys), np.asarray(anchor_s).tolist(),
                    np.asarray(span_s).tolist(), np.asarray(anchor_oct).tolist()),
            )  # fmt: skip

    def audio_print(self, record: int) -> tuple[str, float, int] | None:
        """(fingerprint name, duration, hash count) of a record's audio, None when it has none."""
        row = self._db.execute("SELECT fingerprint, duration_s, hashes FROM audio_prints WHERE record=?",
                               (int(record),)).fetchone()  # fmt: skip
        return (str(row[0]), float(row[1]), int(row[2])) if row else None

    def audio_stats(self) -> tuple[int, float, int]:
        """(fingerprinted records, their total duration in seconds, hash rows)."""
        count, seconds, hashes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(duration_s), 0), COALESCE(SUM(hashes), 0) FROM audio_prints").fetchone()
        return int(count), float(seconds), int(hashes)

    def audio_hits(self, keys: np.ndarray, fingerprint: str, chunk: int = 900) -> AudioHits:
        """Every stored quad (of records fingerprinted as `fingerprint`) under each of `keys`."""
        keys = np.asarray(keys, np.int64)
        order = np.argsort(keys, kind="stable")
        unique, first = np.unique(keys[order], return_index=True)
        # rows of the caller per unique key (a key can be asked for by several query quads)
        groups = np.split(order, first[1:]) if len(unique) else []
        rows: dict[int, np.ndarray] = {int(k): g for k, g in zip(unique, groups)}
        out: list[tuple] = []
        for start in range(0, len(unique), chunk):
            part = unique[start : start + chunk].tolist()
            marks = ",".join("?" * len(part))
            out.extend(self._db.execute(
                f"SELECT h.hash, h.record, h.anchor_s, h.span_s, h.anchor_oct FROM audio_hashes h "
                f"JOIN audio_prints p ON p.record = h.record WHERE p.fingerprint = ? AND h.hash IN ({marks})",
                [fingerprint, *part]).fetchall())  # fmt: skip
        if not out:
            empty = np.zeros(0)
            return AudioHits(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty, empty)
        table = np.array(out, dtype=float)
        counts = np.array([len(rows[int(k)]) for k in table[:, 0].astype(np.int64)])
        query_row = np.concatenate([rows[int(k)] for k in table[:, 0].astype(np.int64)])
        expand = np.repeat(np.arange(len(table)), counts)
        return AudioHits(query_row.astype(np.int64), table[expand, 1].astype(np.int64), table[expand, 2],
                         table[expand, 3], table[expand, 4])  # fmt: skip
