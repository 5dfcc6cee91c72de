"""The development-set builder on short real clips: both labels, a readable manifest, fakes that change
only the face, and never a file of the held-out ffpp set."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.eval.manifest import read_manifest
from dflab.train import devset
from dflab.train.devset_fakes import DEGRADATIONS, degrade


def _driving(shared_data, name):
    path = shared_data / "liveportrait" / "assets" / "examples" / "driving" / f"{name}.mp4"
    if not path.is_file():
        pytest.skip(f"{path} missing from the shared data")
    return path


def test_sources_never_include_the_held_out_ffpp_set(shared_data):
    sources = devset.find_sources(shared_data)
    assert sources and not any("ffpp" in p.parts for p in sources)


@pytest.fixture(scope="module")
def built(shared_data, tmp_path_factory):
    """A 4-clip development set (one real and one fake segment of two clips), built once for the module."""
    out = tmp_path_factory.mktemp("devset")
    sources = [_driving(shared_data, "d20"), _driving(shared_data, "d18")]
    rows = devset.build(sources, out, seconds=2.0, min_s=1.5, max_segments=1,
                        degradations=(DEGRADATIONS[0],), max_source_s=2.2, log=lambda msg: None)
    return out, rows


def test_builder_makes_both_labels_and_a_readable_manifest(built):
    from dflab.faces.detect import find_faces_in_image
    from dflab.media.load import load

    out, rows = built
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest.rows) == len(rows) == 4
    assert sorted(r.label for r in manifest.rows) == [0, 0, 1, 1]  # as many fakes as reals
    assert {r.extra["group"] for r in manifest.rows} == {"g0", "g1"}
    assert all(r.file.is_file() for r in manifest.rows)
    by_clip: dict[str, dict[int, object]] = {}
    for row in manifest.rows:
        media = load(row.file)
        assert media.media_type == "video" and 1.5 <= media.duration_s <= 2.3
        assert media.audio is not None  # the source's audio is kept
        by_clip.setdefault(row.path.split("_s0")[0], {})[row.label] = media
    for pair in by_clip.values():
        real, fake = pair[0].frames[20].rgb.astype(np.float32), pair[1].frames[20].rgb.astype(np.float32)
        face = find_faces_in_image(pair[0].frames[20].rgb, max_faces=1)[0]
        x0, y0, x1, y1 = (int(v) for v in face.box)
        diff = np.abs(real - fake).mean(axis=2)
        inside = diff[y0:y1, x0:x1].mean()
        outside = np.concatenate([diff[:, : max(1, x0 - 20)].ravel(), diff[:, x1 + 20:].ravel()]).mean()
        assert inside > 2.0 and inside > 3 * outside, (inside, outside)  # the face was edited, not the rest


def test_degradations_crop_and_downscale():
    rgb = np.zeros((100, 200, 3), np.uint8)
    assert degrade(rgb, DEGRADATIONS[2]).shape == (50, 100, 3)  # half size
    assert degrade(rgb, DEGRADATIONS[3]).shape == (80, 160, 3)  # 80 % central crop


def test_train_findings_scans_once_and_writes_a_table_for_video(built, tmp_path, capsys):
    """`dflab train findings` end to end on the built set: a table with held-out figures and operating points,
    a cached rerun, bad input -> 2."""
    import json

    from dflab.cli.main import main
    from dflab.detect.findings import FindingModel

    out, _ = built
    args = ["train", "findings", str(out / "manifest.csv"), "--finding", "face_manipulated", "--media-type", "video",
            "--detectors", "face_crop,boundary", "--cache", str(tmp_path / "cache"), "--json"]
    assert main([*args, "--out", str(tmp_path / "a.json")]) == 0
    first = json.loads(capsys.readouterr().out)
    table = json.loads((tmp_path / "a.json").read_text())
    assert first["n_real"] == 2 and first["n_fake"] == 2 and first["skipped"] == 0
    assert set(table["members"]) <= {"face_crop", "boundary"} and table["held_out"]["n_groups"] == 2
    assert len(table["oof"]) == 4 and table["real_quantiles"] == sorted(table["real_quantiles"])
    model = FindingModel.from_json(table)
    assert model.fitted and model.threshold(0.01, "manipulated") >= model.threshold(0.05, "suspicious")
    cached = len(list((tmp_path / "cache").iterdir()))
    assert cached >= 4
    assert main([*args, "--out", str(tmp_path / "b.json")]) == 0  # refit from the cache: nothing rescanned
    assert json.loads(capsys.readouterr().out)["n_real"] == 2
    assert len(list((tmp_path / "cache").iterdir())) == cached
    assert main([*args, "--out", str(tmp_path / "a.json")]) == 2  # exists: no overwrite without --overwrite
    assert main(["train", "fusion", str(tmp_path / "missing.csv"), "--finding", "cut",
                 "--out", str(tmp_path / "c.json")]) == 2  # the old name still works
    assert not (tmp_path / "c.json").exists()
