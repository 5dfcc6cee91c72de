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
from collections.abc import Sequence
from pathlib import Path

from dflab.errors import IntegrityError, UsageError
from dflab.provenance.ledger.sql_store import SQLLedgerStore
from dflab.provenance.ledger.store import LeafEntry, plan_nodes
from dflab.storage.migrations import SQLITE_LEDGER_TABLES
from dflab.storage.sqlite import SQLiteDatabase

SCHEMA_VERSION = "1"
_SCHEMA = SQLITE_LEDGER_TABLES  # storage/migrations.py: `dflab db upgrade` creates the same tables

class SQLiteStore(SQLLedgerStore):
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
