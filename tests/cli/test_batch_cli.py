"""`dflab batch`: every line equals that file's `dflab scan --json` document (Ray engine and local engine; all
but the wall-clock `timings`), bad input gives a `{path, error}` line without stopping the batch, and a second
run skips what is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PICTURES = ["face_recognition/examples/obama-240p.jpg", "cnndetection/crops/105_biggan_real.png"]
CLIP = "liveportrait/assets/examples/driving/d0.mp4"  # 3 s, 512x512, a real talking face


def _env() -> dict:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}  # fmt: skip


def _dflab(*args, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dflab", *args], env=_env(), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@pytest.fixture
def media_dir(shared_data, tmp_path) -> Path:
    """A directory of real pictures, a short real clip (links to ../shared/data) and one broken picture."""
    folder = tmp_path / "media"
    (folder / "clips").mkdir(parents=True)
    for name in PICTURES:
        (folder / Path(name).name).symlink_to(shared_data / name)
    (folder / "clips" / "d0.mp4").symlink_to(shared_data / CLIP)
    (folder / "broken.jpg").write_bytes(b"not a picture at all")
    return folder


def _same(doc: dict) -> dict:
    """A scan document less its wall-clock `timings` (the one part two runs of the same scan never share)."""
    return {k: v for k, v in doc.items() if k != "timings"}


def _lines(path: Path) -> dict[str, dict]:
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    by_path = {d["path"]: _same(d) for d in docs}
    assert len(by_path) == len(docs), "each file answered once"
    return by_path


def test_ray_batch_lines_equal_scan_json(media_dir, tmp_path):
    pytest.importorskip("ray")
    files = sorted(str(p) for p in media_dir.rglob("*") if p.is_file() or p.is_symlink())
    scan = _dflab("scan", "--json", "--quiet", *files)
    expected = {d["path"]: _same(d) for d in map(json.loads, scan.stdout.splitlines())}
    assert set(expected) == set(files) and "error" in expected[str(media_dir / "broken.jpg")]

    out = tmp_path / "results.jsonl"
    run = _dflab("batch", str(media_dir), "--out", str(out), "--engine", "ray", "--workers", "2", "--quiet",
                 "--json")  # fmt: skip
    assert run.returncode == 2, run.stderr[-3000:]  # one file could not be scanned: said in its line, exit 2
    assert json.loads(run.stdout) == {"files": 4, "skipped": 0, "scanned": 4, "errors": 1}
    assert _lines(out) == expected

    again = _dflab("batch", str(media_dir), "--out", str(out), "--quiet", "--json")  # resumable: nothing left
    assert json.loads(again.stdout) == {"files": 4, "skipped": 4, "scanned": 0, "errors": 0}
    assert _lines(out) == expected


def test_local_batch_resumes_after_a_cut_line(shared_data, tmp_path):
    pictures = [str(shared_data / name) for name in PICTURES]
    out = tmp_path / "results.jsonl"
    first = _dflab("batch", pictures[0], "--out", str(out), "--quiet", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    done = out.read_text()
    out.write_text(done + '{"path":"half a line')  # a run killed while writing
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,label\n" + "".join(f"{p},real\n" for p in pictures))
    second = _dflab("batch", str(manifest), "--out", str(out), "--quiet", "--json")
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout) == {"files": 2, "skipped": 1, "scanned": 1, "errors": 0}
    lines = _lines(out)
    assert set(lines) == set(pictures) and out.read_text().startswith(done)
    expected = json.loads(_dflab("scan", "--json", "--quiet", pictures[1]).stdout)
    assert lines[pictures[1]] == _same(expected) and "timings" in expected


def test_batch_usage_errors(tmp_path):
    bad = _dflab("batch", str(tmp_path), "--out", str(tmp_path / "r.jsonl"), "--workers", "0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--workers" in bad.stderr
    (tmp_path / "junk.jsonl").write_text("not json\n")
    junk = _dflab("batch", str(tmp_path), "--out", str(tmp_path / "junk.jsonl"))
    assert junk.returncode == 2 and "is not a dflab batch result" in junk.stderr


def test_register_adds_the_ledger_record(shared_data, tmp_path):
    picture = str(shared_data / PICTURES[1])
    out = tmp_path / "results.jsonl"
    env_home = tmp_path / "home"
    run = subprocess.run([sys.executable, "-m", "dflab", "batch", picture, "--out", str(out), "--register", "--quiet"],
                         env={**_env(), "DFLAB_HOME": str(env_home)}, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (line,) = out.read_text().splitlines()
    doc = json.loads(line)
    assert doc["registered"]["record"] == 0 and doc["registered"]["hashes"] > 0 and not doc["registered"]["existing"]
    from dflab.config import LabConfig
    from dflab.lab import Lab

    with Lab.from_config(LabConfig(home=env_home)) as lab:
        assert lab.ledger().size == 1 and lab.registry_store.count_records() == 1
