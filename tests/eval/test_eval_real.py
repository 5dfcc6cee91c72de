"""One real end-to-end `dflab eval` run: the real scanner on 2 real + 2 fake cnndetection crops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dflab.cli.main import main
from dflab.eval import metrics

FILES = [  # (file in cnndetection/crops, label)
    ("0_cyclegan_real.png", "real"),
    ("100_cyclegan_fake.png", "fake"),
    ("101_stargan_real.png", "real"),
    ("124_biggan_fake.png", "fake"),
]


def test_real_scanner_end_to_end(shared_data, tmp_path, capsys):
    crops = shared_data / "cnndetection" / "crops"
    manifest = tmp_path / "tiny.csv"
    # absolute paths into the read-only data set: nothing is copied
    manifest.write_text("path,label\n" + "".join(f"{crops / name},{label}\n" for name, label in FILES))
    report = tmp_path / "report"
    assert main(["eval", str(manifest), "--json", "--report", str(report), "--bootstrap", "200"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"] == [] and (doc["n"], doc["n_real"], doc["n_fake"]) == (4, 2, 2)
    scores = [row["score"] for row in doc["rows"]]
    labels = [1 if row["label"] == "fake" else 0 for row in doc["rows"]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {row["verdict"] for row in doc["rows"]} <= {"authentic", "suspicious", "manipulated"}
    assert doc["auc"] == pytest.approx(metrics.roc_auc(labels, scores), abs=1e-6)
    assert doc["accuracy"] == pytest.approx(metrics.accuracy_at(labels, scores, doc["threshold"]))
    # the figures come from the scanner itself: a direct scan of one file gives the same score
    from dflab.detect.scan import scan_file

    direct = scan_file(Path(crops / FILES[1][0]))
    assert direct.score == pytest.approx(scores[1], abs=1e-5) and direct.verdict == doc["rows"][1]["verdict"]
    assert "<img" in (report / "eval.html").read_text()
