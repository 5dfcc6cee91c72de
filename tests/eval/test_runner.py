"""The evaluation runner with a fake scorer: errors recorded, per-method maths, baselines, outputs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dflab.errors import BadMedia, UsageError
from dflab.eval import metrics
from dflab.eval.baselines import get_baseline, register_baseline, unregister_baseline
from dflab.eval.manifest import read_manifest
from dflab.eval.runner import run_eval, score_of
from dflab.eval.scores_csv import save_scores
from dflab.eval.summary import text_table


@dataclass
class FakeScan:
    """ScanResult look-alike: what the real scanner returns."""

    score: float
    verdict: str


def _manifest(tmp_path: Path, rows: list[tuple[str, str, str]], header: str = "path,label,method") -> Path:
    """Write a manifest and create every listed file whose name does not start with 'missing'."""
    lines = [header]
    for name, label, method in rows:
        if not name.startswith("missing"):
            (tmp_path / name).write_bytes(b"not media")
        lines.append(f"{name},{label},{method}" if "method" in header else f"{name},{label}")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


# ffpp-like layout: every real is "original", every fake carries its manipulation method.
FFPP_LIKE = [
    ("r1.mp4", "real", "original"),
    ("r2.mp4", "real", "original"),
    ("r3.mp4", "real", "original"),
    ("df1.mp4", "fake", "Deepfakes"),
    ("df2.mp4", "fake", "Deepfakes"),
    ("fs1.mp4", "fake", "FaceSwap"),
]
SCORES = {"r1.mp4": 0.2, "r2.mp4": 0.55, "r3.mp4": 0.1, "df1.mp4": 0.9, "df2.mp4": 0.5, "fs1.mp4": 0.3}


def _scanner(table: dict[str, float]):
    calls = []

    def scan(path: Path):
        calls.append(path.name)
        value = table[path.name]
        if isinstance(value, Exception):
            raise value
        return FakeScan(value, "manipulated" if value >= 0.7 else "authentic")

    scan.calls = calls
    return scan


def test_overall_and_fake_only_methods_use_all_reals(tmp_path):
    manifest = read_manifest(_manifest(tmp_path, FFPP_LIKE))
    result = run_eval(manifest, _scanner(SCORES), n_boot=200)
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.2, 0.55, 0.1, 0.9, 0.5, 0.3])
    overall = result.ours.overall
    assert (overall.n, overall.n_real, overall.n_fake) == (6, 3, 3)
    assert overall.auc == pytest.approx(metrics.roc_auc(y, s))
    # hand count: fakes .9 .5 .3 vs reals .2 .55 .1 -> 3 + 2 + 2 wins of 9
    assert overall.auc == pytest.approx(7 / 9)
    assert overall.accuracy == pytest.approx(4 / 6)  # threshold 0.5: r2 and fs1 wrong
    df = result.ours.per_method["Deepfakes"]
    assert df.comparison == "vs_all_real" and (df.n, df.n_real, df.n_fake, df.n_method) == (5, 3, 2, 2)
    assert df.auc == pytest.approx(5 / 6)  # .9 beats all three reals, .5 beats two
    fs = result.ours.per_method["FaceSwap"]
    assert fs.auc == pytest.approx(2 / 3) and fs.n == 4
    orig = result.ours.per_method["original"]
    assert orig.comparison == "vs_all_fake" and orig.auc == pytest.approx(overall.auc)
    assert result.rows[0].verdict == "authentic"  # the scanner's own verdict is kept


def test_within_method_when_a_method_has_both_classes(tmp_path):
    rows = [("a1", "real", "gan"), ("a2", "fake", "gan"), ("b1", "real", "vae"), ("b2", "fake", "vae")]
    manifest = read_manifest(_manifest(tmp_path, rows))
    result = run_eval(manifest, _scanner({"a1": 0.6, "a2": 0.4, "b1": 0.1, "b2": 0.9}), n_boot=50)
    assert result.ours.per_method["gan"].comparison == "within"
    assert result.ours.per_method["gan"].auc == 0.0  # its fake scores below its real
    assert result.ours.per_method["vae"].auc == 1.0
    assert result.ours.overall.auc == pytest.approx(0.75)


def test_failing_rows_are_recorded_and_excluded(tmp_path):
    rows = FFPP_LIKE + [
        ("bad.mp4", "fake", "FaceSwap"),
        ("nan.mp4", "real", "original"),
        ("crash.mp4", "real", "original"),
        ("missing.mp4", "fake", "Deepfakes"),
    ]
    table = {**SCORES, "bad.mp4": BadMedia("truncated mp4"), "nan.mp4": float("nan"), "crash.mp4": RuntimeError("x")}
    scan = _scanner(table)
    result = run_eval(read_manifest(_manifest(tmp_path, rows)), scan, n_boot=50)
    errors = {r.row.path: r.error for r in result.errors}
    assert errors["bad.mp4"] == "truncated mp4"
    assert "outside [0, 1]" in errors["nan.mp4"]
    assert errors["crash.mp4"] == "RuntimeError: x"
    assert "file not found" in errors["missing.mp4"] and "line 11" in errors["missing.mp4"]
    assert "missing.mp4" not in scan.calls  # never handed to the scanner
    assert result.ours.overall.n == 6
    assert result.ours.overall.auc == pytest.approx(7 / 9)  # same as without the broken rows
    doc = result.to_json()
    assert doc["n_errors"] == 4 and len(doc["errors"]) == 4 and doc["n_rows"] == 10
    assert "4 of 10 rows could not be scored" in text_table(result)


def test_no_method_column_and_all_failures_give_nulls(tmp_path):
    rows = [("a", "real", ""), ("b", "fake", "")]
    manifest = read_manifest(_manifest(tmp_path, rows, header="path,label"))
    result = run_eval(manifest, _scanner({"a": ValueError("no"), "b": ValueError("no")}), n_boot=50)
    assert result.ours.per_method == {}
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))  # strict JSON: NaN became null
    assert doc["auc"] is None and doc["eer"] is None and doc["accuracy"] is None and doc["n"] == 0


def test_score_of_accepts_numbers_and_scan_results():
    assert score_of(0.25) == (0.25, None)
    assert score_of(np.float32(1.0)) == (1.0, None)
    assert score_of(FakeScan(0.8, "manipulated")) == (0.8, "manipulated")
    for bad in (1.5, -0.1, float("inf"), True, "0.3", object()):
        with pytest.raises((TypeError, ValueError)):
            score_of(bad)


def test_verdict_filled_from_the_threshold_module_when_scanner_gives_a_number(tmp_path):
    from dflab.detect.verdict import verdict_for

    manifest = read_manifest(_manifest(tmp_path, FFPP_LIKE))
    result = run_eval(manifest, lambda p: SCORES[p.name], n_boot=10)
    assert [r.verdict for r in result.rows] == [verdict_for(SCORES[r.row.path]) for r in result.rows]


def test_baselines_add_a_column_and_unknown_names_fail_first(tmp_path):
    manifest = read_manifest(_manifest(tmp_path, FFPP_LIKE))
    name = "test-inverse"
    register_baseline(name, lambda p: 1.0 - SCORES[p.name] if p.name != "fs1.mp4" else float("nan"))
    try:
        with pytest.raises(ValueError, match="twice"):
            register_baseline(name, lambda p: 0.5)
        assert get_baseline(name) is not None
        result = run_eval(manifest, _scanner(SCORES), baselines=[name], n_boot=50)
        base = result.baselines[name]
        assert base.overall.n == 5  # fs1 failed for the baseline only
        assert base.overall.auc == pytest.approx(1 - metrics.roc_auc([0, 0, 0, 1, 1], [0.2, 0.55, 0.1, 0.9, 0.5]))
        assert result.ours.overall.n == 6
        assert result.rows[5].baseline_errors[name].startswith("ValueError")
        assert f"AUC {name}" in text_table(result)
        assert result.to_json()["baselines"][name]["per_method"]["Deepfakes"]["n_fake"] == 2
    finally:
        unregister_baseline(name)
    scan = _scanner(SCORES)
    with pytest.raises(UsageError, match="unknown baseline 'nope'"):
        run_eval(manifest, scan, baselines=["nope"])
    assert scan.calls == []


def test_saved_scores_are_a_manifest_of_the_same_files(tmp_path):
    manifest = read_manifest(_manifest(tmp_path, FFPP_LIKE))
    result = run_eval(manifest, _scanner(SCORES), n_boot=10)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    saved = save_scores(result, out_dir / "scores.csv")
    again = read_manifest(saved)
    assert [r.file for r in again.rows] == [r.file for r in manifest.rows]
    assert [r.label for r in again.rows] == [r.label for r in manifest.rows]
    assert [float(r.extra["score"]) for r in again.rows] == [SCORES[r.path] for r in manifest.rows]
    # feeding the scores file back in must not duplicate its score columns
    result2 = run_eval(again, _scanner(SCORES), n_boot=10)
    save_scores(result2, out_dir / "scores2.csv")
    assert read_manifest(out_dir / "scores2.csv").columns == again.columns
    assert not math.isnan(result2.ours.overall.auc)
