"""The lab: stores built once from configuration and passed in; register is atomic and safe for concurrent writers;
nothing but dflab.config and dflab.lab knows about DFLAB_HOME."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dflab.config import LabConfig
from dflab.errors import IntegrityError, UsageError
from dflab.lab import Lab
from dflab.provenance.facade import register, trace, verify
from dflab.provenance.registry import DEFAULT_CROPS

HASHES_PER_PHOTO = 1 + len(DEFAULT_CROPS)  # the full frame and each registered centre crop

SRC = Path(__file__).resolve().parents[1] / "src" / "dflab"
PHOTOS = [
    "face_recognition/examples/obama.jpg",
    "dlib_faces/examples/faces/bald_guys.jpg",
    "cnndetection/crops/105_biggan_real.png",
]
SPEECH = "librispeech/1688/1688-142285-0000.flac"


@pytest.fixture(params=["memory", "sqlite"])
def lab(request, tmp_path):
    lab = Lab.memory() if request.param == "memory" else Lab.from_config(LabConfig(home=tmp_path / "home"))
    yield lab
    lab.close()


def _ledger_records(lab) -> list[dict]:
    ledger = lab.ledger()
    return [ledger.get_json(i) for i in range(ledger.size)]


# ---------------------------------------------------------------- register is atomic


def test_a_failing_registry_write_leaves_no_ledger_record(lab, shared_data, monkeypatch):
    """The ledger record is the first write, the registry rows the second: when the second fails, neither is
    there (one transaction), and the same file registers cleanly afterwards."""

    def refuse(*args, **kwargs):
        raise IntegrityError("simulated failure of the registry write")

    monkeypatch.setattr(lab.registry_store, "add", refuse)
    with pytest.raises(IntegrityError, match="simulated"):
        register(shared_data / PHOTOS[0], lab=lab)
    assert lab.ledger().size == 0
    assert lab.registry_store.count_records() == 0 and lab.registry_store.count_hashes() == 0
    monkeypatch.undo()
    result = register(shared_data / PHOTOS[0], lab=lab)
    assert not result.existing and result.hashes == HASHES_PER_PHOTO and lab.ledger().size == 1
    assert lab.ledger().get(result.record).content_sha256 == result.sha256


def test_a_failing_audio_write_takes_back_the_record_and_the_hashes(lab, shared_data, monkeypatch):
    """Audio: ledger record, registry record, then the fingerprint rows; the last one failing undoes all three."""

    def refuse(*args, **kwargs):
        raise IntegrityError("simulated failure of the fingerprint write")

    monkeypatch.setattr(lab.registry_store, "add_audio", refuse)
    with pytest.raises(IntegrityError, match="simulated"):
        register(shared_data / SPEECH, lab=lab)
    assert lab.ledger().size == 0 and lab.registry_store.count_records() == 0
    assert lab.registry_store.audio_stats() == (0, 0.0, 0)


def test_memory_lab_signs_registers_traces_and_verifies_without_touching_the_home(shared_data, tmp_path):
    from dflab.provenance.signing import sign_and_record

    home = Path(os.environ["DFLAB_HOME"])  # the isolated home of this test
    with Lab.memory() as lab:
        lab.keys.init()
        photo = shared_data / PHOTOS[0]
        registered = register(photo, lab=lab)
        signed = tmp_path / "signed.jpg"
        sign_and_record(photo, signed, synthetic=False, lab=lab)
        result = verify(signed, lab=lab)
        assert result.verdict == "trusted" and result.ok and result.exit_code == 0
        assert set(result.ledger_records) == {registered.record, result.c2pa["ledger"]["record"]}
        assert all(r["verified"] for r in result.ledger["records"])
        assert trace(signed, lab=lab).best.record == registered.record
    assert not home.exists() or list(home.iterdir()) == []


def test_sparse_store_ids_trace_like_dense_ones(shared_data):
    """A registry whose hash ids have gaps and do not start at 0 (like a PostgreSQL sequence) finds the same."""
    import itertools

    with Lab.memory(hash_ids=itertools.count(5000, 13)) as lab:
        records = {name: register(shared_data / name, lab=lab).record for name in PHOTOS}
        assert lab.registry_store.hash_codes()[0][0] == 5000
        for name, record in records.items():
            best = trace(shared_data / name, lab=lab).best
            assert best.record == record and best.exact and best.distance == 0


# ---------------------------------------------------------------- concurrent writers


def test_concurrent_threads_registering_the_same_files(lab, shared_data):
    """Four threads register the same three files in different orders through one lab: one record per file."""
    paths = [shared_data / name for name in PHOTOS]
    results: list[tuple[Path, int]] = []
    errors: list[BaseException] = []

    def worker(order: list[Path]) -> None:
        try:
            for path in order:
                results.append((path, register(path, lab=lab).record))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    orders = [paths, paths[::-1], paths[1:] + paths[:1], paths[2:] + paths[:2]]
    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    by_path: dict[Path, set[int]] = {}
    for path, record in results:
        by_path.setdefault(path, set()).add(record)
    assert all(len(records) == 1 for records in by_path.values()), by_path
    assert len({r for records in by_path.values() for r in records}) == 3
    assert lab.ledger().size == 3 and lab.registry_store.count_records() == 3
    assert lab.registry_store.count_hashes() == 3 * HASHES_PER_PHOTO
    assert sorted(r["action"] for r in _ledger_records(lab)) == ["register"] * 3


WRITER = r"""
import json, sys
from dflab.lab import Lab
from dflab.provenance.facade import register
with Lab.default() as lab:
    for path in sys.argv[1:]:
        print(json.dumps({"path": path, "record": register(path, lab=lab).record}), flush=True)
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_processes_registering_the_same_files(shared_data, tmp_path, backend, request):
    """Three processes register the same two files at once in one lab: two ledger records, no duplicate rows."""
    home = tmp_path / "home"
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    env = {**os.environ, "DFLAB_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(SRC.parent), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    if url:
        env["DFLAB_DATABASE_URL"] = url
    paths = [str(shared_data / name) for name in PHOTOS[:2]]
    with Lab.from_config(LabConfig(home=home, database_url=url)):
        pass  # create the schema once so the race is about registering, not about creating tables
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, *(paths if k % 2 == 0 else paths[::-1])], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(3)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    answers = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    assert len(answers) == 6
    records = {path: {a["record"] for a in answers if a["path"] == path} for path in paths}
    assert all(len(ids) == 1 for ids in records.values()) and len({*records[paths[0]], *records[paths[1]]}) == 2
    with Lab.from_config(LabConfig(home=home, database_url=url)) as lab:
        assert lab.ledger().size == 2 and lab.registry_store.count_records() == 2
        assert lab.registry_store.count_hashes() == 2 * HASHES_PER_PHOTO
        assert lab.ledger().verify_all()["records"] == 2


