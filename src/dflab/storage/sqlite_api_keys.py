"""`ApiKeyStore` on a SQLite database: the SHA-256 of each key, never the key."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dflab.errors import IntegrityError, UsageError
from dflab.storage.api_keys import ApiKey, check_given_key, check_name, key_digest, key_hint, new_key

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_keys (digest TEXT PRIMARY KEY, name TEXT NOT NULL, hint TEXT NOT NULL, "
    "created_at REAL NOT NULL, revoked_at REAL)",
    # one active key per name; revoked ones keep their rows
    "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
)


class SQLiteApiKeyStore:
    def __init__(self, path: str | Path | None = None, *, database=None, clock: Callable[[], float] = time.time) -> None:
        from dflab.storage.sqlite import SQLiteDatabase

        if (path is None) == (database is None):
            raise ValueError("give a path or a database, not both")
        self._owns_database = database is None
        self.database = database if database is not None else SQLiteDatabase(path, label="api keys")
        self._clock = clock
        with self.database.transaction():
            for statement in SCHEMA:
                self.database.execute(statement)

    def create(self, name: str, *, key: str | None = None) -> str:
        check_name(name)
        key = check_given_key(key) if key is not None else new_key()
        try:
            with self.database.transaction():
                if self.database.execute("SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL",
                                         (name,)).fetchone():  # fmt: skip
                    raise UsageError(f"an API key named {name!r} already exists; revoke it first")
                self.database.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, NULL)",
                                      (key_digest(key), name, key_hint(key), self._clock()))  # fmt: skip
        except IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UsageError("that key is already in use") from None
            raise
        return key

    def verify(self, key: str) -> ApiKey | None:
        row = self.database.execute(
            "SELECT name, hint, created_at, revoked_at FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
            (key_digest(key),),
        ).fetchone()
        return ApiKey(*row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self.database.execute("SELECT name, hint, created_at, revoked_at FROM api_keys ORDER BY created_at, rowid")
        return [ApiKey(*row) for row in rows.fetchall()]

    def revoke(self, name: str) -> bool:
        with self.database.transaction():
            cursor = self.database.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                                           (self._clock(), name))  # fmt: skip
            return cursor.rowcount == 1

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


__all__ = ["SQLiteApiKeyStore"]
