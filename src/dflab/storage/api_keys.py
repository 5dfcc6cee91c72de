"""API keys for `dflab serve`: the `ApiKeyStore` interface, the key format, and an in-memory store for tests.

A key is shown once, when it is made; the store keeps only its SHA-256 (keys are 256 random bits, so a fast
hash is enough: there is nothing to guess from it). `verify` looks a presented key up by that hash. A revoked
key stays listed (who had access, and until when) but no longer verifies; its name may be given to a new key.
Implementations: `MemoryApiKeyStore` (here) and `SQLiteApiKeyStore` (sqlite_api_keys.py); the contract tests
in tests/storage/test_api_key_store_contract.py run against each.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from dflab.errors import UsageError

KEY_PREFIX = "dfk_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_KEY_CHARS = 16  # a key given from outside (DFLAB_TOKEN) must be at least this long


@dataclass(frozen=True)
class ApiKey:
    name: str
    hint: str  # the key's first characters, to tell keys apart in a list (never enough to use it)
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@runtime_checkable
class ApiKeyStore(Protocol):
    def create(self, name: str, *, key: str | None = None) -> str:
        """A new key for `name`, returned in clear this once; `key` adopts a given secret instead of making one.
        A name that already has an active key is a UsageError."""
        ...

    def verify(self, key: str) -> ApiKey | None:
        """The active key this secret belongs to, or None."""
        ...

    def list(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        ...

    def revoke(self, name: str) -> bool:
        """Revoke the active key of `name`; False if there is none."""
        ...

    def close(self) -> None: ...


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    return key[: len(KEY_PREFIX) + 4] if key.startswith(KEY_PREFIX) else key[:4]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsageError(f"bad key name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                         "or digit")  # fmt: skip
    return name


def check_given_key(key: str) -> str:
    if len(key) < MIN_KEY_CHARS or not key.isprintable() or any(c.isspace() for c in key):
        raise UsageError(f"an API key or token must be at least {MIN_KEY_CHARS} printable characters without spaces")
    return key


class MemoryApiKeyStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[tuple[str, ApiKey]] = []  # (digest, key), oldest first

    def create(self, name: str, *, key: str | None = None) -> str:
        check_name(name)
        key = check_given_key(key) if key is not None else new_key()
        digest = key_digest(key)
        with self._lock:
            if any(k.name == name and k.active for _, k in self._keys):
                raise UsageError(f"an API key named {name!r} already exists; revoke it first")
            if any(d == digest for d, _ in self._keys):
                raise UsageError("that key is already in use")
            self._keys.append((digest, ApiKey(name, key_hint(key), self._clock(), None)))
        return key

    def verify(self, key: str) -> ApiKey | None:
        digest = key_digest(key)
        with self._lock:
            return next((k for d, k in self._keys if d == digest and k.active), None)

    def list(self) -> list[ApiKey]:
        with self._lock:
            return [k for _, k in self._keys]

    def revoke(self, name: str) -> bool:
        with self._lock:
            for i, (digest, k) in enumerate(self._keys):
                if k.name == name and k.active:
                    self._keys[i] = (digest, replace(k, revoked_at=self._clock()))
                    return True
            return False

    def close(self) -> None:
        pass


def __getattr__(name: str):
    if name == "SQLiteApiKeyStore":
        from dflab.storage.sqlite_api_keys import SQLiteApiKeyStore

        return SQLiteApiKeyStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ApiKey", "ApiKeyStore", "KEY_PREFIX", "MemoryApiKeyStore", "SQLiteApiKeyStore", "key_digest", "new_key"]
