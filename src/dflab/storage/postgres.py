"""A PostgreSQL database shared by the stores built on it: psycopg 3 with a connection pool, one connection per
thread, the same transaction semantics as SQLiteDatabase.

Why it is built this way:
  * One pooled connection per thread, kept by that thread until the database is closed (or the thread object
    goes away): a psycopg connection carries its transaction state, so a thread's nested `transaction()` blocks
    and its reads must all go through the same one. The web service's worker threads live long, so the pool
    holds about one connection per thread.
  * Connections are in autocommit mode and `transaction()` issues BEGIN/COMMIT itself; a nested call is a
    SAVEPOINT, exactly as in SQLiteDatabase, so an inner failure undoes only the inner writes.
  * Writers that must be serialised (ledger appends, registry id assignment) take a transaction-scoped advisory
    lock (`advisory_lock`): it is released by COMMIT, ROLLBACK or the death of the connection (a SIGKILLed
    writer's server backend ends and its transaction rolls back), so no lock outlives a crash.
  * Errors from the driver become one-line DflabErrors that name host, port and database, never the password.

`search_path` (the schema) comes from the URL, e.g. `postgresql://u@h/db?options=-csearch_path%3Dteam_a`: the
tests give each test its own schema this way.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dflab.errors import IntegrityError, UsageError
from dflab.storage import StoreBusy

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
# The one advisory lock the provenance stores' writers take (ledger appends, registry writes), the counterpart of
# SQLite's single write lock: one name, so a transaction that writes both can never deadlock on lock order.
WRITE_LOCK = "dflab.provenance.writes"


def _driver():
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise UsageError(
            "PostgreSQL stores need psycopg: pip install 'psycopg[binary]==3.3.9' psycopg-pool (see requirements.txt)"
        ) from None
    return psycopg, psycopg_pool


def libpq_url(url: str) -> str:
    """The URL as libpq takes it (SQLAlchemy's `postgresql+psycopg://` spelling accepted)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in POSTGRES_SCHEMES:
        raise UsageError(f"not a PostgreSQL URL: {describe_url(url)!r}")
    return "postgresql://" + rest


def describe_url(url: str) -> str:
    """host:port/database of a URL, for messages (no user name, no password)."""
    try:
        psycopg, _ = _driver()
        info = psycopg.conninfo.conninfo_to_dict(libpq_url(url) if "://" in url else url)
    except Exception:  # noqa: BLE001 - only used to build an error message
        return "postgresql://(unparsable URL)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class PostgresDatabase:
    """A PostgreSQL database; `transaction()` is shared by every store built on this object (same thread, same
    connection)."""

    def __init__(self, url: str, *, label: str = "dflab", max_connections: int = 32, connect_timeout_s: float = 10.0,
                 busy_timeout_s: float = 60.0) -> None:  # fmt: skip
        psycopg, psycopg_pool = _driver()
        self._psycopg = psycopg
        self._pool_timeout = psycopg_pool.PoolTimeout  # all connections in use for connect_timeout_s
        self.url = libpq_url(url)
        self.where = describe_url(url)
        self.label = label
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._held: list[Any] = []
        self._guard = threading.Lock()
        self._closed = False
        # lock_timeout: a writer waits for an advisory lock at most this long, then fails with StoreBusy.
        self._pool = psycopg_pool.ConnectionPool(
            self.url, min_size=0, max_size=max_connections, open=False, timeout=connect_timeout_s,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout_s)),
                    "options": f"-c lock_timeout={int(busy_timeout_s * 1000)}"},
            name=f"dflab-{label}",
        )  # fmt: skip
        if "options=" in self.url:
            # The URL's own options (search_path) must survive: libpq takes the keyword argument over the URL's
            # value, so merge them.
            info = psycopg.conninfo.conninfo_to_dict(self.url)
            self._pool.kwargs["options"] = f"{info['options']} {self._pool.kwargs['options']}"
        # Connect once directly first: a wrong URL or a stopped server fails here, at once and in one line,
        # instead of after the pool's retries.
        try:
            psycopg.connect(self.url, **self._pool.kwargs).close()
        except psycopg.Error as exc:
            raise UsageError(f"cannot connect to the {label} database at {self.where}: {_first_line(exc)}") from None
        logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())  # no retry chatter on stderr
        try:
            self._pool.open(wait=False)
            self.connection  # noqa: B018 - this thread's connection, ready
        except BaseException:
            self._pool.close()
            raise

    # --- connections -------------------------------------------------------------------------------------

    @property
    def connection(self):
        """This thread's connection (taken from the pool on first use, replaced if the server dropped it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._closed:
            raise UsageError(f"the {self.label} database {self.where} is closed")
        if conn is not None:
            self._release(conn)
        try:
            conn = self._pool.getconn()
        except (self._pool_timeout, self._psycopg.OperationalError) as exc:
            raise UsageError(f"cannot connect to the {self.label} database at {self.where}: {_first_line(exc)}") from None
        self._local.conn, self._local.depth = conn, 0
        with self._guard:
            self._held.append(conn)
        # A thread that ends gives its connection back when its Thread object is collected.
        weakref.finalize(threading.current_thread(), self._release, conn)
        return conn

    def _release(self, conn) -> None:
        with self._guard:
            if conn not in self._held:
                return
            self._held.remove(conn)
        if self._closed:
            return
        try:
            self._pool.putconn(conn)
        except Exception:  # noqa: BLE001 - a connection the pool no longer knows is just dropped
            conn.close()

    def execute(self, sql: str, args: Any = None):
        return self.connection.execute(sql, args)

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            held, self._held = self._held, []
        for conn in held:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        self._pool.close()
        self._local = threading.local()

    # --- transactions ------------------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, rolled back on any exception; inside an open transaction of this thread a savepoint
        (same semantics as SQLiteDatabase.transaction)."""
        psycopg = self._psycopg
        conn = self.connection
        depth = self._local.depth
        savepoint = f"dflab_sp{depth}"
        try:
            conn.execute("BEGIN" if depth == 0 else f"SAVEPOINT {savepoint}")
        except psycopg.Error as exc:
            raise self._failure(exc) from None
        self._local.depth = depth + 1
        pending = self._after_commit_list()
        mark = len(pending)
        try:
            yield
        except BaseException as exc:
            self._local.depth = depth
            del pending[mark:]  # what was promised inside the undone part never happens
            self._rollback(conn, depth, savepoint)
            if isinstance(exc, psycopg.Error):
                raise self._failure(exc) from None
            raise
        self._local.depth = depth
        try:
            conn.execute("COMMIT" if depth == 0 else f"RELEASE SAVEPOINT {savepoint}")
        except psycopg.Error as exc:
            del pending[mark:]
            self._rollback(conn, depth, savepoint)
            raise self._failure(exc) from None
        if depth == 0:
            callbacks, pending[:] = list(pending), []
            for callback in callbacks:
                callback()

    def _after_commit_list(self) -> list:
        if not hasattr(self._local, "after_commit"):
            self._local.after_commit = []
        return self._local.after_commit

    def after_commit(self, callback) -> None:
        """Run `callback` once this thread's open transaction has committed (dropped if it rolls back); once per
        callback (same as SQLiteDatabase.after_commit)."""
        if not self.in_transaction:
            raise UsageError("after_commit needs an open transaction")
        pending = self._after_commit_list()
        if callback not in pending:
            pending.append(callback)

    def advisory_lock(self, name: str) -> None:
        """Serialise writers on `name` (per schema) until this transaction ends. Must be called inside one."""
        if not self.in_transaction:
            raise UsageError("an advisory lock is only taken inside a transaction")
        self.connection.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.' || %s))", (name,))

    def _failure(self, exc: Exception) -> Exception:
        errors = self._psycopg.errors
        if isinstance(exc, (errors.LockNotAvailable, errors.QueryCanceled)):
            return StoreBusy(f"{self.label} database {self.where} stayed locked by another writer for "
                             f"{self.busy_timeout_s:.0f} s; try again")  # fmt: skip
        return IntegrityError(f"{self.label} write to {self.where} failed and was rolled back: {_first_line(exc)}")

    @staticmethod
    def _rollback(conn, depth: int, savepoint: str) -> None:
        try:
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
        except Exception:  # noqa: BLE001 - a dead connection has already rolled back on the server
            pass


class PostgresStore:
    """A store's tables on PostgreSQL: its own connection pool for `url`, or a `database` it shares with other
    stores (one transaction can then span them). Either way the schema is brought up to date first."""

    def __init__(self, url: str | None = None, *, database: PostgresDatabase | None = None, what: str,
                 label: str) -> None:  # fmt: skip
        if (url is None) == (database is None):
            raise UsageError(f"give the {what} either a database URL or a database")
        from dflab.storage.migrations import upgrade

        self._owns_database = database is None
        self.database = database or PostgresDatabase(url, label=label)
        self.path = self.database.where  # named in messages, like the SQLite stores' path
        try:
            upgrade(self.database)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.partition("://")[0].lower() in POSTGRES_SCHEMES
