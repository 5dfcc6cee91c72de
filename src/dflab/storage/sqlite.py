"""One SQLite file shared by the stores built on it, with one connection per thread.

Why these settings:
  * WAL lets readers (prove, trace) run while a writer appends.
  * Every transaction starts with `BEGIN IMMEDIATE`: the write lock is taken before anything is read, so two
    writers (threads or processes) never act on the same snapshot, and a crash (even SIGKILL) rolls back an
    unfinished transaction.
  * A connection per thread: a sqlite3 connection must not be used by two threads at once, and the web service
    calls the stores from a pool of threads. Each connection is opened on first use in its thread.
  * `busy_timeout` makes a second writer wait for the first instead of failing at once.
  * synchronous=FULL by default: an id we have returned survives power loss, not just a process crash.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dflab.errors import IntegrityError, UsageError
from dflab.storage import StoreBusy

SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")


class SQLiteDatabase:
    """A SQLite file; `transaction()` is shared by every store built on this object (same thread, same connection)."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", busy_timeout_s: float = 60.0,
                 label: str = "dflab", cache_mib: int | None = 64) -> None:  # fmt: skip
        if synchronous not in SYNCHRONOUS_MODES:
            raise UsageError(f"synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        self.label = label  # names the database in messages ("ledger", "registry", "dflab")
        self.synchronous = synchronous
        self.busy_timeout_s = busy_timeout_s
        self.cache_mib = cache_mib  # page cache per connection; None: SQLite's default (2 MB)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the {label} directory {self.path.parent}: {exc.strerror}") from None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        self.connection  # noqa: B018 - open now, so a bad path or a damaged file fails here, not on first use

    # --- connections -------------------------------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise UsageError(f"the {self.label} database {self.path} is closed")
            conn = self._open()
            self._local.conn, self._local.depth = conn, 0
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            # check_same_thread=False only so close() may close every thread's connection; each connection is
            # still used by the one thread that opened it.
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open {self.label} database {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            if self.cache_mib is not None:
                # The ledger's appends keep hot index pages between transactions in a page cache of up to 64 MiB
                # (allocated only as used).
                conn.execute(f"PRAGMA cache_size=-{int(self.cache_mib) * 1024}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IntegrityError(f"{self.path} is not a usable {self.label} database: {exc}") from None
        with self._guard:
            self._connections.append(conn)
        return conn

    def execute(self, sql: str, args=()) -> sqlite3.Cursor:
        return self.connection.execute(sql, args)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    # --- transactions ------------------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Inside an open transaction of this thread it
        is a savepoint instead: an inner failure undoes only the inner writes, and the outer block decides."""
        conn = self.connection
        depth = self._local.depth
        savepoint = f"dflab_sp{depth}"
        if depth == 0:
            self._begin(conn)
        else:
            conn.execute(f"SAVEPOINT {savepoint}")
        self._local.depth = depth + 1
        pending = self._after_commit_list()
        mark = len(pending)
        try:
            yield
        except BaseException as exc:
            self._local.depth = depth
            del pending[mark:]  # what was promised inside the undone part never happens
            self._rollback(conn, depth, savepoint)
            if isinstance(exc, sqlite3.Error):
                # Nothing was written (rolled back); say so in one line instead of a driver traceback.
                raise IntegrityError(f"{self.label} write to {self.path} failed and was rolled back: {exc}") from None
            raise
        self._local.depth = depth
        try:
            conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
        except sqlite3.Error as exc:
            del pending[mark:]
            self._rollback(conn, depth, savepoint)
            raise IntegrityError(f"{self.label} write to {self.path} failed and was rolled back: {exc}") from None
        if depth == 0:
            callbacks, pending[:] = list(pending), []
            for callback in callbacks:
                callback()

    def _after_commit_list(self) -> list[Callable[[], None]]:
        if not hasattr(self._local, "after_commit"):
            self._local.after_commit = []
        return self._local.after_commit

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this thread's open transaction has committed (dropped if it rolls back). Work that
        must only follow durable writes (signing a checkpoint of the new tree) waits here. Registering the
        same callback twice in one transaction runs it once."""
        if not self.in_transaction:
            raise UsageError("after_commit needs an open transaction")
        pending = self._after_commit_list()
        if callback not in pending:
            pending.append(callback)

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(
                    f"{self.label} database {self.path} stayed locked by another writer for "
                    f"{self.busy_timeout_s:.0f} s; try again"
                ) from None
            raise

    @staticmethod
    def _rollback(conn: sqlite3.Connection, depth: int, savepoint: str) -> None:
        try:
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error:
            pass  # a failed COMMIT may already have ended the transaction


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None
