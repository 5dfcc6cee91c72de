"""Crash and concurrency behaviour of the ledger on SQLite and on PostgreSQL, with real processes.

* A writer is SIGKILLed in the middle of appending: every id it acknowledged (printed after commit) must be
  there, intact, the audit must pass, and the new tree must be consistent with its last signed checkpoint.
* Two writers append at the same time: both succeed, ids never collide, nothing is corrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dflab.provenance.ledger import Record, open_checkpoint, open_ledger, verify_proof

WRITER = r"""
import hashlib, json, sys
from dflab.provenance.ledger import Record, open_ledger

path, tag, total, cp_every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def rec(seq):
    digest = hashlib.sha256(f"{tag}-{seq}".encode()).hexdigest()
    return Record(content_sha256=digest, time="2025-01-01T00:00:00Z", path=f"{tag}/{seq}")

with open_ledger(path) as ledger:
    seq = 0
    while total == 0 or seq < total:
        size = 5 if seq % 3 == 2 else 1  # mix single appends and small batches
        batch = [rec(seq + i) for i in range(size if total == 0 else min(size, total - seq))]
        ids = ledger.append_batch(batch)
        # Printed only after append_batch returned, i.e. after COMMIT: these ids are acknowledged.
        sys.stdout.write("".join(f"ID {rid} {seq + i}\n" for i, rid in enumerate(ids)))
        sys.stdout.flush()
        before, seq = seq, seq + len(batch)
        if cp_every and seq // cp_every != before // cp_every:
            note = ledger.checkpoint()
            sys.stdout.write("CP " + json.dumps(note) + "\n")
            sys.stdout.flush()
"""


def _expected(tag: str, seq: int) -> Record:
    digest = hashlib.sha256(f"{tag}-{seq}".encode()).hexdigest()
    return Record(content_sha256=digest, time="2025-01-01T00:00:00Z", path=f"{tag}/{seq}")


def _parse(lines: list[str]) -> tuple[dict[int, int], list[str]]:
    ids, checkpoints = {}, []
    for line in lines:
        if line.startswith("ID "):
            _, rid, seq = line.split()
            ids[int(rid)] = int(seq)
        elif line.startswith("CP "):
            checkpoints.append(json.loads(line[3:]))
    return ids, checkpoints


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_db(request, tmp_path) -> str:
    """Where the writers append: a SQLite file, or a PostgreSQL schema of this test's own (a URL)."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return str(tmp_path / "ledger.sqlite")


@pytest.fixture
def writer_script(tmp_path):
    path = tmp_path / "writer.py"
    path.write_text(WRITER)
    return path


def _spawn(script, db, tag, total, cp_every):
    return subprocess.Popen(
        [sys.executable, str(script), str(db), tag, str(total), str(cp_every)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_sigkill_mid_append_keeps_acknowledged_records(ledger_db, writer_script) -> None:
    db = ledger_db
    proc = _spawn(writer_script, db, "k", 0, 40)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            ids, cps = _parse(lines)
            if len(ids) >= 150 and len(cps) >= 2:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        # Drain through the same buffered reader that readline() used (communicate() would skip what it
        # already buffered): lines written before the kill are acknowledged too.
        rest = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=30)
    lines.extend(rest.splitlines(keepends=True))
    assert proc.returncode == -signal.SIGKILL, err
    ids, cps = _parse(lines)
    assert len(ids) >= 150 and len(cps) >= 2, f"writer too slow or failed: {err[-2000:]}"
    assert sorted(ids) == list(range(len(ids))), "a single writer's ids are consecutive"

    with open_ledger(db) as ledger:
        assert ledger.size >= len(ids)  # maybe a few more: committed but killed before printing
        for rid, seq in ids.items():
            assert ledger.get(rid) == _expected("k", seq)
        summary = ledger.verify_all()
        assert summary["records"] == ledger.size and summary["checkpoints"] >= len(cps)
        last = open_checkpoint(cps[-1], ledger.verifier)
        bundle = ledger.consistency(last.tree_size)
        bundle["old_checkpoint"] = cps[-1]  # the checkpoint as the writer handed it out before dying
        assert bundle["old_root"] == last.root.hex()
        assert verify_proof(bundle, ledger.verifier_key)["ok"]
        # The reopened ledger keeps working: append, checkpoint, prove.
        rid = ledger.append(_expected("after", 0))
        assert verify_proof(ledger.prove(rid), ledger.verifier_key)["index"] == rid


def test_two_concurrent_writers_both_succeed(ledger_db, writer_script) -> None:
    db = ledger_db
    with open_ledger(db):
        pass  # create the schema once so the race is about appends, not about creating tables
    procs = {tag: _spawn(writer_script, db, tag, 60, 25) for tag in ("a", "b")}
    results = {tag: p.communicate(timeout=180) for tag, p in procs.items()}
    for tag, p in procs.items():
        assert p.returncode == 0, results[tag][1][-2000:]
    parsed = {tag: _parse(out.splitlines())[0] for tag, (out, _) in results.items()}
    assert len(parsed["a"]) == len(parsed["b"]) == 60
    assert not set(parsed["a"]) & set(parsed["b"])
    with open_ledger(db) as ledger:
        assert ledger.size == 120
        for tag, ids in parsed.items():
            for rid, seq in ids.items():
                assert ledger.get(rid) == _expected(tag, seq)
        summary = ledger.verify_all()
        assert summary["records"] == 120 and summary["checkpoints"] >= 4
