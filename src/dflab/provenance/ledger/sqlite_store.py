"""The default LedgerStore: ledger tables in a SQLite file (WAL mode), safe for several processes at once.

The connection handling (WAL, BEGIN IMMEDIATE, busy timeout, synchronous=FULL, a connection per thread) lives in
dflab.storage.sqlite.SQLiteDatabase. The store either opens its own database file or is built on one it shares
with other stores (the default lab keeps the ledger and the registry in one file, so registering a file is one
transaction). Every append is `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken before the current size is
read, so two writers can never give out the same index, and a crash (even SIGKILL) rolls back an unfinished batch.
The SQL is kept plain (no SQLite-only types) so a PostgreSQL store can reuse the schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.store import LeafEntry, StoredCheckpoint, plan_nodes
from dflab.storage.migrations import SQLITE_LEDGER_TABLES
from dflab.storage.sqlite import SQLiteDatabase

SCHEMA_VERSION = "1"
_SCHEMA = SQLITE_LEDGER_TABLES  # storage/migrations.py: `dflab db upgrade` creates the same tables

class SQLiteStore:
    """LedgerStore over SQLite: its own file at `path`, or the tables inside a shared `database`."""

    def __init__(self, path: str | Path | None = None, *, database: SQLiteDatabase | None = None,
                 busy_timeout_s: float = 60.0, synchronous: str = "FULL") -> None:  # fmt: skip
        if (path is None) == (database is None):
            raise UsageError("give the ledger store either a path or a database")
        self._owns_database = database is None
        if database is None:
            database = SQLiteDatabase(path, synchronous=synchronous, busy_timeout_s=busy_timeout_s, label="ledger")
        self.database = database
        self.path = database.path
        try:
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            if self._owns_database:
                database.close()
            raise IntegrityError(f"{self.path} is not a usable ledger database: {exc}") from None
        except IntegrityError:
            if self._owns_database:
                database.close()
            raise

    @property
    def _db(self) -> sqlite3.Connection:
        return self.database.connection  # this thread's connection

    def _init_schema(self) -> None:
        with self._write():
            for stmt in _SCHEMA:
                self._db.execute(stmt)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise IntegrityError(f"ledger schema {row[0]} is not supported (expected {SCHEMA_VERSION})")

    def _write(self):
        return self.database.transaction()

    # --- reads -------------------------------------------------------------------------------------------

    def size(self) -> int:
        row = self._db.execute("SELECT MAX(idx) FROM leaves").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def get_leaf(self, index: int) -> bytes:
        row = self._db.execute("SELECT data FROM leaves WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFound(f"ledger record {index} does not exist (the ledger has {self.size()} records)")
        return _as_bytes(row[0])

    def iter_leaves(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, bytes]]:
        pos = start
        while pos < end:
            rows = self._db.execute(
                "SELECT idx, data FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (pos, min(end, pos + chunk))
            ).fetchall()
            if not rows:
                return
            for idx, data in rows:
                yield int(idx), _as_bytes(data)
            pos = int(rows[-1][0]) + 1

    def iter_leaf_entries(self, start: int, end: int, chunk: int = 4096) -> Iterator[tuple[int, LeafEntry]]:
        pos = start
        while pos < end:
            rows = self._db.execute(
                "SELECT idx, data, content_sha256, watermark FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                (pos, min(end, pos + chunk)),
            ).fetchall()
            if not rows:
                return
            for idx, data, content, watermark in rows:
                yield int(idx), LeafEntry(_as_bytes(data), bytes(content).hex(), watermark)
            pos = int(rows[-1][0]) + 1

    def get_node(self, level: int, index: int) -> bytes:
        row = self._db.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)).fetchone()
        if row is None:
            raise NotFound(f"ledger node ({level}, {index}) is not stored")
        return bytes(row[0])

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> list[bytes]:
        return [self.get_node(level, idx) for level, idx in keys]

    def node_range(self, level: int, start: int, end: int) -> list[bytes]:
        rows = self._db.execute(
            "SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx", (level, start, end)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def find_leaves(self, *, content_sha256: str | None = None, watermark_payload: str | None = None) -> list[int]:
        where, args = [], []
        if content_sha256 is not None:
            try:
                key = bytes.fromhex(content_sha256)
            except ValueError:
                return []
            where.append("content_sha256 = ?")
            args.append(key)
        if watermark_payload is not None:
            where.append("watermark = ?")
            args.append(watermark_payload)
        sql = "SELECT idx FROM leaves" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY idx"
        return [int(r[0]) for r in self._db.execute(sql, args)]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._db.execute("SELECT tree_size, root, note, created FROM checkpoints ORDER BY id").fetchall()
        return [StoredCheckpoint(int(s), bytes(r), str(n), str(c)) for s, r, n, c in rows]

    # --- writes ------------------------------------------------------------------------------------------

    def append_batch(self, entries: Sequence[LeafEntry]) -> int:
        if not entries:
            return self.size()
        with self._write():
            start = self.size()  # read under the write lock: nobody else can append now
            rows = plan_nodes(start, entries, self.get_nodes)
            self._db.executemany(
                "INSERT INTO leaves (idx, data, content_sha256, watermark) VALUES (?, ?, ?, ?)",
                (
                    (start + i, e.data.decode("utf-8"), bytes.fromhex(e.content_sha256), e.watermark_payload)
                    for i, e in enumerate(entries)
                ),
            )
            self._db.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", rows)
        return start

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._write():
            self._db.execute(
                "INSERT INTO checkpoints (tree_size, root, note, created) VALUES (?, ?, ?, ?)",
                (checkpoint.tree_size, checkpoint.root, checkpoint.note, checkpoint.created),
            )

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
