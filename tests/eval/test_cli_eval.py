"""`dflab eval` end to end, with a fake scorer injected in place of the real scanner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dflab.cli.eval as cli_eval
from dflab.cli.main import main

ROWS = [
    ("r1.png", "real", "original", 0.10),
    ("r2.png", "real", "original", 0.60),
    ("r3.png", "real", "original", 0.20),
    ("f1.png", "fake", "DF", 0.90),
    ("f2.png", "fake", "DF", 0.55),
    ("f3.png", "fake", "FS", 0.30),
]


@pytest.fixture
def manifest(tmp_path) -> Path:
    lines = ["path,label,method"]
    for name, label, method, _ in ROWS:
        (tmp_path / name).write_bytes(b"stand-in")
        lines.append(f"{name},{label},{method}")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fake_scanner(monkeypatch):
    calls: list[str] = []
    table = {name: score for name, _, _, score in ROWS}

    def scan(path: Path) -> float:
        calls.append(path.name)
        return table[path.name]

    monkeypatch.setattr(cli_eval, "_default_scanner", lambda: scan)
    return calls


def test_json_and_html_report(manifest, fake_scanner, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["eval", str(manifest), "--json", "--report", str(report)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # one JSON object
    doc = json.loads(out[0])
    assert doc["auc"] == pytest.approx(7 / 9)  # .9 .55 .3 vs .1 .6 .2 -> 3 + 2 + 2 wins of 9
    assert doc["accuracy"] == pytest.approx(4 / 6)
    assert (doc["n"], doc["n_real"], doc["n_fake"]) == (6, 3, 3)
    for key in ("eer", "ap", "ece", "auc_ci"):
        assert key in doc
    assert doc["per_method"]["DF"]["auc"] == pytest.approx(5 / 6)  # .9 beats 3 reals, .55 beats 2
    assert doc["per_method"]["DF"]["comparison"] == "vs_all_real"
    assert doc["errors"] == [] and len(doc["rows"]) == 6
    assert {"path", "label", "method", "score", "verdict", "error"} <= set(doc["rows"][0])
    page = (report / "eval.html").read_text()
    assert page.count("<img") >= 3 and 'alt="ROC curve' in page and "data:image/png;base64," in page
    assert json.loads((report / "eval.json").read_text())["auc"] == doc["auc"]
    assert sorted(p.name for p in report.iterdir()) == ["eval.html", "eval.json"]  # no temp files left


def test_readable_table_and_saved_scores(manifest, fake_scanner, tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    assert main(["eval", str(manifest), "--save-scores", str(scores), "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert "AUC [95% CI]" in out and "overall" in out and "DF" in out and "vs all real" in out
    assert "0.778" in out  # 7/9
    lines = scores.read_text().splitlines()
    assert lines[0].startswith("path,label,method,score,verdict,error") and len(lines) == 7


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--baseline", "no-such-baseline"], "unknown baseline"),
        (["--bootstrap", "-1"], "--bootstrap"),
    ],
)
def test_usage_errors_are_one_line_and_scan_nothing(manifest, fake_scanner, capsys, extra, message):
    assert main(["eval", str(manifest), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("dflab eval: error:")
    assert fake_scanner == []


def test_bad_manifest_and_existing_outputs(manifest, fake_scanner, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nx.png,unknown\n")
    assert main(["eval", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "absent.csv")]) == 2
    report = tmp_path / "rep"
    report.mkdir()
    (report / "eval.html").write_text("keep me")
    assert main(["eval", str(manifest), "--report", str(report)]) == 2
    assert "already holds eval.html" in capsys.readouterr().err
    assert (report / "eval.html").read_text() == "keep me" and fake_scanner == []
    assert main(["eval", str(manifest), "--report", str(report), "--overwrite", "--json"]) == 0
    assert "<img" in (report / "eval.html").read_text()


def test_rows_that_fail_do_not_stop_the_run(manifest, monkeypatch, capsys):
    from dflab.errors import BadMedia

    def scan(path: Path):
        if path.name == "f3.png":
            raise BadMedia("not an image")
        return {name: s for name, _, _, s in ROWS}[path.name]

    monkeypatch.setattr(cli_eval, "_default_scanner", lambda: scan)
    with manifest.open("a") as handle:
        handle.write("gone.png,fake,FS\n")
    assert main(["eval", str(manifest), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert {e["path"]: e["error"] for e in doc["errors"]}["f3.png"] == "not an image"
    assert doc["n"] == 5 and doc["n_errors"] == 2
    assert doc["per_method"]["FS"]["comparison"] == "unscored" and doc["per_method"]["FS"]["auc"] is None
    assert "1 of 7 listed files do not exist" in captured.err
