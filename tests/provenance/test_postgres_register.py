"""Four `dflab register` processes writing to one PostgreSQL database at once: every record lands once, ledger
indexes are consecutive (none given twice, none skipped), the audit passes, a proof checks against the signed
checkpoint, and a matcher's index holds every hash exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


SRC = Path(__file__).resolve().parents[2] / "src"


def _dflab(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dflab", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def _pictures(shared_data, count: int) -> list[str]:
    # Distinct real pictures, small crops: hashing is quick, so the four processes overlap in time.
    crops = sorted((shared_data / "cnndetection" / "crops").glob("*.png"))[:count]
    if len(crops) < count:
        pytest.fail(f"shared data has fewer than {count} cnndetection crops")
    return [str(p) for p in crops]


def test_four_register_processes_on_postgres(shared_data, postgres_url, tmp_path):
    env = {**os.environ, "DFLAB_HOME": str(tmp_path / "home"), "DFLAB_DATABASE_URL": postgres_url,
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    files = _pictures(shared_data, 16)
    first = _dflab(env, "ledger", "checkpoint", "--json")  # keys and tables exist before the race
    assert first.returncode == 0, first.stderr
    groups = [files[k::4] for k in range(4)]
    procs = [subprocess.Popen([sys.executable, "-m", "dflab", "register", "--json", "--quiet", *group], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for group in groups]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    answers = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    records = sorted(a["record"] for a in answers)
    assert sorted(a["path"] for a in answers) == sorted(files)
    assert records == list(range(len(files))), "ledger indexes are consecutive: none duplicated, none skipped"

    from dflab.config import LabConfig
    from dflab.lab import Lab

    with Lab.from_config(LabConfig(home=tmp_path / "home", database_url=postgres_url)) as lab:
        assert lab.registry_store.count_records() == len(files)
        assert lab.registry_store.count_hashes() == sum(a["hashes"] for a in answers)
        ids, _ = lab.registry_store.hash_codes()
        index = lab.registry().index()
        assert index.ntotal == len(ids) == len(set(ids.tolist())) == lab.registry_store.count_hashes()

    audit = _dflab(env, "ledger", "verify", "--all", "--json")
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["records"] == len(files)
    checkpoint = _dflab(env, "ledger", "checkpoint", "--json")
    assert checkpoint.returncode == 0, checkpoint.stderr
    proof_file = tmp_path / "proof.json"
    prove = _dflab(env, "ledger", "prove", str(records[-1]), "--out", str(proof_file))
    assert prove.returncode == 0, prove.stderr
    checked = _dflab(env, "ledger", "verify", str(proof_file), "--json")
    assert checked.returncode == 0, checked.stderr
    summary = json.loads(checked.stdout)
    assert summary["ok"] and summary["index"] == records[-1] and summary["tree_size"] == len(files)
