"""A rewritten history is caught: the latest signed checkpoint is also kept outside the database, every stored
column the ledger vouches for is checked, missing checkpoints are an error, and witnesses cosign checkpoints
(C2SP tlog-cosignature) only when they extend what they cosigned before."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from dflab.cli.main import main
from dflab.config import dflab_home
from dflab.errors import IntegrityError, UsageError
from dflab.lab import Lab, LabConfig
from dflab.provenance.ledger import Record, SQLiteStore, open_checkpoint, open_ledger
from dflab.provenance.ledger.checkpoint_file import CheckpointFile
from dflab.provenance.ledger.witness import CosignatureVerifier, Witness


def _record(i: int, **kw) -> Record:
    return Record(content_sha256=hashlib.sha256(f"hist-{i}".encode()).hexdigest(), media_type="image",
                  path=f"p{i}.jpg", **kw)  # fmt: skip


@pytest.fixture
def db():
    """The default ledger with 3 append batches (each signs a checkpoint) and one checkpoint asked for."""
    with open_ledger() as led:
        led.append_batch([_record(i) for i in range(10)])
        led.checkpoint()
        led.append_batch([_record(i, watermark_payload=f"df0100000000{i:04x}") for i in range(10, 14)])
        led.append(_record(14))
    return dflab_home() / "ledger.sqlite"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _rewrite_history(path, index: int) -> None:
    """What someone holding the database (but not the key) can do: change one record, rebuild the leaves and every
    node consistently, and delete the checkpoints that no longer match."""
    with open_ledger(path) as led:
        records = [led.get(i) for i in range(led.size)]
    records[index] = _record(999)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM leaves")
        raw.execute("DELETE FROM nodes")
        raw.execute("DROP TABLE checkpoints")
    store = SQLiteStore(path)  # the store alone: no key, so nothing is signed
    try:
        from dflab.provenance.ledger import LeafEntry

        store.append_batch([LeafEntry(r.leaf_bytes(), r.content_sha256, r.watermark_payload) for r in records])
    finally:
        store.close()


def test_every_append_batch_keeps_the_latest_checkpoint_beside_the_database(db) -> None:
    file = db.with_name("ledger.checkpoint")
    with open_ledger() as led:
        cp = open_checkpoint(file.read_text(), led.verifier, led.origin)
        assert (cp.tree_size, cp.root) == (15, led.root())
        assert [c.tree_size for c in led.checkpoints()] == [10, 10, 14, 15]
        summary = led.verify_all()
    assert summary["external_checkpoint_size"] == 15 and summary["columns_checked"] == 15
    assert summary["unsigned_records"] == 0


def test_rewritten_history_with_checkpoints_deleted_fails_and_names_the_checkpoint(db, capsys) -> None:
    code, out, _ = _run(capsys, "ledger", "verify", "--all")
    assert code == 0 and "checkpoint file" in out
    _rewrite_history(db, 3)
    with open_ledger() as led:
        assert led.checkpoints() == []  # the database alone now agrees with itself
    code, out, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and out == ""
    line = err.strip()
    assert "\n" not in line and "Traceback" not in err
    assert "no longer consistent with the checkpoint signed at size 15" in line
    assert str(db.with_name("ledger.checkpoint")) in line
    code, out, _ = _run(capsys, "ledger", "verify", "--all", "--json")
    assert code == 1 and json.loads(out)["ok"] is False and "size 15" in json.loads(out)["problem"]


def test_deleted_checkpoints_alone_are_an_error(db, capsys) -> None:
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM checkpoints")
    code, _, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and "database checkpoints were deleted" in err
    db.with_name("ledger.checkpoint").unlink()
    code, _, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and "no signed checkpoint" in err and "checkpoints are missing" in err


def test_missing_or_older_checkpoint_file_is_an_error(db, capsys, tmp_path) -> None:
    file = db.with_name("ledger.checkpoint")
    with open_ledger() as led:
        older = led.checkpoints()[0].note  # size 10: genuinely signed, but not the latest
    file.write_text(older)
    code, _, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and "replaced by an older one" in err
    file.unlink()
    code, _, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and "checkpoint file" in err and "is missing" in err


@pytest.mark.parametrize(
    "sql, problem",
    [
        ("UPDATE leaves SET watermark = 'df01000000009999' WHERE idx = 11", "stored watermark"),
        ("UPDATE leaves SET watermark = 'df01000000009999' WHERE idx = 2", "stored watermark"),
        ("UPDATE leaves SET content_sha256 = zeroblob(32) WHERE idx = 4", "stored content hash"),
    ],
)
def test_lookup_columns_are_covered(db, capsys, sql, problem) -> None:
    with sqlite3.connect(db) as raw:
        raw.execute(sql)
    code, _, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and problem in err and "lookup column was altered" in err


def test_verify_against_a_checkpoint_kept_elsewhere(db, capsys, tmp_path) -> None:
    published = tmp_path / "published.checkpoint"
    published.write_text(db.with_name("ledger.checkpoint").read_text())
    code, out, _ = _run(capsys, "ledger", "verify", "--against", str(published))
    assert code == 0 and f"--against {published} matches" in out
    # Everything the machine holds rewritten, the local checkpoint file included (re-signed is impossible, so
    # the attacker deletes it): the copy kept elsewhere still names the break.
    _rewrite_history(db, 12)
    db.with_name("ledger.checkpoint").unlink()
    code, _, err = _run(capsys, "ledger", "verify", "--against", str(published))
    assert code == 1 and "checkpoint signed at size 15" in err and str(published) in err
    # A checkpoint this ledger did not sign is a wrong argument (exit 2), not a failed audit.
    other = tmp_path / "other.checkpoint"
    other.write_text(published.read_text().replace("\n15\n", "\n16\n", 1))
    code, _, err = _run(capsys, "ledger", "verify", "--against", str(other))
    assert code == 2 and "not a checkpoint signed by this ledger" in err


def test_a_rolled_back_append_is_never_signed(tmp_path) -> None:
    with Lab.from_config(LabConfig(home=tmp_path / "home")) as lab:
        ledger = lab.ledger()
        ledger.append(_record(0))
        before = lab.checkpoint_path.read_text()
        with pytest.raises(RuntimeError), lab.transaction():
            ledger.append(_record(1))
            assert len(ledger.checkpoints()) == 1  # nothing signed inside the open transaction
            raise RuntimeError("the registry write failed")
        assert ledger.size == 1 and lab.checkpoint_path.read_text() == before
        with lab.transaction():
            ledger.append(_record(1))
            ledger.append(_record(2))
        assert [c.tree_size for c in ledger.checkpoints()] == [1, 3]  # one, after the commit
        assert open_checkpoint(lab.checkpoint_path.read_text(), ledger.verifier).tree_size == 3


def test_checkpoint_file_never_moves_back(tmp_path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        led.append_batch([_record(i) for i in range(3)])
        small = led.checkpoints()[-1].note
        led.append(_record(3))
        file = CheckpointFile(tmp_path / "l.checkpoint")
        assert file.publish(small) is False  # a writer finishing late cannot put an older tree back
        assert open_checkpoint(file.read(), led.verifier).tree_size == 4


def test_witness_cosigns_only_consistent_extensions(db, capsys, tmp_path) -> None:
    with open_ledger() as led:
        vkey = led.verifier_key
    first = tmp_path / "cp15"
    first.write_text(db.with_name("ledger.checkpoint").read_text())
    code, out, _ = _run(capsys, "ledger", "witness", str(first), "--key", vkey, "--json")
    assert code == 0
    result = json.loads(out)
    witness_key = CosignatureVerifier.parse(result["witness_key"])
    assert witness_key.verify(result["checkpoint"]) == result["timestamp"]
    with open_ledger() as led:
        assert open_checkpoint(result["checkpoint"], led.verifier).tree_size == 15  # still the log's note

    with open_ledger() as led:
        led.append_batch([_record(i) for i in range(15, 20)])
    second = tmp_path / "cp20"
    second.write_text(db.with_name("ledger.checkpoint").read_text())
    code, _, err = _run(capsys, "ledger", "witness", str(second), "--key", vkey)
    assert code == 2 and "consistency proof from size 15 to 20 is needed" in err
    code, out, _ = _run(capsys, "ledger", "consistency", "15", "20", "--json")
    proof = tmp_path / "proof.json"
    proof.write_text(out)
    code, out, _ = _run(capsys, "ledger", "witness", str(second), "--key", vkey, "--proof", str(proof), "--json")
    assert code == 0 and json.loads(out)["previous_size"] == 15
    # Going back, or a fork signed with the same key, is refused.
    code, _, err = _run(capsys, "ledger", "witness", str(first), "--key", vkey)
    assert code == 2 and "refusing to go back" in err
    with open_ledger(tmp_path / "fork.sqlite") as fork:  # same key (same home), different records
        fork.append_batch([_record(1000 + i) for i in range(20)])
    code, _, err = _run(capsys, "ledger", "witness", str(tmp_path / "fork.checkpoint"), "--key", vkey)
    assert code == 2 and "a fork" in err


def test_cosignature_known_answer() -> None:
    """The cosigned message and key id follow c2sp.org/tlog-cosignature byte for byte (fixed key, fixed time)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dflab.provenance.ledger.witness import cosignature_key_id, cosigned_message

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    text = "example.com/log\n3\n" + "A" * 43 + "=\n"
    assert cosigned_message(text, 1700000000) == b"cosignature/v1\ntime 1700000000\n" + text.encode()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert cosignature_key_id("w", pub) == hashlib.sha256(b"w\n\x04" + pub).digest()[:4]


