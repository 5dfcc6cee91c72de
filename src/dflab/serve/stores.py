"""Where the service keeps its state: DFLAB_HOME/serve (jobs and API keys in service.sqlite, uploads/, reports/).

The job and key stores get a database of their own rather than the ledger's: job heartbeats are frequent
writes that need not wait for (or fsync like) ledger appends. `synchronous=NORMAL` in WAL mode still survives a
killed process, which is what a job queue must survive; only an OS crash may lose the last heartbeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dflab.config import LabConfig
from dflab.storage.api_keys import ApiKeyStore
from dflab.storage.jobs import JobStore

SERVE_DIR = "serve"


@dataclass
class ServiceStores:
    jobs: JobStore
    keys: ApiKeyStore
    root: Path  # DFLAB_HOME/serve

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def token_file(self) -> Path:
        return self.root / "token"

    @property
    def session_secret_file(self) -> Path:
        return self.root / "session-secret"

    def close(self) -> None:
        self.jobs.close()
        self.keys.close()
        database = getattr(self.jobs, "database", None)
        if database is not None:
            database.close()


def open_service_stores(config: LabConfig) -> ServiceStores:
    """SQLite under the home, or, with a postgresql:// database URL, the lab's PostgreSQL database: one queue that
    `dflab serve` instances and `dflab worker` processes on other machines share (uploads and reports stay files
    under the home, which those machines must then share too; docs/scale-out.md)."""
    from dflab.storage.postgres import is_postgres_url

    if is_postgres_url(config.database_url):
        return _open_postgres_service_stores(config)
    from dflab.storage.sqlite import SQLiteDatabase
    from dflab.storage.sqlite_api_keys import SQLiteApiKeyStore
    from dflab.storage.sqlite_jobs import SQLiteJobStore

    root = config.home / SERVE_DIR
    database = SQLiteDatabase(root / "service.sqlite", synchronous="NORMAL", label="service")
    try:
        return ServiceStores(SQLiteJobStore(database=database), SQLiteApiKeyStore(database=database), root)
    except BaseException:
        database.close()
        raise


def _open_postgres_service_stores(config: LabConfig) -> ServiceStores:
    from dflab.storage.postgres import PostgresDatabase
    from dflab.storage.postgres_api_keys import PostgresApiKeyStore
    from dflab.storage.postgres_jobs import PostgresJobStore

    database = PostgresDatabase(config.database_url, label="service")
    try:
        return ServiceStores(PostgresJobStore(database=database), PostgresApiKeyStore(database=database),
                             config.home / SERVE_DIR)  # fmt: skip
    except BaseException:
        database.close()
        raise


def open_memory_service_stores(root: Path) -> ServiceStores:
    """In-memory jobs and keys (files still under `root`), for tests."""
    from dflab.storage.api_keys import MemoryApiKeyStore
    from dflab.storage.memory_jobs import MemoryJobStore

    return ServiceStores(MemoryJobStore(), MemoryApiKeyStore(), Path(root))
