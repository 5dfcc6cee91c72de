"""Manifest CSV parsing: relative paths, labels, extra columns, and clear errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dflab.errors import NotFound, UsageError
from dflab.eval.manifest import missing_files, read_manifest


def _write(tmp_path: Path, text: str, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_paths_are_relative_to_the_csv_and_columns_are_kept(tmp_path, monkeypatch):
    sub = tmp_path / "lists"
    sub.mkdir()
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.png").write_bytes(b"x")
    absolute = tmp_path / "elsewhere.png"
    csv = _write(sub, f"path,Label,method,source\n../media/a.png,REAL,orig,cam1\n{absolute},Fake,DF,web\n")
    monkeypatch.chdir(tmp_path / "media")  # the current directory must not matter
    manifest = read_manifest(csv)
    first, second = manifest.rows
    assert first.file == tmp_path / "media" / "a.png"
    assert first.path == "../media/a.png"
    assert (first.label, first.label_name, first.method, first.line) == (0, "real", "orig", 2)
    assert first.extra == {"source": "cam1"}
    assert second.file == absolute and second.label == 1 and second.method == "DF"
    assert manifest.has_method
    assert [r.path for r in missing_files(manifest)] == [str(absolute)]


def test_minimal_header_bom_blank_lines_and_quoting(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_bytes('\ufeffpath,label\n"a, b.png",real\n\n  c.png , fake \n'.encode("utf-8"))
    manifest = read_manifest(csv)
    assert [r.path for r in manifest.rows] == ["a, b.png", "c.png"]
    assert [r.label for r in manifest.rows] == [0, 1]
    assert [r.line for r in manifest.rows] == [2, 4]
    assert not manifest.has_method and manifest.rows[0].method is None


def test_bad_label_names_the_line(tmp_path):
    csv = _write(tmp_path, "path,label\na.png,real\nb.png,maybe\n")
    with pytest.raises(UsageError, match=r"line 3.*'maybe'"):
        read_manifest(csv)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("file,label\na.png,real\n", "missing path"),
        ("path,kind\na.png,real\n", "missing label"),
        ("", "empty manifest"),
        ("path,label\n", "no rows"),
        ("path,label\na.png,real,extra\n", "line 2: 3 fields"),
        ("path,label\n,real\n", "line 2: empty path"),
        ("path,label,Path\na,real,b\n", "repeats column"),
    ],
)
def test_malformed_manifests_raise_usage_error(tmp_path, text, pattern):
    with pytest.raises(UsageError, match=pattern):
        read_manifest(_write(tmp_path, text))


def test_missing_manifest_and_binary_manifest(tmp_path):
    with pytest.raises(NotFound):
        read_manifest(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00path,label\n")
    with pytest.raises(UsageError, match="UTF-8"):
        read_manifest(binary)


def test_shared_ffpp_manifest(shared_data):
    manifest = read_manifest(shared_data / "manifests" / "ffpp_video.csv")
    assert len(manifest.rows) == 7
    assert missing_files(manifest) == []
    reals = {r.method for r in manifest.rows if r.label == 0}
    fakes = {r.method for r in manifest.rows if r.label == 1}
    assert reals == {"original"}
    assert fakes == {"Deepfakes", "FaceSwap", "NeuralTextures", "Face2Face"}
    assert all(r.file.suffix == ".mp4" and "ffpp" in r.file.parts for r in manifest.rows)


def test_shared_cnndetection_manifest_labels_match_file_names(shared_data):
    manifest = read_manifest(shared_data / "manifests" / "cnndetection_images.csv")
    assert len(manifest.rows) == 320 and missing_files(manifest) == []
    for row in manifest.rows:
        assert row.file.stem.endswith("_" + row.label_name)  # e.g. 100_cyclegan_fake.png
        assert f"_{row.method}_" in row.file.name
