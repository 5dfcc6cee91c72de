"""Fitting a finding's combiner: grouped cross-validation, never worse than its best member held out."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.errors import UsageError
from dflab.train.findings_fit import fit_finding
from dflab.train.logistic import fit_logistic, fit_nonnegative


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _records(n: int, seed: int, strength: dict[str, float]) -> list[dict]:
    """Synthetic scans: each named cue separates the classes by `strength` (0 = noise)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = i % 2
        evidence = []
        for name, s in strength.items():
            score = float(np.clip(_sigmoid(rng.normal((s if label else -s), 1.0)), 0.01, 0.99))
            evidence.append({"name": name, "score": score, "confidence": 0.8, "track_scores": {"0": score}})
        out.append({"path": f"f{i}", "label": label, "group": f"g{i % 5}", "tracks": [0], "media_type": "video",
                    "evidence": evidence})
    return out


def test_logistic_fit_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = (rng.uniform(size=4000) < _sigmoid(1.5 * x[:, 0] - 0.7 * x[:, 1] + 0.3)).astype(float)
    w, b = fit_logistic(x, y, l2=1e-3)
    assert w == pytest.approx([1.5, -0.7], abs=0.15) and b == pytest.approx(0.3, abs=0.15)
    w, _ = fit_nonnegative(x, y, l2=1e-3)
    assert w[1] == 0 and w[0] > 1.0  # the negative feature is dropped, not turned into evidence of authenticity


def test_two_informative_members_are_fused_and_the_noise_is_not_trusted():
    table = fit_finding(_records(200, 1, {"face_crop": 1.2, "boundary": 1.2, "blink": 0.0}), "face_manipulated")
    held = table["held_out"]
    assert held["chosen"] == "fused" and held["auc"] >= held["best_member_auc"]
    assert table["members"]["face_crop"] > 3 * table["members"].get("blink", 0.0)
    assert table["operating_points"]["manipulated"] >= table["operating_points"]["suspicious"]
    assert len(table["oof"]) == 200 and len(table["real_quantiles"]) == 201


def test_the_best_member_ships_alone_when_fusing_does_not_beat_it():
    # only one member carries anything: the fused model cannot rank better, so it must not be chosen unless it
    # is also better calibrated
    table = fit_finding(_records(200, 2, {"face_crop": 2.0, "boundary": 0.0, "blink": 0.0}), "face_manipulated")
    held = table["held_out"]
    assert held["best_member"] == "face_crop"
    if held["chosen"] != "fused":
        assert list(table["members"]) == ["face_crop"]
    assert held["auc"] >= held["best_member_auc"] - 1e-9 or held["chosen"] == "face_crop"


def test_held_out_figures_are_out_of_fold():
    # the label is written into a per-group constant: in-sample it would be perfect, held out it is chance
    records = _records(200, 3, {"face_crop": 0.0})
    for r in records:
        r["evidence"][0]["score"] = 0.9 if r["group"] in ("g0", "g1") else 0.1
        r["label"] = int(r["group"] in ("g0", "g1"))
    table = fit_finding(records, "face_manipulated")
    assert table["held_out"]["auc"] <= 0.6


def test_one_class_or_no_member_is_refused():
    records = _records(20, 4, {"face_crop": 1.0})
    with pytest.raises(UsageError):
        fit_finding([r for r in records if r["label"] == 1], "face_manipulated")
    with pytest.raises(UsageError):
        fit_finding(records, "synthetic_voice")


def test_a_member_sure_on_one_kind_of_fake_is_kept_not_averaged_away():
    """paste fires on a fifth of the fakes only (a crude paste), face_crop sees every fake a little: fused by one
    weighted sum, paste's few sure calls drown among the fakes it is silent on; the "any" combiner keeps them."""
    records = _records(600, 5, {"face_crop": 0.8})
    rng = np.random.default_rng(5)
    for i, r in enumerate(records):
        fires = r["label"] == 1 and i % 10 == 1  # every fifth fake: a paste the face model reads as a real face
        if fires:
            fc = float(np.clip(_sigmoid(rng.normal(-0.8, 1.0)), 0.01, 0.99))
            r["evidence"][0].update(score=fc, track_scores={"0": fc})
        score = float(np.clip(rng.uniform(0.9, 0.99) if fires else rng.uniform(0.01, 0.3), 0.01, 0.99))
        r["evidence"].append({"name": "paste", "score": score, "confidence": 0.6, "track_scores": {"0": score}})
    table = fit_finding(records, "face_manipulated")
    held = table["held_out"]
    assert held["chosen"] == "any" and set(table["members"]) == {"face_crop", "paste"}
    assert table["combine"] == "any" and set(table["calibration"]) == {"face_crop", "paste"}
    flagged = held["any"]["flagged_at_operating_points"]["suspicious"]
    alone = held["members"]["face_crop"]["flagged_at_operating_points"]["suspicious"]
    fused = held["fused"]["flagged_at_operating_points"]["suspicious"]
    assert flagged["fakes"] > max(alone["fakes"], fused["fakes"]) + 0.1 and flagged["reals"] <= 0.06
    # shipped, the table judges a fresh crude paste with a silent face model as flagged, led by paste
    from dflab.detect.evidence import Evidence
    from dflab.detect.findings import FindingModel, OperatingPoint

    model = FindingModel.from_json(table)
    evidence = {"face_crop": Evidence("face_crop", 0.5, 0.8, "x."), "paste": Evidence("paste", 0.95, 0.6, "x.")}
    assert model.verdict(model.probability(evidence), OperatingPoint()) != "authentic"
    assert model.member_probabilities(evidence)["paste"] == model.probability(evidence)


def test_isotonic_calibration_is_monotone_and_never_certain():
    from dflab.train.isotonic import fit_isotonic, predict_isotonic

    rng = np.random.default_rng(6)
    x = rng.normal(size=500)
    y = (rng.uniform(size=500) < _sigmoid(2 * x)).astype(float)
    knots = fit_isotonic(x, y)
    assert np.all(np.diff(knots[0]) > 0) and np.all(np.diff(knots[1]) >= 0)
    assert 0 < knots[1][0] and knots[1][-1] < 1
    assert predict_isotonic(knots, np.array([-3.0]))[0] < 0.2 < 0.8 < predict_isotonic(knots, np.array([3.0]))[0]
    # equal features are one block: two files at x = 0, one real and one fake, read 0.5
    assert fit_isotonic(np.array([0.0, 0.0]), np.array([0.0, 1.0]))[1] == pytest.approx([0.5])
