"""`ApiKeyStore` on PostgreSQL: the SHA-256 of each key, never the key (as sqlite_api_keys.py). Tables:
storage/migrations.py (version 3)."""

from __future__ import annotations

import time
from collections.abc import Callable

from dflab.errors import UsageError
from dflab.storage.api_keys import ApiKey, check_given_key, check_name, key_digest, key_hint, new_key
from dflab.storage.postgres import PostgresDatabase, PostgresStore


class PostgresApiKeyStore(PostgresStore):
    def __init__(self, url: str | None = None, *, database: PostgresDatabase | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._clock = clock
        super().__init__(url, database=database, what="API key store", label="api keys")

    def create(self, name: str, *, key: str | None = None) -> str:
        check_name(name)
        key = check_given_key(key) if key is not None else new_key()
        db = self.database
        with db.transaction():
            db.advisory_lock("dflab.api_keys")  # the name and digest checks below cannot race another create
            if db.execute("SELECT 1 FROM api_keys WHERE name = %s AND revoked_at IS NULL", (name,)).fetchone():
                raise UsageError(f"an API key named {name!r} already exists; revoke it first")
            if db.execute("SELECT 1 FROM api_keys WHERE digest = %s", (key_digest(key),)).fetchone():
                raise UsageError("that key is already in use")
            db.execute("INSERT INTO api_keys (digest, name, hint, created_at) VALUES (%s, %s, %s, %s)",
                       (key_digest(key), name, key_hint(key), self._clock()))  # fmt: skip
        return key

    def verify(self, key: str) -> ApiKey | None:
        row = self.database.execute(
            "SELECT name, hint, created_at, revoked_at FROM api_keys WHERE digest = %s AND revoked_at IS NULL",
            (key_digest(key),),
        ).fetchone()
        return ApiKey(*row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self.database.execute("SELECT name, hint, created_at, revoked_at FROM api_keys ORDER BY created_at, seq")
        return [ApiKey(*row) for row in rows.fetchall()]

    def revoke(self, name: str) -> bool:
        with self.database.transaction():
            cursor = self.database.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL", (self._clock(), name))
            return cursor.rowcount == 1


__all__ = ["PostgresApiKeyStore"]
