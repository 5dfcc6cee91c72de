"""Findings: one calibrated judgement per kind of manipulation, and the verdict they lead to."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dflab.detect.evidence import Evidence
from dflab.detect.findings import (
    FINDING_KINDS, FindingModel, OperatingPoint, file_verdict, finding_model, judge, verdict_line,
)
from dflab.detect.timeline import flagged_ranges
from dflab.detect.verdict import verdict_for
from dflab.errors import UsageError


def ev(name, score, confidence=1.0, **kw):
    return Evidence(name=name, score=score, confidence=confidence, summary="x.", **kw)


def _speed(score, factor, confidence=0.9):
    return ev("speed", score, confidence, time_ranges=[(0.0, 10.0)],
              details={"speed_factor": factor, "speed_confidence": confidence})


def test_logistic_combiner_known_answer():
    model = FindingModel("face_manipulated", {"face_crop": 2.0, "boundary": 0.5}, bias=-0.3)
    evidence = {"face_crop": ev("face_crop", 0.8, 0.5), "boundary": ev("boundary", 0.4, 1.0)}
    expected = -0.3 + 2.0 * 0.5 * math.log(0.8 / 0.2) + 0.5 * 1.0 * math.log(0.4 / 0.6)
    assert model.probability(evidence) == pytest.approx(1 / (1 + math.exp(-expected)))
    # a member that did not run adds nothing; none running: not applicable
    assert model.probability({"face_crop": ev("face_crop", 0.8, 0.5)}) == pytest.approx(
        1 / (1 + math.exp(-(-0.3 + 2.0 * 0.5 * math.log(4)))))
    assert model.probability({"boundary": ev("boundary", 0.9, 0.0)}) is None


def test_per_track_scores_pick_the_most_suspicious_face():
    face = ev("face_crop", 0.5, 1.0, track_scores={0: 0.1, 1: 0.97})
    findings = judge([face], track_ids=[0, 1], media_type="video", track_times={0: (0.0, 5.0), 1: (1.0, 5.2)})
    f = next(f for f in findings if f.name == "face_manipulated")
    assert f.track_scores[1] > f.track_scores[0] and f.score == max(f.track_scores.values())
    assert f.details["worst_track"] == 1


def test_a_slowed_clip_is_called_manipulated_and_the_line_names_the_factor():
    evidence = [_speed(0.97, 0.75), ev("face_crop", 0.2, 0.8, track_scores={0: 0.2}), ev("cuts", 0.35, 0.5)]
    findings = judge(evidence, track_ids=[0], media_type="video")
    score, verdict = file_verdict(findings)
    assert verdict == "manipulated" and score == pytest.approx(0.5 + 0.9 * 0.47)  # pulled in by its confidence
    line = verdict_line(findings, score, verdict)
    assert line.startswith("MANIPULATED (score 0.92): playback slowed to 0.75x")
    speed = next(f for f in findings if f.name == "speed_changed")
    assert speed.details["speed_direction"] == "slowed" and findings[0] is speed


def test_a_strong_finding_is_not_averaged_away_by_others_that_see_nothing():
    quiet = [ev("cuts", 0.35, 0.5), _speed(0.1, 1.0), ev("synthetic_speech", 0.02, 1.0)]
    alone = file_verdict(judge([_speed(0.95, 1.25)], [], media_type="video"))
    together = file_verdict(judge([*quiet[:1], _speed(0.95, 1.25), quiet[2]], [], media_type="video"))
    assert alone == together and together[1] == "manipulated"


def test_nothing_found_is_authentic_and_says_what_was_strongest():
    findings = judge([_speed(0.1, 1.0), ev("cuts", 0.35, 0.5)], [], media_type="video")
    score, verdict = file_verdict(findings)
    assert verdict == "authentic"
    line = verdict_line(findings, score, verdict)
    assert "no finding reached its threshold (strongest: cut 0.42, suspicious from 0.65)" in line
    cut = next(f for f in findings if f.name == "cut")
    assert cut.details["thresholds"] == {"suspicious": 0.65, "manipulated": 0.8}  # the hand-set lines of cuts


def test_an_unsure_detector_cannot_flag_on_its_own_probability():
    """A cue's probability counts as far as its confidence: the synthetic-image detector on a compressed video
    frame (confidence 0.1) saying 0.95 is not a finding."""
    findings = judge([ev("synthetic_image", 0.95, 0.1), _speed(0.96, 0.8, confidence=0.2)], [], media_type="video")
    assert file_verdict(findings)[1] == "authentic"


def test_disclosure_is_decisive_and_names_the_ledger_record():
    mark = ev("watermark", 1.0, 1.0, decisive=True, details={"record": 12})
    findings = judge([mark, ev("face_crop", 0.1, 0.8)], [], media_type="image")
    score, verdict = file_verdict(findings)
    assert verdict == "manipulated"
    assert "disclosed as synthetic (dflab watermark, ledger record 12)" in verdict_line(findings, score, verdict)


def test_operating_points_come_from_the_real_quantiles():
    quantiles = tuple(np.linspace(0.0, 0.8, 201))  # real files' held-out p spread evenly over [0, 0.8]
    model = FindingModel("synthetic_image", {"synthetic_image": 1.0}, real_quantiles=quantiles)
    assert model.threshold(0.01, "manipulated") == pytest.approx(0.792)
    assert model.threshold(0.05, "suspicious") == pytest.approx(0.76)
    assert model.verdict(0.78, OperatingPoint()) == "suspicious"
    assert model.verdict(0.78, OperatingPoint.parse("sensitive")) == "manipulated"
    assert model.verdict(0.3, OperatingPoint.parse("0.9,0.95")) == "authentic"  # never below even odds
    assert model.verdict(None, OperatingPoint()) == "not_applicable"


@pytest.mark.parametrize("bad", ["loose", "0.05,0.01", "0,0.1", "a,b", "0.1"])
def test_operating_point_refuses_nonsense(bad):
    with pytest.raises(UsageError):
        OperatingPoint.parse(bad)


def test_every_shipped_table_loads_and_names_only_its_own_members():
    for kind in FINDING_KINDS:
        for media_type in (None, "image", "video", "audio"):
            model = finding_model(kind.name, media_type)
            assert model.name == kind.name and set(model.members) <= set(kind.members)
            assert all(w >= 0 and math.isfinite(w) for w in model.members.values())
            if model.fitted:
                assert model.held_out["auc"] >= 0.5
                assert list(model.real_quantiles) == sorted(model.real_quantiles)
                assert model.threshold(0.01, "manipulated") >= model.threshold(0.05, "suspicious")


def test_scan_json_carries_findings_models_and_the_operating_point(tmp_path):
    from dflab.detect.scan import ScanOptions, scan_file
    from dflab.samples import write_samples

    photo = next(p for p, _ in write_samples(tmp_path) if p.name == "astronaut_real.jpg")
    doc = scan_file(photo, ScanOptions(operating_point=OperatingPoint.parse("strict"))).to_json()
    names = [f["name"] for f in doc["findings"]]
    assert {"face_manipulated", "synthetic_image", "disclosed_synthetic"} <= set(names)
    assert doc["operating_point"] == {"manipulated_fpr": 0.005, "suspicious_fpr": 0.01}
    for finding in doc["findings"]:
        assert finding["verdict"] in ("authentic", "suspicious", "manipulated", "not_applicable")
        assert set(finding) >= {"name", "score", "verdict", "summary", "time_ranges", "evidence"}
    models = {m["name"]: m for m in doc["models"]}
    assert "face_crop" in models and len(models["face_crop"]["fingerprint"]) == 16
    assert "finding:face_manipulated" in models
    assert doc["summary"].startswith(doc["verdict"].upper())
    json.dumps(doc)  # serialisable as it is


def test_verdict_bands_for_plain_scores():
    assert [verdict_for(s) for s in (0.1, 0.5, 0.9)] == ["authentic", "suspicious", "manipulated"]


def test_flagged_ranges_merge_close_spans():
    times = np.arange(10) * 0.1
    flags = np.array([0, 1, 1, 0, 0, 0, 0, 0, 1, 1], bool)
    assert flagged_ranges(times, flags, min_gap_s=0.2) == [(0.1, 0.2), (0.8, 0.9)]
    assert flagged_ranges(times, flags, min_gap_s=1.0) == [(0.1, 0.9)]


def test_evidence_rejects_out_of_range_scores():
    with pytest.raises(ValueError):
        ev("a", 1.5)


def test_scan_reports_any_dflab_watermark_not_only_disclosures(tmp_path):
    """A file marked with `dflab watermark embed --payload HEX` is reported as marked, yet not as disclosed."""
    from dflab.cli.main import main
    from dflab.detect.scan import ScanOptions, scan_file
    from dflab.samples import write_samples

    photo = next(p for p, _ in write_samples(tmp_path) if p.name == "astronaut_real.jpg")
    marked = tmp_path / "marked.png"
    assert main(["watermark", "embed", str(photo), str(marked), "--payload", "0123456789abcdef"]) == 0
    result = scan_file(marked, ScanOptions(detectors=["watermark"]))
    mark = next(e for e in result.evidence if e.name == "watermark")
    assert mark.details["detected"] and "0123456789abcdef" in mark.summary and "No dflab watermark" not in mark.summary
    assert result.verdict == "authentic"


def test_a_clip_slowed_to_three_quarters_is_manipulated_with_its_factor(shared_data, tmp_path):
    """The shallowfake users ask about: a real talking-head clip slowed to 0.75x (audio stretched with its pitch
    kept, frames repeated at an unchanged frame rate). The verdict line names the speed change and the factor."""
    import shutil
    import subprocess

    from dflab.detect.scan import ScanOptions, scan_file

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d20.mp4"
    slowed = tmp_path / "slowed.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", "setpts=PTS/0.75,fps=25",
                    "-af", "atempo=0.75", "-c:v", "libx264", "-crf", "20", "-c:a", "aac", str(slowed)], check=True)
    result = scan_file(slowed, ScanOptions(detectors=["speed", "cuts"]))
    speed = next(f for f in result.findings if f.name == "speed_changed")
    assert result.verdict == "manipulated" and speed.verdict == "manipulated"
    assert speed.details["speed_factor"] == pytest.approx(0.75, abs=0.0375)  # within 5 %
    assert "playback slowed to 0.7" in result.summary
    original = scan_file(clip, ScanOptions(detectors=["speed", "cuts"]))
    assert original.verdict == "authentic"


def test_the_summary_leads_with_a_member_the_finding_uses():
    """A member the fit gave no weight (boundary in the shipped picture table) does not move p, so it is not
    named as the strongest reason even when its own score is higher."""
    findings = judge([ev("face_crop", 0.67, 0.6), ev("boundary", 0.95, 0.5)], [0], media_type="image")
    face = next(f for f in findings if f.name == "face_manipulated")
    assert "Strongest: face_crop 0.67" in face.summary and "boundary 0.95" in face.summary


def _any_model(**kw):
    # face_crop: a gentle map; paste: flat until its seam fires, then sure
    return FindingModel("face_manipulated", {"face_crop": 1.0, "paste": 1.0}, combine="any",
                        calibration={"face_crop": ((-3.6, 0.0, 3.6), (0.3, 0.5, 0.9)),
                                     "paste": ((-2.0, 0.0, 1.5), (0.45, 0.5, 0.95))}, **kw)


def test_any_combiner_takes_the_most_confident_member():
    model = _any_model()
    evidence = {"face_crop": ev("face_crop", 0.5, 0.6), "paste": ev("paste", 0.94, 0.6)}
    paste_feature = 0.6 * math.log(0.94 / 0.06)
    expected = float(np.interp(paste_feature, (-2.0, 0.0, 1.5), (0.45, 0.5, 0.95)))
    assert model.probability(evidence) == pytest.approx(expected)
    assert model.member_probabilities(evidence) == pytest.approx({"face_crop": 0.5, "paste": expected})
    # a member that is silent lowers nothing: the same p without it, or with it at its weakest
    assert model.probability({"paste": ev("paste", 0.94, 0.6)}) == pytest.approx(expected)
    assert model.probability({**evidence, "face_crop": ev("face_crop", 0.001, 0.6)}) == pytest.approx(expected)
    assert model.probability({"paste": ev("paste", 0.94, 0.0)}) is None


def test_any_table_names_the_member_that_drives_it(monkeypatch):
    import dflab.detect.findings as F

    model = _any_model(real_quantiles=tuple(np.linspace(0.3, 0.8, 201)))
    evidence = {"face_crop": ev("face_crop", 0.9, 0.6), "paste": ev("paste", 0.94, 0.6)}
    monkeypatch.setattr(F, "finding_model", lambda name, media_type=None: model)
    face = F.judge_finding(F.KIND_BY_NAME["face_manipulated"], evidence, [], OperatingPoint(), "image")
    assert face.verdict == "manipulated" and "Strongest: paste 0.94" in face.summary
    assert {e["name"]: e["probability"] for e in face.evidence}["paste"] == pytest.approx(face.score, abs=1e-4)


def test_a_plateau_of_real_files_is_not_flagged_at_once():
    """When more real files share one probability than the false-alarm rate allows (a saturated face model), the
    line moves above them instead of flagging them all."""
    from dflab.detect.findings import threshold_at

    reals = np.concatenate([np.linspace(0.1, 0.8, 970), np.full(30, 0.9)])  # 3 % of reals at 0.9
    quantiles = np.quantile(reals, np.linspace(0, 1, 201))
    assert threshold_at(quantiles, 0.05) < 0.9  # 5 %: the plateau is inside the budget
    t = threshold_at(quantiles, 0.01)
    assert t > 0.9 and np.mean(reals >= t) <= 0.01
    smooth = np.linspace(0, 1, 201)  # no plateau: the plain quantile
    assert threshold_at(smooth, 0.05) == pytest.approx(0.95)


def test_any_combiner_over_time_is_the_most_confident_member_per_moment():
    model = _any_model()
    times = np.array([0.0, 1.0, 2.0])
    evidence = {"face_crop": ev("face_crop", 0.5, 0.6, times=times, series={"score": np.array([0.5, 0.99, 0.5])}),
                "paste": ev("paste", 0.2, 0.6)}  # no series: a picture cue adds no curve
    curve = model.series(evidence, times)
    high = float(np.interp(0.6 * math.log(0.99 / 0.01), (-3.6, 0.0, 3.6), (0.3, 0.5, 0.9)))
    assert curve == pytest.approx([0.5, high, 0.5])


def test_a_speed_reading_that_leans_to_a_change_but_is_not_flagged_says_so():
    """A natural recording whose sound reads p(changed) 0.5 at 0.93x: authentic, but the finding must not call the
    playback natural while the cue says it may be changed (the two lines disagreed)."""
    leaning = next(f for f in judge([_speed(0.5, 0.93, 0.5)], [], media_type="audio") if f.name == "speed_changed")
    assert leaning.verdict == "authentic" and leaning.score >= 0.5
    assert leaning.summary.startswith("Playback may be changed to about 0.93x, below the suspicious line p >= ")
    natural = next(f for f in judge([_speed(0.1, 1.0)], [], media_type="audio") if f.name == "speed_changed")
    assert natural.summary.startswith("Playback looks natural")


def test_a_long_silent_clip_slowed_or_sped_up_is_read_from_its_frames(shared_data, tmp_path, ffmpeg):
    """Over 20 s a scan analyses a few frames a second, which hides the repeated or dropped frames of a re-timing;
    the speed cue reads them from the thumbnails kept for every decoded frame. Without sound (before, the speed
    finding could not run on such a clip at all) and sped up (before, the sound alone read 1.11x)."""
    from dflab.detect.scan import ScanOptions, scan_file

    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d14.mp4"  # 17.9 s, 30 fps
    slowed, sped_up = tmp_path / "slowed.mp4", tmp_path / "sped_up.mp4"
    ffmpeg("-i", clip, "-vf", "setpts=PTS/0.75,fps=30", "-an", "-c:v", "libx264", "-crf", "20", slowed)  # 23.8 s
    ffmpeg("-stream_loop", "1", "-i", clip, "-vf", "setpts=PTS/1.25,fps=30", "-af", "atempo=1.25", "-c:v", "libx264",
           "-crf", "20", "-c:a", "aac", sped_up)  # 28.6 s
    for path, factor, words in ((slowed, 0.75, "playback slowed to 0.7"), (sped_up, 1.25, "playback sped up to 1.2")):
        result = scan_file(path, ScanOptions(detectors=["speed", "cuts"]))
        assert result.frames_analysed < 0.5 * result.duration_s * 30  # the analysis frames were sampled
        speed = next(f for f in result.findings if f.name == "speed_changed")
        assert speed.verdict == "manipulated" and speed.details["speed_factor"] == pytest.approx(factor, rel=0.05)
        assert words in result.summary
        cue = next(e for e in result.evidence if e.name == "speed")
        assert cue.details["video_frames_read"] == 600  # the first 20 s of 30 fps, where the pattern fit was measured


def test_a_long_natural_clip_with_a_cut_is_not_read_as_re_timed(shared_data, tmp_path, ffmpeg):
    """LivePortrait d13 (30 fps made from 60/50 fps footage) carries a 1.33x drop pattern its conversion explains;
    looped once (a stream copy, 23 s), the pattern read across the join no longer fits the conversion, and was
    called MANIPULATED, sped up to 1.33x. The longest shot alone still shows the conversion: natural."""
    from dflab.detect.scan import ScanOptions, scan_file

    looped = tmp_path / "looped.mp4"
    ffmpeg("-stream_loop", "1", "-i", shared_data / "liveportrait/assets/examples/driving/d13.mp4", "-c:v", "copy",
           "-c:a", "aac", looped)
    result = scan_file(looped, ScanOptions(detectors=["speed"]))
    speed = next(f for f in result.findings if f.name == "speed_changed")
    cue = next(e for e in result.evidence if e.name == "speed")
    assert speed.verdict == "authentic" and cue.details["video_rate_ratio"] is not None, cue.summary


def test_a_cut_summary_lists_four_cuts_and_counts_the_rest():
    """An 88 s clip looped six times has six joins; the line names four and says how many more there are."""
    times = [12.6, 25.1, 37.6, 50.2, 62.7, 75.2]
    cuts = ev("cuts", 0.99, 0.9, time_ranges=[(t - 0.1, t) for t in times],
              details={"cuts": times, "jump_cuts": 6, "cut_details": [{"time_s": t, "type": "jump"} for t in times]})
    cut = next(f for f in judge([cuts], [], media_type="video") if f.name == "cut")
    assert cut.verdict != "authentic"
    assert "at 12.60 s (jump), 25.10 s (jump), 37.60 s (jump), 50.20 s (jump) and 2 more (p = " in cut.summary
    assert len(cut.time_ranges) == 6
