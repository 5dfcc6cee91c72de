"""Playback speed of real LivePortrait clips WITH their sound, through the scan's speed cue: a 1.25x copy (frames
dropped at an unchanged rate, sound stretched by atempo, pitch kept) reads its factor, above 1; natural copies
(re-encoded, converted to 60 fps) carry no confident factor far from 1 and are not read as slowed."""

from __future__ import annotations

import csv

import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.registry import create_detector
from dflab.media import load
from dflab.train.speed_av_testset import build_testset


def _built(out, shared_data, **choice) -> dict:
    manifest = build_testset(out, shared_data, **choice)
    with open(manifest, newline="") as handle:
        return {(r["method"], float(r["factor"])): out / r["path"] for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def d9(shared_data, tmp_path_factory):
    """d9: 30 fps, a near-silent hissing track that the sound model reads as changed at 0.75x even when natural."""
    return _built(tmp_path_factory.mktemp("speed_av_d9"), shared_data, factors=(1.25,),
                  methods=("reencode", "retime"), sources=["lp_d9"])


@pytest.fixture(scope="module")
def d6_at_60(shared_data, tmp_path_factory):
    """d6: 25 fps pictures in a 30 fps file as shot (a repeat every sixth frame), converted to 60 fps."""
    return _built(tmp_path_factory.mktemp("speed_av_d6"), shared_data, methods=("fps60",), sources=["lp_d6"])


def _speed(path):
    return create_detector("speed").detect(AnalysedMedia(load(path))).details


def test_a_sped_up_copy_reads_its_factor_above_one(d9):
    details = _speed(d9[("retime", 1.25)])
    assert details["speed_factor"] == pytest.approx(1.25, rel=0.05) and details["speed_factor"] > 1.0
    assert details["speed_direction"] == "sped_up" and details["speed_factor_from"] == "video"
    assert details["speed_confidence"] >= 0.5 and details["video_strong"]
    # d9's sound is near-silent hiss with hardly any voice: not judged (it read 0.73x, the wrong side of 1)
    assert details["audio_speech"] is None and details["audio_factor_estimate"] is None


def test_a_re_encoded_copy_has_no_confident_factor_far_from_one(d9):
    # x264's P/B rhythm read as a 0.25x blend at confidence 0.53 until blend patterns the frame types explain
    # were set aside and a blend stopped lending trust of its own
    details = _speed(d9[("reencode", 1.0)])
    assert details["speed_confidence"] < 0.5 or abs(details["speed_factor"] - 1.0) <= 0.05
    assert not details["video_strong"]
    assert not (details["video_method"] == "blend" and details["video_factor"] == pytest.approx(0.25, abs=0.01))


def test_a_copy_converted_to_60_fps_is_not_read_as_slowed(d6_at_60):
    # the two conversions (25 -> 30 as shot, 30 -> 60) compose into 0.25x-like repeats
    details = _speed(d6_at_60[("fps60", 1.0)])
    assert details["video_rate_ratio"] is not None and not details["video_strong"]
    assert details["speed_direction"] != "slowed" and details["speed_confidence"] < 0.5


@pytest.fixture(scope="module")
def d9_retimed(shared_data, tmp_path_factory):
    return _built(tmp_path_factory.mktemp("speed_av_d9_retimed"), shared_data, factors=(0.75, 1.25),
                  methods=("retime",), sources=["lp_d9"])


@pytest.mark.parametrize("factor", [0.75, 1.25])
def test_a_confidently_retimed_copy_is_called_manipulated_with_its_factor(d9_retimed, factor):
    """The whole scan, not the cue alone: the verdict a user reads names the change and its factor."""
    import dflab

    result = dflab.scan(d9_retimed[("retime", factor)]).to_json()
    speed = next(f for f in result["findings"] if f["name"] == "speed_changed")
    assert speed["verdict"] == "manipulated" and result["verdict"] == "manipulated"
    assert speed["details"]["speed_factor"] == pytest.approx(factor, rel=0.05)
    assert f"{speed['details']['speed_factor']:.2f}x" in result["summary"]
    assert ("slowed" if factor < 1 else "sped up") in result["summary"]


@pytest.mark.parametrize("name", ["driving/d18.mp4", "driving/d13.mp4", "source/s29.mp4"])
def test_natural_clips_as_published_carry_no_confident_speed_change(shared_data, name):
    # d18: drops at 1.43x just over the step threshold, no speech; d13: a two-stage conversion's pattern; s29:
    # 25 fps footage in a 30 fps file. Each was flagged (d18 manipulated at 1.43x) before.
    from dflab.detect.findings import judge

    evidence = create_detector("speed").detect(AnalysedMedia(load(shared_data / "liveportrait/assets/examples" / name)))
    assert evidence.details["speed_confidence"] < 0.5
    speed = next(f for f in judge([evidence], []) if f.name == "speed_changed")
    assert speed.verdict != "manipulated"


@pytest.fixture(scope="module")
def d14_sped_up(shared_data, tmp_path_factory):
    """d14: 30 fps, a head that moves, music under the voice; its 1.25x drops sit below the whole-grid step line."""
    return _built(tmp_path_factory.mktemp("speed_av_d14"), shared_data, factors=(1.25,), methods=("retime",),
                  sources=["lp_d14"])


def test_a_sped_up_copy_under_the_whole_grid_line_is_manipulated_above_one(d14_sped_up):
    # before the test at round fractions the frames showed nothing and the sound alone said 0.88x (suspicious)
    from dflab.detect.findings import judge

    evidence = create_detector("speed").detect(AnalysedMedia(load(d14_sped_up[("retime", 1.25)])))
    details = evidence.details
    assert details["speed_factor"] == pytest.approx(1.25, rel=0.05) and details["speed_factor"] > 1.0
    assert details["speed_direction"] == "sped_up" and details["speed_factor_from"] == "video"
    speed = next(f for f in judge([evidence], []) if f.name == "speed_changed")
    assert speed.verdict == "manipulated" and "1.2" in speed.headline and "sped up" in speed.headline


@pytest.mark.parametrize("name", ["d14.mp4", "d12.mp4", "d9.mp4"])
def test_real_clips_with_music_or_hiss_are_not_flagged_for_speed(shared_data, name):
    # d14 and d12 carry music under the voice, d9 near-silent hiss: the sound model read them as re-timed
    # (d14 0.67x, d9 0.51x: suspicious) until the speech-likeness gate
    from dflab.detect.findings import judge

    path = shared_data / "liveportrait/assets/examples/driving" / name
    evidence = create_detector("speed").detect(AnalysedMedia(load(path)))
    assert evidence.details.get("audio_speech") in (None, "not_clean")
    speed = next(f for f in judge([evidence], []) if f.name == "speed_changed")
    assert speed.verdict in ("authentic", "not_applicable")
