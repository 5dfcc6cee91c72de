"""The ledger and registry stores of one lab, built on one database so both write in one transaction.

`open_stores(config)` picks the backend from the configuration: SQLite (the default: one file under the home,
$DFLAB_HOME/ledger.sqlite, holding the ledger's and the registry's tables), or a database URL: `sqlite:///PATH`,
or `postgresql://...` for scale (LedgerStore and RegistryStore on one connection pool, so registering is still
one transaction; they pass the same contract tests). `open_memory_stores()` builds the in-memory fakes for tests.

Registries made before the shared database kept their own file, $DFLAB_HOME/registry/registry.sqlite; the default
layout imports it once (one transaction) and renames it to registry.sqlite.imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dflab.config import LabConfig
from dflab.errors import UsageError
from dflab.provenance.ledger.store import LedgerStore
from dflab.provenance.registry.store import RegistryStore
from dflab.storage import Database

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
LEGACY_REGISTRY = "registry.sqlite"


@dataclass
class ProvenanceStores:
    database: Database
    ledger: LedgerStore
    registry: RegistryStore

    def transaction(self):
        return self.database.transaction()

    def close(self) -> None:
        self.ledger.close()
        self.registry.close()
        self.database.close()


def open_stores(config: LabConfig) -> ProvenanceStores:
    """The stores the configuration names (see the module docstring)."""
    url = config.database_url
    if url is None:
        stores = open_sqlite_stores(config.database_path)
        import_legacy_registry(stores, config.registry_dir / LEGACY_REGISTRY)
        return stores
    scheme = urlparse(url).scheme.lower()
    if scheme == "sqlite":
        path = urlparse(url).path
        if not path or path == "/":
            raise UsageError(f"database URL {url!r} names no file (use sqlite:///ABSOLUTE/PATH)")
        return open_sqlite_stores(Path(path))
    if scheme in POSTGRES_SCHEMES:
        return open_postgres_stores(url)
    raise UsageError(f"unknown database URL scheme {scheme + '://'!r}: use sqlite:///PATH or postgresql://...")


def open_database(config: LabConfig) -> Database:
    """Only the database the configuration names, no store opened on it (what `dflab db` works on)."""
    url = config.database_url
    if url is None:
        from dflab.storage.sqlite import SQLiteDatabase

        return SQLiteDatabase(config.database_path)
    scheme = urlparse(url).scheme.lower()
    if scheme in POSTGRES_SCHEMES:
        from dflab.storage.postgres import PostgresDatabase

        return PostgresDatabase(url)
    if scheme == "sqlite" and urlparse(url).path not in ("", "/"):
        from dflab.storage.sqlite import SQLiteDatabase

        return SQLiteDatabase(Path(urlparse(url).path))
    return open_stores(config).database  # raises the same one-line error as opening the stores


def open_sqlite_stores(path: str | Path, synchronous: str = "FULL") -> ProvenanceStores:
    from dflab.provenance.ledger.sqlite_store import SQLiteStore
    from dflab.provenance.registry.sqlite_store import SQLiteRegistryStore
    from dflab.storage.sqlite import SQLiteDatabase

    database = SQLiteDatabase(path, synchronous=synchronous)
    try:
        return ProvenanceStores(database, SQLiteStore(database=database), SQLiteRegistryStore(database=database))
    except BaseException:
        database.close()
        raise


def open_postgres_stores(url: str) -> ProvenanceStores:
    """Ledger and registry tables in one PostgreSQL database (pending migrations applied on open)."""
    from dflab.provenance.ledger.postgres_store import PostgresLedgerStore
    from dflab.provenance.registry.postgres_store import PostgresRegistryStore
    from dflab.storage.postgres import PostgresDatabase

    database = PostgresDatabase(url)
    try:
        return ProvenanceStores(database, PostgresLedgerStore(database=database),
                                PostgresRegistryStore(database=database))  # fmt: skip
    except BaseException:
        database.close()
        raise


def open_memory_stores(hash_ids=None) -> ProvenanceStores:
    """In-memory stores sharing one MemoryDatabase. `hash_ids`: the registry's id sequence (see memory_store.py)."""
    from dflab.provenance.ledger.store import MemoryStore
    from dflab.provenance.registry.memory_store import MemoryRegistryStore
    from dflab.storage.memory import MemoryDatabase

    database = MemoryDatabase()
    return ProvenanceStores(database, MemoryStore(database), MemoryRegistryStore(database, ids=hash_ids))


def import_legacy_registry(stores: ProvenanceStores, path: Path) -> int:
    """Move a registry file of the older layout into the shared database (see the module docstring)."""
    if not path.is_file():
        return 0
    added = stores.registry.import_file(path)
    for suffix in ("", "-wal", "-shm"):
        old = path.with_name(path.name + suffix)
        try:
            if old.exists():
                old.rename(old.with_name(old.name.replace(LEGACY_REGISTRY, LEGACY_REGISTRY + ".imported")))
        except OSError:
            pass  # importing again is harmless: records already present are skipped
    return added
