"""Contract tests every RegistryStore must pass, run against each implementation (memory, SQLite in a file of its
own, SQLite sharing the ledger's database, PostgreSQL sharing the ledger's database), plus a Registry built on
each: the FAISS index maps back to the store's ids, whatever they are."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import threading

import numpy as np
import pytest

from dflab.errors import IntegrityError
from dflab.provenance.registry import Registry
from dflab.provenance.registry.hashers import HASH_BYTES
from dflab.provenance.registry.memory_store import MemoryRegistryStore
from dflab.provenance.registry.sqlite_store import SQLiteRegistryStore
from dflab.provenance.registry.store import HashRow, RecordRow, RegistryStore
from dflab.provenance.stores import open_sqlite_stores

IMPLEMENTATIONS = ["memory", "memory-sparse-ids", "sqlite-own-file", "sqlite-shared", "postgres-shared"]


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request, tmp_path) -> RegistryStore:
    shared = None
    if request.param == "memory":
        s = MemoryRegistryStore()
    elif request.param == "memory-sparse-ids":
        s = MemoryRegistryStore(ids=itertools.count(1000, 7))  # like a PostgreSQL sequence: gaps, not from 0
    elif request.param == "postgres-shared":
        from dflab.provenance.stores import open_postgres_stores

        shared = open_postgres_stores(request.getfixturevalue("postgres_url"))
        s = shared.registry
    elif request.param == "sqlite-own-file":
        s = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    else:
        shared = open_sqlite_stores(tmp_path / "lab.sqlite", synchronous="NORMAL")
        s = shared.registry
    yield s
    s.close()
    if shared is not None:
        shared.close()


def _codes(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(c) for c in rng.integers(0, 256, (n, HASH_BYTES), dtype=np.uint8)]


def _record(record: int, sha: str = "", media_type: str = "image") -> RecordRow:
    return RecordRow(record, sha or f"{record:064x}", f"/media/{record}.jpg", media_type, "pdq-crops", 2.0, 1.5,
                     64, 48, 1, 0.0)  # fmt: skip


def _without_time(row: RecordRow) -> tuple:
    return dataclasses.astuple(row)[:-1]


def _hashes(record: int, codes: list[bytes]) -> list[HashRow]:
    return [HashRow(record, 0.5 * i, "full" if i == 0 else f"crop{90 - 5 * i}", 100, c) for i, c in enumerate(codes)]


def test_store_satisfies_protocol(store):
    assert isinstance(store, RegistryStore)


def test_empty_store(store):
    assert store.count_records() == 0 and store.count_hashes() == 0
    ids, codes = store.hash_codes()
    assert ids.shape == (0,) and codes.shape == (0, HASH_BYTES)
    assert store.record(0) is None and store.records_by_sha256("ab") == []
    assert store.code_of(0) is None and store.hash_rows([0, 1]) == {}
    assert store.audio_stats() == (0, 0.0, 0) and store.audio_print(0) is None


def test_add_gives_growing_ids_and_reads_back(store):
    first, second = _codes(3, 0), _codes(2, 1)
    ids_a = store.add(_record(5), _hashes(5, first))
    ids_b = store.add(_record(9, sha=f"{5:064x}"), _hashes(9, second))  # same bytes, another record
    assert len(ids_a) == 3 and len(ids_b) == 2
    all_ids = ids_a + ids_b
    assert all_ids == sorted(set(all_ids)) and all(i >= 0 for i in all_ids)
    assert store.count_records() == 2 and store.count_hashes() == 5
    assert store.count_hashes(5) == 3 and store.count_hashes(9) == 2
    ids, codes = store.hash_codes()
    assert ids.tolist() == all_ids and [bytes(c) for c in codes] == first + second
    after = store.hash_codes(after_id=ids_a[-1])
    assert after[0].tolist() == ids_b and [bytes(c) for c in after[1]] == second
    assert [bytes(c) for c in store.codes()] == first + second
    assert store.code_of(ids_b[1]) == second[1]
    rows = store.hash_rows([ids_a[2], ids_b[0], -1, max(all_ids) + 999])
    assert set(rows) == {ids_a[2], ids_b[0]}
    assert rows[ids_b[0]] == HashRow(9, 0.0, "full", 100, second[0])
    assert _without_time(store.record(5)) == _without_time(_record(5))
    assert [r.record for r in store.records_by_sha256(f"{5:064x}")] == [5, 9]


def test_registered_at_is_filled_in(store):
    store.add(_record(1), [])
    assert store.record(1).registered_at > 0


def test_duplicate_record_and_bad_code_change_nothing(store):
    store.add(_record(1), _hashes(1, _codes(2, 0)))
    with pytest.raises(IntegrityError, match="already in the registry"):
        store.add(_record(1), _hashes(1, _codes(3, 1)))
    with pytest.raises(IntegrityError, match="bytes"):
        store.add(_record(2), [HashRow(2, 0.0, "full", 100, b"\x00" * 5)])
    assert store.count_records() == 1 and store.count_hashes() == 2
    assert store.record(2) is None


def test_a_failed_transaction_leaves_no_rows(store):
    store.add(_record(1), _hashes(1, _codes(1, 0)))
    with pytest.raises(RuntimeError), store.transaction():
        store.add(_record(2), _hashes(2, _codes(4, 1)))
        store.add_audio(2, "quads-v1", 3.0, np.array([1, 2]), np.zeros(2), np.ones(2), np.zeros(2))
        raise RuntimeError("the second write failed")
    assert store.count_records() == 1 and store.count_hashes() == 1 and store.record(2) is None
    assert store.audio_print(2) is None and store.audio_stats() == (0, 0.0, 0)
    assert len(store.audio_hits(np.array([1, 2]), "quads-v1")) == 0
    # and the store keeps working: new ids still grow past every stored one
    ids = store.add(_record(3), _hashes(3, _codes(2, 2)))
    stored = store.hash_codes()[0].tolist()
    assert len(stored) == 3 == store.count_hashes() and stored == sorted(set(stored)) and stored[1:] == ids


def test_inner_failure_caught_inside_a_transaction_undoes_only_the_inner_write(store):
    with store.transaction():
        store.add(_record(1), _hashes(1, _codes(2, 0)))
        with pytest.raises(IntegrityError):
            store.add(_record(1), _hashes(1, _codes(1, 1)))  # joins, fails, is taken back alone
        store.add(_record(2), _hashes(2, _codes(1, 2)))
    assert store.count_records() == 2 and store.count_hashes() == 3


def test_audio_fingerprints(store):
    store.add(_record(1, media_type="audio"), [])
    store.add(_record(2, media_type="audio"), [])
    store.add(_record(3, media_type="audio"), [])
    keys = np.array([10, 11, 10, 12])
    store.add_audio(1, "quads-v1", 4.0, keys, np.arange(4.0), np.full(4, 0.5), np.full(4, 8.0))
    store.add_audio(2, "quads-v1", 2.0, np.array([11]), np.array([9.0]), np.array([0.25]), np.array([7.0]))
    store.add_audio(3, "quads-v0", 1.0, np.array([10]), np.array([0.0]), np.array([1.0]), np.array([6.0]))  # other version
    with pytest.raises(IntegrityError, match="already has audio"):
        store.add_audio(1, "quads-v1", 4.0, keys, np.arange(4.0), np.full(4, 0.5), np.full(4, 8.0))
    assert store.audio_print(1) == ("quads-v1", 4.0, 4) and store.audio_print(9) is None
    assert store.audio_stats() == (3, 7.0, 6)
    # query rows 0 and 2 both ask for key 10; key 99 is unknown
    hits = store.audio_hits(np.array([10, 11, 10, 99]), "quads-v1")
    got = sorted(zip(hits.query_row.tolist(), hits.record.tolist(), hits.anchor_s.tolist()))
    assert got == [(0, 1, 0.0), (0, 1, 2.0), (1, 1, 1.0), (1, 2, 9.0), (2, 1, 0.0), (2, 1, 2.0)]
    assert len(store.audio_hits(np.array([99]), "quads-v1")) == 0


def test_concurrent_writers_get_distinct_ids(store):
    errors = []

    def write(worker: int) -> None:
        try:
            for k in range(5):
                record = worker * 100 + k
                store.add(_record(record), _hashes(record, _codes(3, record)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids, codes = store.hash_codes()
    assert store.count_records() == 20 and store.count_hashes() == 60 == len(set(ids.tolist()))
    assert ids.tolist() == sorted(ids.tolist())
    for record in (0, 104, 302):
        assert store.count_hashes(record) == 3


# ---------------------------------------------------------------- a registry on each store


def test_registry_search_maps_index_hits_to_store_ids(store, tmp_path):
    codes = {record: _codes(6, record) for record in (3, 4, 8)}
    for record, cs in codes.items():
        store.add(_record(record), _hashes(record, cs))
    registry = Registry(store=store, index_dir=tmp_path / "cache", record_sink=lambda f: 0, owns_store=False)
    for record, cs in codes.items():
        query = bytearray(cs[2])
        query[0] ^= 0b111  # three bits off the "crop80" code
        hits = registry.search([bytes(query)], k=4)[0]
        assert hits[0][0] == 3 and hits[0][1].record == record and hits[0][1].variant == "crop80"
    # rows added later (by any writer) are caught up before the next search
    store.add(_record(11), _hashes(11, _codes(6, 11)))
    assert registry.search([_codes(6, 11)[0]], k=1)[0][0][1].record == 11
    assert registry.index().ntotal == store.count_hashes() == 24
    # the cache file is keyed by the same ids: a second registry loads it and answers alike
    again = Registry(store=store, index_dir=tmp_path / "cache", record_sink=lambda f: 0, owns_store=False)
    assert again.index().max_id == int(store.hash_codes()[0][-1])
    assert again.search([codes[8][0]], k=1)[0][0][1].record == 8


def test_registry_rebuilds_a_cache_that_disagrees_with_the_store(store, tmp_path):
    from dflab.provenance.registry import HashIndex

    store.add(_record(1), _hashes(1, _codes(6, 1)))
    cache = tmp_path / "cache"
    registry = Registry(store=store, index_dir=cache, record_sink=lambda f: 0, owns_store=False)
    registry.index()
    ids = store.hash_codes()[0]
    # same ids, other codes (a cache from another registry): thrown away on load
    HashIndex.build(_codes(6, 99), ids=ids).serialize(registry.index_path)
    fresh = Registry(store=store, index_dir=cache, record_sink=lambda f: 0, owns_store=False)
    assert fresh.search([_codes(6, 1)[4]], k=1)[0][0][1].record == 1


def test_sqlite_store_survives_reopening_and_counts_rows(tmp_path):
    path = tmp_path / "registry.sqlite"
    store = SQLiteRegistryStore(path)
    ids = store.add(_record(1), _hashes(1, _codes(4, 0)))
    store.close()
    again = SQLiteRegistryStore(path)
    assert again.count_hashes() == 4 and again.hash_codes()[0].tolist() == ids
    assert again.add(_record(2), _hashes(2, _codes(1, 1)))[0] > ids[-1]
    again.close()
    with sqlite3.connect(path) as raw:  # the count the store keeps is the table's
        assert raw.execute("SELECT COUNT(*) FROM hashes").fetchone()[0] == 5
        assert raw.execute("SELECT value FROM registry_meta WHERE key='hash_rows'").fetchone()[0] == "5"


def test_sqlite_import_of_a_standalone_registry_file(tmp_path):
    old = SQLiteRegistryStore(tmp_path / "old.sqlite")
    old.add(_record(1), _hashes(1, _codes(3, 0)))
    old.add(_record(2), _hashes(2, _codes(2, 1)))
    old.add_audio(2, "quads-v1", 2.0, np.array([5, 6]), np.zeros(2), np.ones(2), np.zeros(2))
    old.close()
    stores = open_sqlite_stores(tmp_path / "lab.sqlite", synchronous="NORMAL")
    stores.registry.add(_record(2), _hashes(2, _codes(2, 1)))  # already here: kept, not doubled
    assert stores.registry.import_file(tmp_path / "old.sqlite") == 1
    assert stores.registry.import_file(tmp_path / "old.sqlite") == 0  # importing again adds nothing
    assert stores.registry.count_records() == 2 and stores.registry.count_hashes() == 5
    assert [bytes(c) for c in stores.registry.codes()] == _codes(2, 1) + _codes(3, 0)
    assert stores.registry.audio_print(2) is None  # record 2 was already here, so its rows were not taken
    stores.close()
