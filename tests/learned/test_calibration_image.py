"""The image slot of the calibrated fusion: its development set, the merge beside the video table, and the
shipped table driving the scanner's fusion for images only."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from dflab.detect import calibration
from dflab.detect.evidence import Evidence
from dflab.detect.fusion import DEFAULT_WEIGHTS, FusionModel
from dflab.detect.timeline import sigmoid
from dflab.errors import UsageError


def _records(n_per_class: int, seed: int, media_type: str, cue: str) -> list[dict]:
    """Synthetic scans where `cue` separates the classes and 'noise' carries nothing."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(2 * n_per_class):
        label = i % 2
        good = float(np.clip(sigmoid(rng.normal(1.5 if label else -1.5, 1.0)), 0.01, 0.99))
        out.append({"path": f"f{i}", "label": label, "group": f"g{i % 4}", "tracks": [0], "media_type": media_type,
                    "evidence": [{"name": cue, "score": good, "confidence": 0.8, "track_scores": {"0": good}},
                                 {"name": "noise", "score": float(rng.uniform(0.05, 0.95)), "confidence": 0.8}]})
    return out


def test_merge_puts_the_image_table_in_its_slot_and_keeps_the_video_table():
    video = calibration.fit_table(_records(15, 1, "video", "boundary"), l2=0.5, media_type="video")
    image = calibration.fit_table(_records(15, 2, "image", "face_crop"), l2=0.5, media_type="image")
    merged = calibration.merge_table(video, image)
    assert merged["weights"] == video["weights"] and merged["tables"]["image"] is image
    model = FusionModel.from_table(merged)
    assert model.for_media("video").weights["boundary"] == pytest.approx(video["weights"]["boundary"])
    assert model.for_media("image").weights["face_crop"] == pytest.approx(image["weights"]["face_crop"])
    assert model.for_media("audio").weights == DEFAULT_WEIGHTS
    # Refitting video replaces the top-level table and keeps the image slot.
    again = calibration.merge_table(merged, video)
    assert again["tables"]["image"] is image and again["media_types"] == ["video"]
    with pytest.raises(UsageError):
        calibration.merge_table(video, {**image, "media_types": None})


def test_a_slot_that_lost_to_the_hand_set_table_is_not_used():
    image = calibration.fit_table(_records(15, 2, "image", "face_crop"), l2=0.5, media_type="image")
    lost = {**image, "meta": {**image["meta"], "use_by_default": False}}
    assert not calibration.usable(lost) and calibration.usable({**image, "meta": {**image["meta"], "use_by_default": True}})


def test_the_shipped_image_slot_drives_image_fusion_only():
    shipped = json.loads(resources.files("dflab.detect").joinpath(calibration.PACKAGED_NAME).read_text())
    slot = shipped["tables"]["image"]
    meta = slot["meta"]
    assert slot["media_types"] == ["image"] and meta["n_files"] >= 100 and meta["n_groups"] >= 3
    assert min(slot["weights"].values()) >= 0.0
    model = FusionModel.default()
    image = model.for_media("image")
    if not meta["use_by_default"]:  # the fit lost to the hand-set table held out: images stay hand-set
        assert image.weights == DEFAULT_WEIGHTS
        return
    assert meta["cross_validated"]["auc"] >= meta["hand_set"]["auc"]
    assert meta["cross_validated"]["brier"] < meta["hand_set"]["brier"]
    for name, weight in slot["weights"].items():
        assert image.weights[name] == pytest.approx(weight)
    # No wholly generated picture in the development set: the GAN detector keeps its hand-set weight.
    assert "synthetic_image" in meta["hand_set_cues"] and "synthetic_image" not in slot["weights"]
    assert image.weights["synthetic_image"] == DEFAULT_WEIGHTS["synthetic_image"]
    for name, weight in shipped["weights"].items():  # the video table is untouched by the image slot
        assert model.for_media("video").weights[name] == pytest.approx(weight)
    face = [Evidence("face_crop", 0.95, 0.8, "x.")]
    expected = sigmoid(slot["bias"] + slot["weights"]["face_crop"] * 0.8 * np.log(0.95 / 0.05))
    assert image.fuse(face) == pytest.approx(expected)


def test_image_devset_balances_labels_and_keeps_people_in_one_group(shared_data, tmp_path):
    from dflab.train import devset_images as D
    from dflab.eval.manifest import read_manifest
    from dflab.media.load import load

    photos = [(p, person) for p, person in D.find_photos(shared_data)]
    assert photos and not any("ffpp" in p.parts or "cnndetection" in p.parts for p, _ in photos)
    wanted = {"alex_lacamoire": 1, "biden": 1, "kit_harington": 1, "obama": 2, "rose_leslie": 1}
    faces = []
    for path, person in photos:
        if wanted.get(person, 0) > 0 and "train" in path.parts:
            wanted[person] -= 1
            rgb = D.load_photo(path)
            faces.append(D.Face(f"{person}_{path.stem}", person, rgb, D.main_face(rgb)))
    assert len({f.person for f in faces}) == 5  # alex, biden, kit, obama, rose
    rows = D.build(faces, tmp_path, publications=D.PUBLICATIONS[:2], log=lambda msg: None)
    manifest = read_manifest(tmp_path / "manifest.csv")
    assert len(manifest.rows) == len(rows) == 4 * len(faces)
    assert sum(r.label for r in manifest.rows) == 2 * len(faces)  # as many fakes as reals
    groups_of: dict[str, set] = {}
    for r in rows:
        groups_of.setdefault(r.source.split("<-")[0].rsplit("_", 1)[0], set()).add(r.group)
    assert all(len(g) == 1 for g in groups_of.values())  # a person's pictures never straddle groups
    swaps = [r for r in rows if r.method == "swap"]
    assert swaps and all(r.source.split("<-")[1].split("_")[0] != r.source.split("_")[0] for r in swaps)
    real = load(tmp_path / next(r.path for r in rows if r.source == faces[0].name and r.label == "real"
                                and r.degradation == "q95")).frames[0].rgb
    fake_row = next(r for r in rows if r.source.startswith(faces[0].name) and r.label == "fake" and r.degradation == "q95")
    fake = load(tmp_path / fake_row.path).frames[0].rgb
    # The fake changes the face, not the picture: most of the difference lies inside the face box.
    x0, y0 = faces[0].landmarks[:, :2].min(axis=0).astype(int)
    x1, y1 = faces[0].landmarks[:, :2].max(axis=0).astype(int)
    diff = np.abs(real.astype(int) - fake.astype(int)).sum(axis=2)
    inside = diff[max(0, y0):y1, max(0, x0):x1].sum()
    assert inside > 0.7 * diff.sum() and diff[max(0, y0):y1, max(0, x0):x1].mean() > 2.0