def test_witness_refuses_a_checkpoint_the_log_did_not_sign(db, tmp_path) -> None:
    with open_ledger() as led:
        log_key = led.verifier
    note = db.with_name("ledger.checkpoint").read_text().replace("\n15\n", "\n16\n", 1)
    with pytest.raises(IntegrityError):
        Witness(tmp_path / "w").cosign(note, log_key)
    with pytest.raises(UsageError):
        Witness(tmp_path / "w", name="bad name")


def test_a_checkpoint_signed_by_a_concurrent_appender_is_no_lost_record(tmp_path, monkeypatch) -> None:
    """Two appenders on one ledger: the other signs a larger tree while this one is about to sign. The tree only
    grows, so that is an ordinary race, not lost records (it once failed 4 concurrent registers on PostgreSQL)."""
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as mine, open_ledger(path) as other:
        mine.append(_record(0))
        read_signed = mine._latest_signed

        def other_appends_first():
            other.append(_record(1))  # appends and signs size 2 between our append and our checkpoint
            return read_signed()

        monkeypatch.setattr(mine, "_latest_signed", other_appends_first)
        mine.checkpoint()
        assert max(c.tree_size for c in mine.checkpoints()) == 2


def test_verify_all_while_another_process_appends(tmp_path, monkeypatch) -> None:
    """An audit that reads the checkpoints while an appender stores and publishes a new one still passes."""
    path = tmp_path / "l.sqlite"
    with open_ledger(path) as auditor, open_ledger(path) as appender:
        appender.append_batch([_record(i) for i in range(3)])
        read_stored = auditor.store.checkpoints

        def appender_signs_meanwhile():
            appender.append(_record(3))
            return read_stored()

        monkeypatch.setattr(auditor.store, "checkpoints", appender_signs_meanwhile)
        summary = auditor.verify_all()
        assert summary["ok"] and summary["records"] == 4 and summary["external_checkpoint_size"] == 4