# ---------------------------------------------------------------- configuration


def test_database_url_is_the_seam(tmp_path, monkeypatch):
    pytest.importorskip("psycopg")
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UsageError, match=f"cannot connect to the dflab database at 127.0.0.1:{port}/postgres") as err:
        Lab.from_config(LabConfig(home=tmp_path, database_url=f"postgresql://dflab:secret@127.0.0.1:{port}/postgres"))
    assert "secret" not in str(err.value)
    with pytest.raises(UsageError, match="unknown database URL"):
        Lab.from_config(LabConfig(home=tmp_path, database_url="mysql://x"))
    elsewhere = tmp_path / "elsewhere" / "lab.sqlite"
    monkeypatch.setenv("DFLAB_DATABASE_URL", f"sqlite://{elsewhere}")
    with Lab.default() as lab:
        assert lab.database.path == elsewhere and lab.keys.location == str(LabConfig.from_env().keys_dir)
    assert elsewhere.is_file()


def test_default_layout_under_the_home(tmp_path):
    home = tmp_path / "home"
    with Lab.from_config(LabConfig(home=home)) as lab:
        assert lab.database.path == home / "ledger.sqlite"
        assert lab.registry_dir == home / "registry" and lab.keys.location == str(home / "keys")
        lab.registry().index()
    assert (home / "ledger.sqlite").is_file() and (home / "registry" / "index-flat.faiss").is_file()


def test_a_registry_file_of_the_older_layout_is_imported_once(tmp_path, shared_data):
    from dflab.provenance.registry import open_registry

    home = tmp_path / "home"
    ids = iter(range(40, 50))
    with open_registry(home / "registry", record_sink=lambda fields: next(ids)) as old:
        old.register(shared_data / PHOTOS[0])
        old.register(shared_data / PHOTOS[1])
    with Lab.from_config(LabConfig(home=home)) as lab:
        assert lab.registry_store.count_records() == 2 and lab.registry_store.count_hashes() == 2 * HASHES_PER_PHOTO
        assert lab.registry().trace(shared_data / PHOTOS[1])["matches"][0]["record"] == 41
    assert not (home / "registry" / "registry.sqlite").exists()
    assert (home / "registry" / "registry.sqlite.imported").is_file()


# ---------------------------------------------------------------- only config and lab know the home


# dflab.config reads the variable; dflab.lab is allowed to. Training-data caches (train/, e.g. the face-crop
# cache) are not stores: they may find the home themselves.
HOME_READERS_ALLOWED = {"config.py", "lab.py"}


def _reads_home(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "dflab_home":
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "dflab_home":
            lines.append(node.lineno)
        elif isinstance(node, ast.alias) and node.name == "dflab_home":
            lines.append(getattr(node, "lineno", 0))
        elif isinstance(node, ast.Constant) and node.value in ("DFLAB_HOME", "HOME_ENV"):
            lines.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id == "HOME_ENV":
            lines.append(node.lineno)
    return lines


def test_only_config_and_lab_find_the_home():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in HOME_READERS_ALLOWED or rel.startswith("train/"):
            continue
        lines = _reads_home(ast.parse(path.read_text(), filename=str(path)))
        if lines:
            offenders.append(f"{rel}:{lines}")
    assert not offenders, "DFLAB_HOME is looked up outside dflab.config / dflab.lab: " + ", ".join(offenders)


def test_the_home_check_catches_a_lookup():
    tree = ast.parse("import os\nfrom dflab.config import dflab_home\nx = os.environ.get('DFLAB_HOME')\n")
    assert len(_reads_home(tree)) >= 2
