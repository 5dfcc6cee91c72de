"""The Ledger facade: records, checkpoints, proofs verified offline, audits that catch tampering."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sqlite3

import pytest

from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.provenance.ledger import (
    MemoryStore,
    Record,
    canonical_json,
    merkle,
    open_checkpoint,
    open_ledger,
    verify_proof,
)
from dflab.provenance.ledger.signing import load_or_create_signer


def _record(i: int, **kw) -> Record:
    kw.setdefault("time", "2025-01-02T03:04:05.000006Z")
    return Record(content_sha256=hashlib.sha256(f"media-{i}".encode()).hexdigest(), media_type="image", **kw)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request, tmp_path):
    led = open_ledger(store=MemoryStore()) if request.param == "memory" else open_ledger(tmp_path / "l.sqlite")
    yield led
    led.close()


# ---- records --------------------------------------------------------------------------------------------


def test_record_json_round_trip_and_canonical_leaf(tmp_path) -> None:
    rec = Record(
        content_sha256="ab" * 32,
        action="generate",
        time="2025-05-06T07:08:09Z",
        media_type="video",
        path="out/clip.mp4",
        perceptual_hashes=["00ff" * 16, "0f0f" * 16],
        watermark_payload="df01000000000007",
        manifest_sha256="cd" * 32,
        parents=[3, 4],
        extra={"model": "swap-v1", "é": 1.5},
    )
    assert Record.from_json(json.loads(json.dumps(rec.to_json()))) == rec
    leaf = rec.leaf_bytes()
    assert leaf == json.dumps(rec.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert b" " not in leaf.replace(b"swap-v1", b"")
    assert Record.from_leaf(leaf) == rec
    media = tmp_path / "m.bin"
    media.write_bytes(b"hello")
    from_file = Record.for_file(media, media_type="other")
    assert from_file.content_sha256 == hashlib.sha256(b"hello").hexdigest()
    assert from_file.path == str(media) and from_file.time.endswith("Z")


@pytest.mark.parametrize(
    "fields",
    [
        {"content_sha256": "AB" * 32},
        {"content_sha256": "ab" * 31},
        {"content_sha256": "ab" * 32, "action": "Register!"},
        {"content_sha256": "ab" * 32, "time": "yesterday"},
        {"content_sha256": "ab" * 32, "time": "2025-01-01T00:00:00+02:00"},
        {"content_sha256": "ab" * 32, "media_type": "hologram"},
        {"content_sha256": "ab" * 32, "watermark_payload": "xyz"},
        {"content_sha256": "ab" * 32, "manifest_sha256": "00"},
        {"content_sha256": "ab" * 32, "parents": [-1]},
        {"content_sha256": "ab" * 32, "perceptual_hashes": ["not hex"]},
        {"content_sha256": "ab" * 32, "extra": {"x": float("nan")}},
        {"content_sha256": "ab" * 32, "path": "undecodable-\udcff.jpg"},
    ],
)
def test_invalid_records_are_refused(fields) -> None:
    with pytest.raises(UsageError):
        Record(**fields)


def test_from_json_rejects_foreign_objects() -> None:
    good = _record(0).to_json()
    for bad in ([], {**good, "surprise": 1}, {k: v for k, v in good.items() if k != "action"}, {**good, "v": 99}):
        with pytest.raises(IntegrityError):
            Record.from_json(bad)


# ---- ledger API on both stores --------------------------------------------------------------------------


def test_append_get_and_root(ledger) -> None:
    assert ledger.size == 0 and ledger.root() == merkle.EMPTY_ROOT
    first = ledger.append(_record(0))
    ids = ledger.append_batch([_record(i) for i in range(1, 6)])
    child = ledger.append(_record(6, action="edit", parents=(2,), watermark_payload="df01000000000006"))
    assert (first, ids, child) == (0, [1, 2, 3, 4, 5], 6)
    assert ledger.get(3) == _record(3)
    assert ledger.get(6).parents == (2,)
    assert ledger.leaf_hash(3) == merkle.hash_leaf(_record(3).leaf_bytes())
    leaves = [merkle.hash_leaf(_record(i).leaf_bytes()) for i in range(6)]
    leaves.append(merkle.hash_leaf(ledger.get(6).leaf_bytes()))
    assert ledger.root() == merkle.root_from_leaf_hashes(leaves)
    assert ledger.root(4) == merkle.root_from_leaf_hashes(leaves[:4])
    assert ledger.find(content_sha256=_record(2).content_sha256) == [2]
    assert ledger.find(watermark_payload="df01000000000006") == [6]
    with pytest.raises(NotFound):
        ledger.get(7)
    with pytest.raises(NotFound, match="parent"):
        ledger.append(_record(9, parents=(99,)))
    with pytest.raises(UsageError):
        ledger.append_batch([_record(1), {"content_sha256": "ab" * 32}])
    assert ledger.size == 7  # the refused batch added nothing


def test_checkpoint_prove_and_offline_verify(ledger) -> None:
    ledger.append_batch([_record(i) for i in range(11)])
    note = ledger.checkpoint()
    cp = open_checkpoint(note, ledger.verifier)
    assert (cp.origin, cp.tree_size, cp.root) == ("dflab.local/ledger", 11, ledger.root())
    for rid in (0, 5, 10):
        bundle = ledger.prove(rid)
        assert bundle["checkpoint"] == note and bundle["tree_size"] == 11
        assert bundle["leaf_hash"] == merkle.hash_leaf(canonical_json(bundle["record"])).hex()
        summary = verify_proof(json.loads(json.dumps(bundle)), ledger.verifier_key)  # as if read from a file
        assert summary["ok"] and summary["index"] == rid
    # A record appended after the checkpoint gets a fresh checkpoint that covers it (every append batch signs one).
    rid = ledger.append(_record(11))
    bundle = ledger.prove(rid)
    assert bundle["tree_size"] == 12 and [c.tree_size for c in ledger.checkpoints()] == [11, 11, 12]
    assert verify_proof(bundle, ledger.verifier_key)["tree_size"] == 12


def test_consistency_between_checkpoints(ledger) -> None:
    ledger.append_batch([_record(i) for i in range(7)])
    ledger.checkpoint()
    ledger.append_batch([_record(i) for i in range(7, 20)])
    ledger.checkpoint()
    bundle = ledger.consistency(7, 20)
    assert bundle["old_checkpoint"] and bundle["new_checkpoint"]
    assert verify_proof(bundle, ledger.verifier_key)["signed"] == ["old", "new"]
    assert ledger.consistency(0)["proof"] == [] and ledger.consistency(20)["proof"] == []
    forged = copy.deepcopy(bundle)
    forged["new_root"] = ledger.root(19).hex()
    with pytest.raises(IntegrityError):
        verify_proof(forged, ledger.verifier_key)
    with pytest.raises(UsageError):
        ledger.consistency(21)


def test_verify_all_on_a_clean_ledger(ledger) -> None:
    ledger.append_batch([_record(i) for i in range(37)])
    ledger.checkpoint()
    ledger.append_batch([_record(i) for i in range(37, 40)])
    summary = ledger.verify_all()
    assert summary["records"] == 40 and summary["checkpoints"] == 3  # one per append batch, one asked for
    assert summary["columns_checked"] == 40 and summary["unsigned_records"] == 0
    assert summary["nodes_checked"] == sum(40 >> level for level in range(6))
    assert summary["root"] == ledger.root().hex()


def test_verify_all_chunked_over_many_records(monkeypatch, ledger) -> None:
    from dflab.provenance.ledger import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "VERIFY_CHUNK", 8)  # exercise chunk boundaries with a small tree
    ledger.append_batch([_record(i) for i in range(45)])
    ledger.checkpoint()
    assert ledger.verify_all()["nodes_checked"] == sum(45 >> level for level in range(6))


# ---- offline proof files: forged and malformed ------------------------------------------------------------


@pytest.fixture
def proof_case(tmp_path):
    with open_ledger(tmp_path / "l.sqlite") as led:
        led.append_batch([_record(i) for i in range(9)])
        yield led.prove(6), led.verifier_key


def _flip(hex_hash: str) -> str:
    return ("0" if hex_hash[0] != "0" else "1") + hex_hash[1:]


@pytest.mark.parametrize(
    "forge,message",
    [
        (lambda b: b["record"].update(path="/elsewhere.jpg"), "does not hash to its leaf hash"),
        (lambda b: b.update(leaf_hash=_flip(b["leaf_hash"])), "does not hash to its leaf hash"),
        (lambda b: b["proof"].__setitem__(0, _flip(b["proof"][0])), "does not match expected"),
        (lambda b: b["proof"].pop(), "needs"),
        (lambda b: b["proof"].append(b["root"]), "needs"),
        (lambda b: b.update(index=5), "does not match expected"),
        (lambda b: b.update(tree_size=8), "tree size 9, the proof says 8"),
        (lambda b: b.update(root=_flip(b["root"])), "root differs"),
        (lambda b: b.update(checkpoint=b["checkpoint"].replace("\n9\n", "\n10\n")), "does not verify"),
        (lambda b: b.update(checkpoint=b["checkpoint"][:-20] + "@@@\n"), "base64"),
        (lambda b: b.update(checkpoint=None), "missing"),
        (lambda b: b.update(proof="abc"), "list of hex"),
        (lambda b: b["proof"].__setitem__(0, "zz"), "64 hex"),
        (lambda b: b.update(index=-1), "non-negative"),
        (lambda b: b.update(tree_size="9"), "non-negative"),
        (lambda b: b.pop("record"), "no record"),
        (lambda b: b["record"].update(v=2), "version"),
    ],
)
def test_forged_proof_files_are_rejected(proof_case, forge, message) -> None:
    bundle, vkey = proof_case
    verify_proof(bundle, vkey)
    forged = copy.deepcopy(bundle)
    forge(forged)
    with pytest.raises(IntegrityError, match=message):
        verify_proof(forged, vkey)


def test_proof_checked_with_the_wrong_key_fails(proof_case, tmp_path) -> None:
    bundle, vkey = proof_case
    other = load_or_create_signer(key_path=tmp_path / "other.pem")  # same key name, different key
    with pytest.raises(IntegrityError, match="not by the expected key"):
        verify_proof(bundle, other.verifier)
    with pytest.raises(IntegrityError, match="not by the expected key"):
        verify_proof(bundle, str(other.verifier))
    # A checkpoint for a forged tree, signed by an attacker's key, is refused under our key.
    forged_root = hashlib.sha256(b"forged").digest()
    text = f"dflab.local/ledger\n9\n{base64.b64encode(forged_root).decode()}\n"
    forged = dict(bundle, checkpoint=other.sign(text), root=forged_root.hex())
    with pytest.raises(IntegrityError, match="not by the expected key"):
        verify_proof(forged, vkey)


def test_verify_proof_rejects_non_objects(proof_case) -> None:
    _, vkey = proof_case
    for junk in (None, [], "text", 3):
        with pytest.raises(IntegrityError):
            verify_proof(junk, vkey)


# ---- tampering with the stored ledger ----------------------------------------------------------------------


@pytest.fixture
def sqlite_ledger_path(tmp_path):
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as led:
        led.append_batch([_record(i) for i in range(20)])
        led.checkpoint()
        led.append_batch([_record(i) for i in range(20, 25)])
        assert led.verify_all()["ok"]
    return path


def _raw(path, sql, *args) -> None:
    with sqlite3.connect(path) as db:
        db.execute(sql, args)


def test_changed_record_is_detected(sqlite_ledger_path) -> None:
    _raw(sqlite_ledger_path, "UPDATE leaves SET data = replace(data, '\"image\"', '\"video\"') WHERE idx = 13")
    with open_ledger(sqlite_ledger_path) as led:
        with pytest.raises(IntegrityError, match="record 13 was altered"):
            led.verify_all()
        with pytest.raises(IntegrityError, match="record 13 was altered"):
            led.prove(13)  # a proof is never handed out for an altered record
        assert verify_proof(led.prove(12), led.verifier_key)["ok"]  # the others still prove fine


def test_record_and_its_hashes_rewritten_is_caught_by_the_checkpoint(sqlite_ledger_path) -> None:
    """An attacker who rewrites a record AND recomputes every stored hash still cannot match the signed root."""
    with open_ledger(sqlite_ledger_path) as led:
        forged = [led.get(i) for i in range(25)]
    forged[4] = _record(999)
    with sqlite3.connect(sqlite_ledger_path) as db:
        db.execute("DELETE FROM leaves")
        db.execute("DELETE FROM nodes")
    with open_ledger(sqlite_ledger_path) as led:
        with pytest.raises(IntegrityError, match="refusing to sign"):
            led.append_batch(forged)  # written (the attacker has the database), but never signed
        with pytest.raises(IntegrityError, match="no longer consistent with the checkpoint signed at size 20"):
            led.verify_all()
        with pytest.raises(IntegrityError, match="refusing to sign"):
            led.checkpoint()


def test_deleted_records_are_detected(sqlite_ledger_path) -> None:
    _raw(sqlite_ledger_path, "DELETE FROM leaves WHERE idx >= 3")
    with open_ledger(sqlite_ledger_path) as led, pytest.raises(IntegrityError, match="records lost"):
        led.verify_all()


def test_missing_middle_record_and_changed_node_are_detected(sqlite_ledger_path, tmp_path) -> None:
    _raw(sqlite_ledger_path, "UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1")
    with open_ledger(sqlite_ledger_path) as led, pytest.raises(IntegrityError, match=r"node \(2, 1\)"):
        led.verify_all()
    _raw(sqlite_ledger_path, "DELETE FROM leaves WHERE idx = 7")
    with open_ledger(sqlite_ledger_path) as led, pytest.raises(IntegrityError, match="record 7 is missing"):
        led.verify_all()


def test_forged_stored_checkpoint_is_detected(sqlite_ledger_path) -> None:
    _raw(sqlite_ledger_path, "UPDATE checkpoints SET note = replace(note, char(10) || '20' || char(10), char(10) || '21' || char(10))")
    with open_ledger(sqlite_ledger_path) as led, pytest.raises(IntegrityError, match="does not verify"):
        led.verify_all()
