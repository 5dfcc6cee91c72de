"""Calibrated fusion: the logistic fit, its cross-validation, and the table shipped in the package."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.detect import calibration
from dflab.detect.evidence import Evidence
from dflab.detect.fusion import DEFAULT_WEIGHTS, FusionModel
from dflab.detect.timeline import sigmoid
from dflab.errors import UsageError


def test_logistic_fit_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    true_w, true_b = np.array([1.5, -0.7]), 0.4
    y = (rng.random(4000) < sigmoid(x @ true_w + true_b)).astype(int)
    w, b = calibration.fit_logistic(x, y, l2=1e-3)
    assert np.allclose(w, true_w, atol=0.15) and abs(b - true_b) < 0.15
    # A strong penalty shrinks the weights toward 0 (what protects a fit on a handful of files).
    w_shrunk, _ = calibration.fit_logistic(x, y, l2=1e5)
    assert np.abs(w_shrunk).max() < 0.1


def _records(n_per_class: int, seed: int) -> list[dict]:
    """Synthetic scans: 'good' separates the classes (with noise), 'noise' carries nothing."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(2 * n_per_class):
        label = i % 2
        good = float(np.clip(sigmoid(rng.normal(1.5 if label else -1.5, 1.0)), 0.01, 0.99))
        noise = float(rng.uniform(0.05, 0.95))
        out.append({"path": f"f{i}.mp4", "label": label, "group": f"g{i}", "tracks": [0],
                    "evidence": [{"name": "good", "score": good, "confidence": 0.8, "track_scores": {"0": good}},
                                 {"name": "noise", "score": noise, "confidence": 0.8, "track_scores": {}}]})
    return out


def test_fit_table_weights_the_informative_detector_and_reports_cv_figures():
    table = calibration.fit_table(_records(20, 1), l2=0.5)
    assert table["weights"]["good"] > 3 * abs(table["weights"]["noise"])
    cv = table["meta"]["cross_validated"]
    assert cv["auc"] > 0.8 and 0 <= cv["ece"] <= 1
    assert len(table["meta"]["files"]) == 40
    model = FusionModel(weights=table["weights"], bias=table["bias"])
    fused = [model.fuse([Evidence("good", s, 1.0, "x."), Evidence("noise", 0.5, 1.0, "x.")]) for s in (0.01, 0.5, 0.99)]
    assert fused[0] < fused[1] < fused[2] and all(0 <= f <= 1 for f in fused)


def test_fit_table_needs_both_classes():
    one_class = [r for r in _records(5, 2) if r["label"] == 1]
    with pytest.raises(UsageError):
        calibration.fit_table(one_class)


def test_track_features_use_the_tracks_own_score():
    evidence = [{"name": "a", "score": 0.5, "confidence": 1.0, "track_scores": {"0": 0.9, "1": 0.4}}]
    x0 = calibration.track_features(evidence, ["a", "missing"], 0)
    x1 = calibration.track_features(evidence, ["a", "missing"], 1)
    assert x0[0] == pytest.approx(np.log(9)) and x1[0] == pytest.approx(np.log(0.4 / 0.6)) and x0[1] == 0.0


def test_track_features_clip_like_the_fusion():
    evidence = [{"name": "a", "score": 0.01, "confidence": 1.0}]
    assert calibration.track_features(evidence, ["a"], None)[0] == pytest.approx(calibration.CLIP.min_log_odds)


