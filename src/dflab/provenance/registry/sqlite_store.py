"""The default RegistryStore: registry tables in SQLite, in their own file or in a database shared with the ledger.

The default lab keeps these tables in the ledger's file (one database, so registering a file is one transaction:
the ledger record and the hash rows commit together). `SQLiteRegistryStore(path)` opens a file of its own (the
older layout, $DFLAB_HOME/registry/registry.sqlite, still opens this way). Hash ids are assigned under the write
lock as one more than the largest so far: they start at 1 in a new database (0 in files from before), and
nothing downstream relies on them being dense. The number of hash rows is kept in `registry_meta` so that the
check the registry runs before every search costs one row read.

Schema 3 (this version) keeps its version and the hash count in `registry_meta`; files of schemas 1 and 2 (their
`meta` table said so) have the same tables and are brought up to 3 when first opened. A file of its own also
says 3 in `meta`, so an older dflab refuses it instead of adding rows it does not count.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from dflab.errors import IntegrityError, UsageError
from dflab.provenance.registry.store import (
    AudioHits,
    HashRow,
    RecordRow,
    check_codes,
    codes_matrix,
    group_hits,
    unique_keys,
)
from dflab.storage.migrations import SQLITE_REGISTRY_TABLES
from dflab.storage.sqlite import SQLiteDatabase, table_exists

SCHEMA_VERSION = "3"
LEGACY_SCHEMAS = {"1", "2"}  # standalone registry files with the same tables and a `meta` table

_SCHEMA = SQLITE_REGISTRY_TABLES  # storage/migrations.py: `dflab db upgrade` creates the same tables

class SQLiteRegistryStore:
    """RegistryStore over SQLite: its own file at `path`, or tables inside a shared `database`."""

    def __init__(self, path: str | Path | None = None, *, database: SQLiteDatabase | None = None,
                 synchronous: str = "NORMAL") -> None:  # fmt: skip
        if (path is None) == (database is None):
            raise UsageError("give the registry store either a path or a database")
        self._owns_database = database is None
        if database is None:
            # A registry of its own is rebuilt from media if lost, so it need not pay for FULL durability.
            database = SQLiteDatabase(path, synchronous=synchronous, busy_timeout_s=30.0, label="registry",
                                      cache_mib=None)  # fmt: skip
        self.database = database
        self.path = database.path
        try:
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise IntegrityError(f"registry database {self.path} is unreadable: {exc}") from None
        except IntegrityError:
            self.close()
            raise

    @property
    def _db(self) -> sqlite3.Connection:
        return self.database.connection

    def transaction(self):
        return self.database.transaction()

    def _init_schema(self) -> None:
        with self.transaction():
            db = self._db
            legacy = table_exists(db, "records") and not table_exists(db, "registry_meta")
            if legacy:
                row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() if table_exists(db, "meta") else None
                if row is None or row[0] not in LEGACY_SCHEMAS:
                    found = row[0] if row else "unknown"
                    raise IntegrityError(f"registry database {self.path} has schema {found}, expected {SCHEMA_VERSION}")
            for stmt in _SCHEMA:
                db.execute(stmt)
            version = db.execute("SELECT value FROM registry_meta WHERE key='schema'").fetchone()
            if version is None:
                count = db.execute("SELECT COUNT(*) FROM hashes").fetchone()[0]
                db.executemany("INSERT INTO registry_meta VALUES (?, ?)",
                               [("schema", SCHEMA_VERSION), ("hash_rows", str(count))])  # fmt: skip
            elif version[0] != SCHEMA_VERSION:
                raise IntegrityError(f"registry database {self.path} has schema {version[0]}, expected {SCHEMA_VERSION}")
            if self._owns_database:
                # A file of its own also says so in `meta`, where older dflab versions look: they refuse it instead
                # of adding rows without counting them. (In a shared database `meta` is the ledger's.)
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        if self._owns_database:
            self.database.close()

    # ---------------------------------------------------------------- records and hashes

    def add(self, record: RecordRow, hashes: Sequence[HashRow]) -> list[int]:
        check_codes(hashes)
        with self.transaction():
            db = self._db
            try:
                db.execute(
                    "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (record.record, record.sha256, record.path, record.media_type, record.hasher, record.video_fps,
                     record.duration_s, record.width, record.height, record.frames, record.registered_at or time.time()),
                )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(f"record {record.record} is already in the registry ({exc})") from None
            start = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM hashes").fetchone()[0])
            ids = list(range(start, start + len(hashes)))
            db.executemany(
                "INSERT INTO hashes VALUES (?,?,?,?,?,?)",
                [(i, row.record, row.time_s, row.variant, row.quality, row.code) for i, row in zip(ids, hashes)],
            )
            db.execute("UPDATE registry_meta SET value = CAST(value AS INTEGER) + ? WHERE key='hash_rows'", (len(ids),))
        return ids

    def record(self, record_id: int) -> RecordRow | None:
        row = self._db.execute("SELECT * FROM records WHERE record=?", (int(record_id),)).fetchone()
        return RecordRow(*row) if row else None

    def records_by_sha256(self, sha256: str) -> list[RecordRow]:
        rows = self._db.execute("SELECT * FROM records WHERE sha256=? ORDER BY record", (sha256,)).fetchall()
        return [RecordRow(*row) for row in rows]

    def count_records(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def count_hashes(self, record: int | None = None) -> int:
        if record is None:
            return int(self._db.execute("SELECT value FROM registry_meta WHERE key='hash_rows'").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM hashes WHERE record=?", (int(record),)).fetchone()[0])

    def hash_codes(self, after_id: int = -1, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        # Read in chunks: a million rows as Python tuples at once would hold ~150 MB that the allocator keeps.
        cursor = self._db.execute("SELECT id, code FROM hashes WHERE id>? ORDER BY id", (int(after_id),))
        id_parts, code_parts = [np.zeros(0, np.int64)], [codes_matrix([])]
        while rows := cursor.fetchmany(chunk):
            id_parts.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
            code_parts.append(codes_matrix([r[1] for r in rows]))
        return np.concatenate(id_parts), np.concatenate(code_parts)

    def codes(self, start: int = 0) -> np.ndarray:
        return self.hash_codes(after_id=start - 1)[1]

    def code_of(self, hash_id: int) -> bytes | None:
        row = self._db.execute("SELECT code FROM hashes WHERE id=?", (int(hash_id),)).fetchone()
        return bytes(row[0]) if row else None

    def hash_rows(self, ids: Iterable[int]) -> dict[int, HashRow]:
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
        with self.transaction():
            db = self._db
            try:
                db.execute("INSERT INTO audio_prints VALUES (?,?,?,?)", (int(record), fingerprint, float(duration_s), len(keys)))
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(f"record {record} already has audio fingerprints ({exc})") from None
            db.executemany(
                "INSERT INTO audio_hashes VALUES (?,?,?,?,?)",
                zip(np.asarray(keys, np.int64).tolist(), [int(record)] * len(keys), np.asarray(anchor_s).tolist(),
                    np.asarray(span_s).tolist(), np.asarray(anchor_oct).tolist()),
            )  # fmt: skip

    def audio_print(self, record: int) -> tuple[str, float, int] | None:
        row = self._db.execute("SELECT fingerprint, duration_s, hashes FROM audio_prints WHERE record=?",
                               (int(record),)).fetchone()  # fmt: skip
        return (str(row[0]), float(row[1]), int(row[2])) if row else None

    def audio_stats(self) -> tuple[int, float, int]:
        count, seconds, hashes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(duration_s), 0), COALESCE(SUM(hashes), 0) FROM audio_prints").fetchone()
        return int(count), float(seconds), int(hashes)

    def audio_hits(self, keys: np.ndarray, fingerprint: str, chunk: int = 900) -> AudioHits:
        unique = unique_keys(keys)
        found: list[tuple] = []
        for start in range(0, len(unique), chunk):
            part = unique[start : start + chunk]
            marks = ",".join("?" * len(part))
            found.extend(self._db.execute(
                f"SELECT h.hash, h.record, h.anchor_s, h.span_s, h.anchor_oct FROM audio_hashes h "
                f"JOIN audio_prints p ON p.record = h.record WHERE p.fingerprint = ? AND h.hash IN ({marks})",
                [fingerprint, *part]).fetchall())  # fmt: skip
        return group_hits(keys, found)

    # ---------------------------------------------------------------- the older layout

    def import_file(self, path: str | Path) -> int:
        """Copy the records of a standalone registry file (the layout before the shared database) that this store
        does not have yet, with their hashes and audio fingerprints, in one transaction; returns how many.
        Record ids are kept (they are ledger ids of the same home); hash rows get new ids from this store."""
        source = SQLiteRegistryStore(path)  # brings the file to the current schema first
        source.close()
        db = self._db
        if self.database.in_transaction:
            raise UsageError("a registry file cannot be imported inside an open transaction")
        db.execute("ATTACH DATABASE ? AS old_registry", (str(path),))  # not allowed inside a transaction
        try:
            with self.transaction():
                db.execute("CREATE TEMP TABLE import_records AS SELECT record FROM old_registry.records "
                           "WHERE record NOT IN (SELECT record FROM main.records)")  # fmt: skip
                new = "(SELECT record FROM import_records)"
                db.execute(f"INSERT INTO main.records SELECT * FROM old_registry.records WHERE record IN {new}")
                added = db.execute("SELECT COUNT(*) FROM import_records").fetchone()[0]
                hashes = db.execute(
                    "INSERT INTO main.hashes (record, time_s, variant, quality, code) SELECT record, time_s, variant, "
                    f"quality, code FROM old_registry.hashes WHERE record IN {new} ORDER BY id").rowcount  # fmt: skip
                db.execute(f"INSERT INTO main.audio_prints SELECT * FROM old_registry.audio_prints WHERE record IN {new}")
                db.execute(f"INSERT INTO main.audio_hashes SELECT * FROM old_registry.audio_hashes WHERE record IN {new}")
                db.execute("UPDATE main.registry_meta SET value = CAST(value AS INTEGER) + ? WHERE key='hash_rows'",
                           (hashes,))  # fmt: skip
                db.execute("DROP TABLE temp.import_records")
        finally:
            db.execute("DETACH DATABASE old_registry")
        return int(added)
