"""`dflab ledger ...`: JSON outputs, offline verification, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dflab.cli.main import main
from dflab.config import dflab_home
from dflab.provenance.ledger import Record, open_checkpoint, open_ledger


def _record(i: int) -> Record:
    return Record(content_sha256=hashlib.sha256(f"cli-{i}".encode()).hexdigest(), media_type="image", path=f"p{i}.jpg")


@pytest.fixture
def populated():
    with open_ledger() as led:  # the default ledger under $DFLAB_HOME (isolated per test by conftest)
        led.append_batch([_record(i) for i in range(12)])
    return dflab_home() / "ledger.sqlite"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_checkpoint_prove_verify_round_trip(populated, capsys, tmp_path) -> None:
    code, out, _ = _run(capsys, "ledger", "checkpoint", "--json")
    assert code == 0
    cp = json.loads(out)
    assert cp["tree_size"] == 12 and cp["checkpoint"].startswith("dflab.local/ledger\n12\n")

    code, out, _ = _run(capsys, "ledger", "prove", "7", "--json")
    assert code == 0
    proof = json.loads(out)
    for key in ("index", "tree_size", "leaf_hash", "proof", "root", "checkpoint", "record"):
        assert key in proof
    assert proof["index"] == 7 and proof["tree_size"] == 12 and proof["root"] == cp["root"]
    assert all(len(h) == 64 for h in proof["proof"]) and len(proof["proof"]) == 4
    assert proof["record"]["path"] == "p7.jpg"

    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(proof))
    os.remove(populated)  # offline: the database is not needed any more
    code, out, _ = _run(capsys, "ledger", "verify", str(proof_file), "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = _run(capsys, "ledger", "verify", str(proof_file), "--key", cp["verifier_key"])
    assert code == 0 and out.startswith("OK: record 7")


def test_show_status_consistency(populated, capsys) -> None:
    code, out, _ = _run(capsys, "ledger", "show", "3", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["record"] == _record(3).to_json() | {"time": shown["record"]["time"]}
    code, out, _ = _run(capsys, "ledger", "show", "3")
    assert code == 0 and "p3.jpg" in out
    _run(capsys, "ledger", "checkpoint")
    with open_ledger() as led:
        led.append_batch([_record(i) for i in range(12, 20)])
    code, out, _ = _run(capsys, "ledger", "consistency", "12", "--json")
    bundle = json.loads(out)
    assert code == 0 and (bundle["old_size"], bundle["new_size"]) == (12, 20) and bundle["old_checkpoint"]
    code, out, _ = _run(capsys, "ledger", "status", "--json")
    status = json.loads(out)
    assert status["size"] == 20 and status["checkpoints"] == 3 and status["verifier_key"].startswith("dflab.local/ledger+")


def test_consistency_proof_file_verifies(populated, capsys, tmp_path) -> None:
    _run(capsys, "ledger", "checkpoint")
    with open_ledger() as led:
        led.append_batch([_record(i) for i in range(12, 15)])
    _run(capsys, "ledger", "checkpoint")
    code, out, _ = _run(capsys, "ledger", "consistency", "12", "15", "--json")
    path = tmp_path / "c.json"
    path.write_text(out)
    code, out, _ = _run(capsys, "ledger", "verify", str(path))
    assert code == 0 and "2 signed checkpoints" not in out and "old, new signed" in out


def test_verify_all_detects_an_edited_row(populated, capsys) -> None:
    _run(capsys, "ledger", "checkpoint")
    code, out, _ = _run(capsys, "ledger", "verify", "--all", "--json")
    assert code == 0 and json.loads(out)["records"] == 12
    with sqlite3.connect(populated) as db:
        db.execute("UPDATE leaves SET data = replace(data, 'p5.jpg', 'p6.jpg') WHERE idx = 5")
    code, out, err = _run(capsys, "ledger", "verify", "--all")
    assert code == 1 and out == ""  # a failed audit is an answer (exit 1), not a usage error
    assert "record 5 was altered" in _one_error_line(err)


def test_verify_all_through_the_real_entry_point(populated, tmp_path) -> None:
    """The installed `dflab` command: exit 2, one line on stderr, no traceback."""
    with sqlite3.connect(populated) as db:
        db.execute("UPDATE leaves SET data = replace(data, 'image', 'video') WHERE idx = 0")
    proc = subprocess.run(
        [sys.executable, "-m", "dflab", "ledger", "verify", "--all"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert proc.returncode == 1
    assert "record 0 was altered" in _one_error_line(proc.stderr)


@pytest.fixture
def proof_file(populated, capsys, tmp_path) -> Path:
    _run(capsys, "ledger", "prove", "4", "--out", str(tmp_path / "p.json"))
    return tmp_path / "p.json"


def _mutated(path: Path, tmp_path: Path, change) -> Path:
    data = json.loads(path.read_text())
    change(data)
    out = tmp_path / "bad.json"
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d.update(checkpoint=d["checkpoint"].replace("\n12\n", "\n13\n")), "does not verify"),
        (lambda d: d.update(checkpoint=d["checkpoint"].replace("— ", "")), "signature"),
        (lambda d: d.update(checkpoint=d["checkpoint"][:-10] + "%%%%%%%%%\n"), "base64"),
        (lambda d: d.update(tree_size=11), "tree size"),
        (lambda d: d.update(index="four"), "non-negative integer"),
        (lambda d: d["record"].update(media_type="video"), "does not hash"),
        (lambda d: d["proof"].reverse(), "does not match"),
    ],
)
def test_forged_proof_files_exit_2(proof_file, tmp_path, capsys, change, message) -> None:
    code, _, _ = _run(capsys, "ledger", "verify", str(proof_file))
    assert code == 0
    code, out, err = _run(capsys, "ledger", "verify", str(_mutated(proof_file, tmp_path, change)))
    assert code == 2 and out == ""
    assert message in _one_error_line(err)


def test_malformed_inputs_exit_2(proof_file, tmp_path, capsys) -> None:
    truncated = tmp_path / "truncated.json"
    truncated.write_text(proof_file.read_text()[:100])
    cases = [
        (["ledger", "verify", str(truncated)], "not valid JSON"),
        (["ledger", "verify", str(tmp_path / "missing.json")], "does not exist"),
        (["ledger", "verify", str(proof_file), "--key", "nobody+00000000+AAAA"], "verifier key"),
        (["ledger", "verify", str(proof_file), "--key", "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"], "not by the expected key"),
        (["ledger", "verify"], "PROOF.json"),
        (["ledger", "prove", "99"], "does not exist"),
        (["ledger", "prove", "-3"], "non-negative"),
        (["ledger", "show", "abc"], "non-negative"),
        (["ledger", "consistency", "5", "100"], "ledger size"),
        (["ledger", "prove", "1", "--out", str(proof_file)], "already exists"),
    ]
    for argv, message in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        assert message in _one_error_line(err), (argv, err)
    junk_db = tmp_path / "junk.sqlite"
    junk_db.write_bytes(b"garbage" * 1000)
    code, _, err = _run(capsys, "ledger", "status", "--db", str(junk_db))
    assert code == 2 and "not a usable ledger" in _one_error_line(err)


def test_verify_without_any_key_says_how_to_pass_one(proof_file, tmp_path, capsys, monkeypatch) -> None:
    empty_home = tmp_path / "empty_home"
    empty_home.mkdir()
    monkeypatch.setenv("DFLAB_HOME", str(empty_home))
    code, _, err = _run(capsys, "ledger", "verify", str(proof_file))
    assert code == 2 and "--key" in _one_error_line(err)


def test_checkpoint_text_output_is_a_signed_note(populated, capsys) -> None:
    code, out, _ = _run(capsys, "ledger", "checkpoint")
    assert code == 0
    with open_ledger() as led:
        cp = open_checkpoint(out, led.verifier)
    assert cp.tree_size == 12
