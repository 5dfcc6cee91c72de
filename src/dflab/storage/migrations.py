"""Versioned schema migrations for both backends; `dflab db upgrade` applies the pending ones.

Every database records what it has applied in `schema_migrations` (version, name, when). Migrations are only
ever added at the end of a list, never edited once released: version N of a list always means the same change.

  * PostgreSQL: the stores apply pending migrations when they open (under an advisory lock, in one transaction,
    so processes starting together do not race), and `dflab db upgrade` does the same explicitly.
  * SQLite: the stores have always created their tables on open (with their own `meta` versions); the SQLite
    list records the same steps so `dflab db upgrade` and `dflab db status` report both backends alike.

A database that has applied a version this dflab does not know is refused (a newer dflab wrote it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dflab.errors import IntegrityError


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Any], None]  # given the database, inside the upgrade's transaction


# --- PostgreSQL --------------------------------------------------------------------------------------------

_PG_LEDGER = (
    "CREATE TABLE leaves (idx BIGINT PRIMARY KEY, data TEXT NOT NULL, content_sha256 BYTEA NOT NULL, watermark TEXT)",
    "CREATE INDEX leaves_content ON leaves (content_sha256)",
    "CREATE INDEX leaves_watermark ON leaves (watermark)",
    "CREATE TABLE nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx))",
    "CREATE TABLE checkpoints (id BIGSERIAL PRIMARY KEY, tree_size BIGINT NOT NULL, root BYTEA NOT NULL,"
    " note TEXT NOT NULL, created TEXT NOT NULL)",
)

_PG_REGISTRY = (
    # hash_rows: kept so that the count the registry checks before every search is one row read.
    "CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "INSERT INTO registry_meta VALUES ('hash_rows', 0)",
    """CREATE TABLE records (
        record BIGINT PRIMARY KEY, sha256 TEXT NOT NULL, path TEXT NOT NULL, media_type TEXT NOT NULL,
        hasher TEXT NOT NULL, video_fps DOUBLE PRECISION NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
        width INTEGER NOT NULL, height INTEGER NOT NULL, frames INTEGER NOT NULL,
        registered_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX records_sha256 ON records (sha256)",
    # Hash ids come from a sequence (gaps after a rollback), taken under the registry's advisory lock so that
    # ids become visible in ascending order: a matcher that has seen id N only ever needs rows with id > N.
    "CREATE SEQUENCE hash_ids START 1",
    """CREATE TABLE hashes (
        id BIGINT PRIMARY KEY, record BIGINT NOT NULL REFERENCES records (record),
        time_s DOUBLE PRECISION NOT NULL, variant TEXT NOT NULL, quality INTEGER NOT NULL, code BYTEA NOT NULL)""",
    "CREATE INDEX hashes_record ON hashes (record)",
    """CREATE TABLE audio_prints (
        record BIGINT PRIMARY KEY REFERENCES records (record), fingerprint TEXT NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL, hashes INTEGER NOT NULL)""",
    """CREATE TABLE audio_hashes (
        hash BIGINT NOT NULL, record BIGINT NOT NULL REFERENCES records (record), anchor_s DOUBLE PRECISION NOT NULL,
        span_s DOUBLE PRECISION NOT NULL, anchor_oct DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX audio_hashes_hash ON audio_hashes (hash)",
)


_PG_SERVICE = (
    # seq orders the queue (FIFO) and the pages (newest first), as in sqlite_jobs.py.
    """CREATE TABLE jobs (
        seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, payload TEXT NOT NULL,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, owner TEXT,
        dedup_key TEXT, idempotency_key TEXT, worker_id TEXT, lease_expires_at DOUBLE PRECISION, stage TEXT,
        fraction DOUBLE PRECISION NOT NULL DEFAULT 0, result TEXT, error TEXT, created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION)""",
    "CREATE INDEX jobs_queue ON jobs (state, seq)",
    "CREATE INDEX jobs_dedup ON jobs (dedup_key) WHERE dedup_key IS NOT NULL",
    "CREATE UNIQUE INDEX jobs_idempotency ON jobs (coalesce(owner, ''), idempotency_key)"
    " WHERE idempotency_key IS NOT NULL",
    "CREATE INDEX jobs_lease ON jobs (state, lease_expires_at)",
    """CREATE TABLE api_keys (
        digest TEXT PRIMARY KEY, name TEXT NOT NULL, hint TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION, seq BIGSERIAL)""",
    "CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
)


def _statements(statements: tuple[str, ...]) -> Callable[[Any], None]:
    def apply(database) -> None:
        for sql in statements:
            database.execute(sql)

    return apply


POSTGRES_MIGRATIONS: list[Migration] = [
    Migration(1, "ledger: leaves, perfect-subtree nodes, checkpoints", _statements(_PG_LEDGER)),
    Migration(2, "registry: records, hashes (sequence ids), audio fingerprints", _statements(_PG_REGISTRY)),
    Migration(3, "service: job queue and API keys", _statements(_PG_SERVICE)),
]


# --- SQLite ------------------------------------------------------------------------------------------------


# The SQLite stores create these same tables when they open (IF NOT EXISTS) and fill their `meta` rows.
SQLITE_LEDGER_TABLES = (
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

SQLITE_REGISTRY_TABLES = (
    "CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS records (
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
        registered_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS records_sha256 ON records (sha256)",
    """CREATE TABLE IF NOT EXISTS hashes (
        id INTEGER PRIMARY KEY,          -- assigned by the store; the FAISS index maps back to it
        record INTEGER NOT NULL REFERENCES records (record),
        time_s REAL NOT NULL,
        variant TEXT NOT NULL,
        quality INTEGER NOT NULL,
        code BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audio_prints (
        record INTEGER PRIMARY KEY REFERENCES records (record),
        fingerprint TEXT NOT NULL,       -- audio_fingerprint.FINGERPRINT_NAME
        duration_s REAL NOT NULL,        -- of the fingerprinted audio
        hashes INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audio_hashes (
        hash INTEGER NOT NULL,           -- quantised speed-invariant coordinates of one peak quad
        record INTEGER NOT NULL REFERENCES records (record),
        anchor_s REAL NOT NULL,          -- time of the quad's first peak
        span_s REAL NOT NULL,            -- time from its first to its last peak
        anchor_oct REAL NOT NULL)""",  # log2 frequency of its first peak
    "CREATE INDEX IF NOT EXISTS audio_hashes_hash ON audio_hashes (hash)",
)

SQLITE_MIGRATIONS: list[Migration] = [
    Migration(1, "ledger: leaves, perfect-subtree nodes, checkpoints", _statements(SQLITE_LEDGER_TABLES)),
    Migration(2, "registry: records, hashes, audio fingerprints", _statements(SQLITE_REGISTRY_TABLES)),
]


# --- applying ----------------------------------------------------------------------------------------------


def migrations_for(database) -> list[Migration]:
    from dflab.storage.postgres import PostgresDatabase

    return POSTGRES_MIGRATIONS if isinstance(database, PostgresDatabase) else SQLITE_MIGRATIONS


def _ensure_table(database) -> None:
    database.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at TEXT NOT NULL)")  # fmt: skip


def applied_versions(database) -> list[int]:
    with database.transaction():
        _ensure_table(database)
        return [int(r[0]) for r in database.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]


def upgrade(database, up_to: int | None = None) -> list[Migration]:
    """Apply the pending migrations (all, or up to version `up_to`) in one transaction; returns those applied."""
    from dflab.storage.postgres import PostgresDatabase

    known = migrations_for(database)
    is_pg = isinstance(database, PostgresDatabase)
    mark = "%s" if is_pg else "?"
    with database.transaction():
        if is_pg:
            database.advisory_lock("dflab.migrations")
        _ensure_table(database)
        done = {int(r[0]) for r in database.execute("SELECT version FROM schema_migrations").fetchall()}
        newest = max((m.version for m in known), default=0)
        if done and max(done) > newest:
            raise IntegrityError(f"the database has schema version {max(done)}; this dflab knows up to {newest} "
                                 "(a newer dflab wrote it: upgrade dflab)")  # fmt: skip
        applied = []
        for migration in known:
            if migration.version in done or (up_to is not None and migration.version > up_to):
                continue
            migration.apply(database)
            database.execute(f"INSERT INTO schema_migrations VALUES ({mark}, {mark}, {mark})",
                             (migration.version, migration.name, _now()))  # fmt: skip
            applied.append(migration)
        return applied


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
