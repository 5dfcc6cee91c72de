"""The default LedgerStore: one SQLite file (WAL mode), safe for several processes at once.

Why these settings:
  * WAL lets readers (prove, show) run while a writer appends.
  * Every append is `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken before the current size is read, so
    two writers can never give out the same index, and a crash (even SIGKILL) rolls back an unfinished batch.
  * `busy_timeout` makes a second writer wait for the first instead of failing at once.
  * synchronous=FULL by default: an id we have returned survives power loss, not just a process crash.
The SQL is kept plain (no SQLite-only types) so a PostgreSQL store can reuse the schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.provenance.ledger import merkle
from dflab.provenance.ledger.store import LeafEntry, LedgerBusy, StoredCheckpoint, plan_nodes

SCHEMA_VERSION = "1"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # content_sha256 is kept as 32 raw bytes: its index takes random inserts, so a smaller key is a faster append.
    "CREATE TABLE IF NOT EXISTS leaves (idx INTEGER PRIMARY KEY, data TEXT NOT NULL,"
    " content_sha256 BLOB NOT NULL, watermark TEXT)",
    "CREATE INDEX IF NOT EXISTS leaves_content ON leaves (content_sha256)",
    "CREATE INDEX IF NOT EXISTS leaves_watermark ON leaves (watermark)",
    "CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY, tree_size INTEGER NOT NULL,"
    " root BLOB NOT NULL, note TEXT NOT NULL, created TEXT NOT NULL)",
)


class SQLiteStore:
    """LedgerStore over a SQLite file. One connection per instance; open one per thread or process."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise UsageError(f"synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the ledger directory {self.path.parent}: {exc.strerror}") from None
        self._busy_timeout_s = busy_timeout_s
        try:
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open ledger database {self.path}: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            # A page cache of up to 64 MiB keeps the hot index pages between batches (allocated only as used).
            self._db.execute("PRAGMA cache_size=-65536")
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise IntegrityError(f"{self.path} is not a usable ledger database: {exc}") from None

    def _init_schema(self) -> None:
        with self._write():
            for stmt in _SCHEMA:
                self._db.execute(stmt)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise IntegrityError(f"ledger schema {row[0]} is not supported (expected {SCHEMA_VERSION})")

    def _write(self) -> _Transaction:
        return _Transaction(self._db, self._busy_timeout_s, self.path)

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
        self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; lock timeouts become LedgerBusy."""

    def __init__(self, db: sqlite3.Connection, timeout_s: float, path: Path) -> None:
        self._db, self._timeout_s, self._path = db, timeout_s, path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LedgerBusy(
                    f"ledger {self._path} stayed locked by another writer for {self._timeout_s:.0f} s; try again"
                ) from None
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as commit_error:
                exc = commit_error
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error):
            # Nothing was written (rolled back); say so in one line instead of a driver traceback.
            raise IntegrityError(f"ledger write to {self._path} failed and was rolled back: {exc}") from None


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