def test_packaged_table_is_loaded_by_default_with_hand_set_fallback():
    import json
    from importlib import resources

    shipped = resources.files("dflab.detect").joinpath(calibration.PACKAGED_NAME)
    assert shipped.is_file()  # the fitted table ships in the package
    fitted = json.loads(shipped.read_text())
    assert fitted["meta"]["n_files"] >= 5 and 0 <= fitted["meta"]["cross_validated"]["ece"] <= 1
    table = calibration.packaged_table()
    model = FusionModel.default()
    if table is None:  # the fit lost to the hand-set table in cross-validation: hand-set stays the default
        assert not fitted["meta"]["use_by_default"]
        assert model.weights == DEFAULT_WEIGHTS and model.bias == 0.0
        return
    fitted_types = table.get("media_types") or ["image", "video", "audio"]
    slots = table.get("tables") or {}
    for media_type in ("image", "video", "audio"):
        used = model.for_media(media_type)
        if media_type in slots:  # its own table (tests/learned/test_calibration_image.py)
            continue
        if media_type not in fitted_types:  # a table fitted on videos leaves audio to the hand-set one
            assert used.weights == DEFAULT_WEIGHTS and used.bias == 0.0
            continue
        assert used.bias == pytest.approx(table["bias"])
        for name, weight in table["weights"].items():
            assert used.weights[name] == pytest.approx(weight)
        # Scores stay probabilities whatever the evidence.
        for s in (0.0, 0.3, 1.0):
            evs = [Evidence(name, s, 1.0, "x.") for name in table["weights"]]
            assert 0.0 <= used.fuse(evs) <= 1.0
    meta = table["meta"]
    assert meta["n_files"] >= 5 and 0 <= meta["cross_validated"]["ece"] <= 1
    # It is shipped only because it beat the hand-set table held out.
    assert meta["cross_validated"]["brier"] < meta["hand_set"]["brier"]
    assert meta["cross_validated"]["auc"] >= meta["hand_set"]["auc"]


def test_fit_for_one_media_type_leaves_the_others_hand_set():
    records = _records(15, 3)
    for r in records[:6]:
        r["media_type"] = "image"  # left out of a video fit
    for r in records[6:]:
        r["media_type"] = "video"
    table = calibration.fit_table(records, l2=0.5, media_type="video")
    assert table["media_types"] == ["video"] and table["meta"]["n_files"] == len(records) - 6
    model = FusionModel.from_table(table)
    assert model.for_media("image").weights == DEFAULT_WEIGHTS
    assert model.for_media("video").weights["good"] == pytest.approx(table["weights"]["good"])
    strong = [Evidence("good", 0.95, 1.0, "x.")]
    assert model.for_media("video").fuse(strong) != pytest.approx(model.for_media("image").fuse(strong))


def test_nonnegative_fit_never_turns_a_fake_finding_into_authenticity():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 3))
    # Feature 0 is informative; feature 1 anti-correlates with the label (an accident of a dev set).
    y = (rng.random(3000) < sigmoid(1.2 * x[:, 0] - 0.8 * x[:, 1])).astype(int)
    free, _ = calibration.fit_logistic(x, y, l2=1.0, fit_bias=False)
    assert free[1] < -0.5  # the unconstrained fit would use it backwards
    w, b = calibration.fit_nonnegative(x, y, l2=1.0, fit_bias=False)
    assert w[0] > 0.8 and w[1] == 0.0 and w.min() >= 0.0 and b == pytest.approx(0.0, abs=1e-6)


def test_default_uses_a_shipped_table_marked_for_default_use(monkeypatch):
    """The shipped fit (real scans of the development set) drives FusionModel.default() once its meta
    says it beat the hand-set table: for videos only, images and audio keep the hand-set weights."""
    import json
    from importlib import resources

    shipped = json.loads(resources.files("dflab.detect").joinpath(calibration.PACKAGED_NAME).read_text())
    assert shipped["media_types"] == ["video"] and shipped["meta"]["prior_fake"] == pytest.approx(0.5, abs=0.05)
    assert set(shipped["meta"]["hand_set_cues"]).isdisjoint(shipped["weights"])  # those keep hand-set weights
    assert min(shipped["weights"].values()) >= 0.0
    marked = {**shipped, "meta": {**shipped["meta"], "use_by_default": True}, "tables": {}}  # video table only
    monkeypatch.setattr(calibration, "packaged_table", lambda: marked)
    model = FusionModel.default()
    video, image = model.for_media("video"), model.for_media("image")
    assert image.weights == DEFAULT_WEIGHTS
    for name, weight in shipped["weights"].items():
        assert video.weights[name] == pytest.approx(weight)
    for name in shipped["meta"]["hand_set_cues"]:
        assert video.weights[name] == DEFAULT_WEIGHTS[name]
    # A blended-looking face now counts as the fitted weight says, in the scanner's own fusion.
    face = [Evidence("face_crop", 0.95, 0.8, "x.")]
    expected = sigmoid(shipped["bias"] + shipped["weights"]["face_crop"] * 0.8 * np.log(0.95 / 0.05))
    assert video.fuse(face) == pytest.approx(expected)
