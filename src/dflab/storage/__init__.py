"""What every store is built on: a database that hands out transactions.

A store (the ledger's `LedgerStore`, the registry's `RegistryStore`, ...) is written against one `Database`.
Stores that share a database write in one transaction when the caller opens one around them:

    with database.transaction():
        record_id = ledger.append(record)          # both writes commit together,
        registry_store.add(row(record_id), hashes) # or neither does

Transactions nest: a store's own write inside an open transaction joins it (as a savepoint), so the store
needs no knowledge of who called it. Implementations: `SQLiteDatabase` (one file, one connection per thread) and
`MemoryDatabase` (a lock and an undo log, for tests). `PostgresDatabase` (storage/postgres.py) hands out one pooled connection
per thread in the same way.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from dflab.errors import DflabError


class StoreBusy(DflabError):
    """Another writer held the database for longer than the busy timeout."""


@runtime_checkable
class Database(Protocol):
    """Hands out transactions shared by every store built on it."""

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or roll back together; nested calls join the open one."""
        ...

    def close(self) -> None: ...


def __getattr__(name: str):
    # The implementations load lazily so `import dflab.storage` stays cheap.
    if name == "SQLiteDatabase":
        from dflab.storage.sqlite import SQLiteDatabase

        return SQLiteDatabase
    if name == "MemoryDatabase":
        from dflab.storage.memory import MemoryDatabase

        return MemoryDatabase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Database", "MemoryDatabase", "SQLiteDatabase", "StoreBusy"]
