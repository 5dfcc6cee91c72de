"""Contract tests every LedgerStore must pass (run against MemoryStore and SQLiteStore alike)."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from dflab.errors import DflabError, IntegrityError, NotFound
from dflab.provenance.ledger import LedgerStore, MemoryStore, merkle
from dflab.provenance.ledger.sqlite_store import SQLiteStore
from dflab.provenance.ledger.store import LeafEntry, StoredCheckpoint


def _entry(i: int, watermark: str | None = None) -> LeafEntry:
    digest = hashlib.sha256(f"media-{i}".encode()).hexdigest()
    return LeafEntry(f'{{"i":{i},"sha":"{digest}"}}'.encode(), digest, watermark)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request, tmp_path) -> LedgerStore:
    if request.param == "postgres":
        from dflab.provenance.ledger.postgres_store import PostgresLedgerStore

        s = PostgresLedgerStore(request.getfixturevalue("postgres_url"))
    elif request.param == "memory":
        s = MemoryStore()
    else:
        s = SQLiteStore(tmp_path / "ledger.sqlite", synchronous="NORMAL")
    yield s
    s.close()


def test_store_satisfies_protocol(store) -> None:
    assert isinstance(store, LedgerStore)


def test_empty_store(store) -> None:
    assert store.size() == 0
    assert merkle.root_at(0, store.get_nodes) == merkle.EMPTY_ROOT
    assert store.checkpoints() == []
    with pytest.raises(NotFound):
        store.get_leaf(0)
    with pytest.raises(NotFound):
        store.get_node(0, 0)


def test_append_assigns_consecutive_indexes_and_keeps_bytes(store) -> None:
    assert store.append_batch([_entry(0)]) == 0
    assert store.append_batch([_entry(1), _entry(2), _entry(3)]) == 1
    assert store.append_batch([_entry(4)]) == 4
    assert store.size() == 5
    for i in range(5):
        assert store.get_leaf(i) == _entry(i).data
    assert [i for i, _ in store.iter_leaves(1, 4)] == [1, 2, 3]
    assert [d for _, d in store.iter_leaves(3, 99)] == [_entry(3).data, _entry(4).data]
    with pytest.raises(NotFound):
        store.get_leaf(5)


def test_stored_nodes_give_the_reference_root_at_every_size(store) -> None:
    entries = [_entry(i) for i in range(70)]
    leaf_hashes = [merkle.hash_leaf(e.data) for e in entries]
    pos = 0
    for batch in (1, 1, 2, 5, 8, 13, 3, 37):
        store.append_batch(entries[pos : pos + batch])
        pos += batch
        assert store.size() == pos
        for size in range(pos + 1):
            assert merkle.root_at(size, store.get_nodes) == merkle.root_from_leaf_hashes(leaf_hashes[:size])
    # Exactly the perfect subtrees are stored: level 0 has 70 nodes, level 1 has 35, ... level 6 has 1.
    for level in range(7):
        assert len(store.node_range(level, 0, 1000)) == 70 >> level
    assert store.node_range(7, 0, 10) == []
    proof = merkle.inclusion_proof(33, 70, store.get_nodes)
    merkle.verify_inclusion(33, 70, leaf_hashes[33], proof, merkle.root_from_leaf_hashes(leaf_hashes))


def test_find_leaves_by_content_and_watermark(store) -> None:
    store.append_batch([_entry(0, "df010000000000aa"), _entry(1), _entry(0), _entry(2, "df010000000000aa")])
    assert store.find_leaves(content_sha256=_entry(0).content_sha256) == [0, 2]
    assert store.find_leaves(watermark_payload="df010000000000aa") == [0, 3]
    assert store.find_leaves(content_sha256=_entry(2).content_sha256, watermark_payload="df010000000000aa") == [3]
    assert store.find_leaves(content_sha256="0" * 64) == []


def test_leaf_entries_come_back_with_their_lookup_columns(store) -> None:
    entries = [_entry(0, "df010000000000aa"), _entry(1), _entry(2)]
    store.append_batch(entries)
    assert list(store.iter_leaf_entries(0, 3)) == list(enumerate(entries))
    assert [i for i, _ in store.iter_leaf_entries(1, 10)] == [1, 2]


def test_after_commit_runs_once_after_the_outer_commit_and_never_after_a_rollback(store) -> None:
    database, ran = store.database, []
    with database.transaction():
        with database.transaction():
            database.after_commit(lambda: ran.append("inner"))
        assert ran == []  # the inner block committing is not the commit
    assert ran == ["inner"]
    with pytest.raises(RuntimeError), database.transaction():
        database.after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("undo")
    assert ran == ["inner"]


def test_checkpoints_are_kept_in_order(store) -> None:
    store.append_batch([_entry(0), _entry(1)])
    first = StoredCheckpoint(1, b"\x01" * 32, "note one\n", "2025-01-01T00:00:00Z")
    second = StoredCheckpoint(2, b"\x02" * 32, "note two\n", "2025-01-01T00:00:01Z")
    store.add_checkpoint(first)
    store.add_checkpoint(second)
    assert store.checkpoints() == [first, second]


def test_sqlite_batch_failure_writes_nothing(tmp_path, monkeypatch) -> None:
    """A batch that fails half-way (here: its node rows collide) is rolled back as a whole."""
    from dflab.provenance.ledger import sqlite_store

    store = SQLiteStore(tmp_path / "l.sqlite")
    store.append_batch([_entry(0), _entry(1)])
    real_plan = sqlite_store.plan_nodes
    monkeypatch.setattr(sqlite_store, "plan_nodes", lambda *a: real_plan(*a) + [(0, 0, b"\x00" * 32)])
    with pytest.raises(IntegrityError, match="rolled back"):
        store.append_batch([_entry(2), _entry(3)])
    monkeypatch.setattr(sqlite_store, "plan_nodes", real_plan)
    assert store.size() == 2
    assert store.node_range(0, 0, 10) == [merkle.hash_leaf(_entry(i).data) for i in range(2)]
    assert store.append_batch([_entry(2)]) == 2  # and the store is still usable
    store.close()


def test_sqlite_is_wal_and_reopens(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    store = SQLiteStore(path)
    store.append_batch([_entry(i) for i in range(10)])
    root = merkle.root_at(10, store.get_nodes)
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = SQLiteStore(path)
    assert reopened.size() == 10
    assert merkle.root_at(10, reopened.get_nodes) == root
    reopened.close()


def test_sqlite_rejects_a_file_that_is_not_a_ledger(tmp_path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(DflabError, match="not a usable ledger"):
        SQLiteStore(junk)
