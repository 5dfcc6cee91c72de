import numpy as np
import pytest

from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.fusion import FusionModel
from dflab.detect.timeline import flagged_ranges
from dflab.detect.verdict import verdict_for


def ev(name, score, confidence=1.0, **kw):
    return Evidence(name=name, score=score, confidence=confidence, summary="x.", **kw)


def test_uninformative_evidence_leaves_the_prior():
    model = FusionModel(weights={"a": 1.0}, bias=0.0)
    assert model.fuse([not_applicable("a", "n/a"), ev("a", 0.5)]) == pytest.approx(0.5)


def test_log_odds_add_up():
    model = FusionModel(weights={"a": 1.0, "b": 1.0}, bias=0.0)
    # logit(0.8) + logit(0.8) = 2 ln 4  ->  p = 16/17
    assert model.fuse([ev("a", 0.8), ev("b", 0.8)]) == pytest.approx(16 / 17)
    # Opposite evidence of equal strength (inside the clipping range) cancels.
    assert model.fuse([ev("a", 0.7), ev("b", 0.3)]) == pytest.approx(0.5)


def test_finding_nothing_is_weak_evidence():
    model = FusionModel(weights={n: 1.0 for n in "abcde"})
    # One cue that sees a clear artefact against four that see nothing: still suspicious.
    fused = model.fuse([ev("a", 0.99), *(ev(n, 0.01) for n in "bcde")])
    assert fused == pytest.approx(1 / (1 + np.exp(-(np.log(99) - 4.0))))
    assert fused > 0.6


def test_confidence_scales_the_contribution():
    model = FusionModel(weights={"a": 1.0})
    assert model.fuse([ev("a", 0.9, confidence=0.0)]) == pytest.approx(0.5)
    assert 0.5 < model.fuse([ev("a", 0.9, confidence=0.5)]) < model.fuse([ev("a", 0.9)])


def test_decisive_evidence_wins():
    model = FusionModel()
    assert model.fuse([ev("boundary", 0.01), ev("watermark", 1.0, decisive=True)]) == 1.0


def test_per_track_scores_are_used_per_track():
    model = FusionModel(weights={"a": 1.0})
    e = ev("a", 0.5, track_scores={0: 0.9, 1: 0.1})
    assert model.fuse([e], track_id=0) > 0.85 and model.fuse([e], track_id=1) < 0.3


def test_series_fusion_follows_the_per_frame_scores():
    model = FusionModel(weights={"a": 1.0})
    times = np.linspace(0, 1, 11)
    e = ev("a", 0.5, times=times, series={"score": np.where(times > 0.5, 0.9, 0.3)})
    fused = model.fuse_series([e], times)
    assert fused[0] == pytest.approx(0.3) and fused[-1] == pytest.approx(0.9)


def test_verdict_bands():
    assert [verdict_for(s) for s in (0.1, 0.5, 0.9)] == ["authentic", "suspicious", "manipulated"]


def test_flagged_ranges_merge_close_spans():
    times = np.arange(10) * 0.1
    flags = np.array([0, 1, 1, 0, 0, 0, 0, 0, 1, 1], bool)
    assert flagged_ranges(times, flags, min_gap_s=0.2) == [(0.1, 0.2), (0.8, 0.9)]
    assert flagged_ranges(times, flags, min_gap_s=1.0) == [(0.1, 0.9)]


def test_evidence_rejects_out_of_range_scores():
    with pytest.raises(ValueError):
        ev("a", 1.5)
