"""Contract tests every ApiKeyStore must pass (dflab/storage/api_keys.py); a backend joins by adding a factory."""

from __future__ import annotations

import pytest

from dflab.errors import UsageError
from dflab.storage.api_keys import KEY_PREFIX, ApiKeyStore, MemoryApiKeyStore, SQLiteApiKeyStore, key_digest

API_KEY_STORES = {
    "memory": lambda tmp_path: MemoryApiKeyStore(),
    "sqlite": lambda tmp_path: SQLiteApiKeyStore(tmp_path / "keys.sqlite"),
}
POSTGRES = "postgres"  # needs the `postgres_url` fixture (a schema of its own), so built in the fixture below


@pytest.fixture(params=[*sorted(API_KEY_STORES), POSTGRES])
def keys(request, tmp_path) -> ApiKeyStore:
    if request.param == POSTGRES:
        from dflab.storage.postgres_api_keys import PostgresApiKeyStore

        store = PostgresApiKeyStore(request.getfixturevalue("postgres_url"))
    else:
        store = API_KEY_STORES[request.param](tmp_path)
    yield store
    store.close()


def test_satisfies_protocol(keys):
    assert isinstance(keys, ApiKeyStore)


def test_create_then_verify(keys):
    key = keys.create("newsroom")
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    found = keys.verify(key)
    assert found is not None and found.name == "newsroom" and found.active
    assert key not in found.hint and key.startswith(found.hint)
    assert keys.verify(key + "x") is None and keys.verify("") is None
    assert keys.create("other") != key


def test_keys_are_stored_hashed(tmp_path):
    store = SQLiteApiKeyStore(tmp_path / "k.sqlite")
    key = store.create("desk")
    store.close()
    raw = (tmp_path / "k.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("k.sqlite-*"))
    assert key.encode() not in raw and key_digest(key).encode() in raw


def test_a_given_key_is_adopted(keys):
    keys.create("web", key="a-long-enough-token-0123")
    assert keys.verify("a-long-enough-token-0123").name == "web"
    with pytest.raises(UsageError):
        keys.create("short", key="tiny")
    with pytest.raises(UsageError):
        keys.create("again", key="a-long-enough-token-0123")


def test_names_are_checked_and_unique_while_active(keys):
    for bad in ("", "has space", "x" * 65, "-lead", "new\nline"):
        with pytest.raises(UsageError):
            keys.create(bad)
    keys.create("desk")
    with pytest.raises(UsageError):
        keys.create("desk")


def test_revoke_stops_a_key_and_frees_its_name(keys):
    old = keys.create("desk")
    assert keys.revoke("desk")
    assert keys.verify(old) is None
    assert not keys.revoke("desk") and not keys.revoke("nobody")
    new = keys.create("desk")
    assert keys.verify(new).name == "desk"
    listed = keys.list()
    assert [k.name for k in listed] == ["desk", "desk"]
    assert not listed[0].active and listed[1].active
