"""Playback speed from the frames: a real FF++ clip re-timed by ffmpeg (nearest-frame, unchanged frame rate) must
read at its exact factor, slowed or sped up; the clip as shot must not; too little to see gives no verdict."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dflab.media import load
from dflab.shallow.speed_video import (
    estimate_video_speed,
    frame_rate_ratio,
    step_pattern,
    type_normalised,
)
from dflab.train.video_speed_testset import build_testset

SOURCE = "ffpp_original_519"  # 25 fps real footage of a talking presenter


@pytest.fixture(scope="module")
def retimed(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("video_speed")
    manifest = build_testset(out, shared_data, factors=(0.75, 1.25), methods=("original", "repeat"), sources=[SOURCE])
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["method"], float(r["factor"])): out / r["path"] for r in rows}


def _frames(path):
    return [f.rgb for f in load(path).frames]


def test_testset_writes_each_variant_at_the_source_frame_rate(retimed):
    assert set(retimed) == {("original", 1.0), ("repeat", 0.75), ("repeat", 1.25)}
    for path in retimed.values():
        media = load(path)
        assert media.fps == pytest.approx(25.0) and media.duration_s == pytest.approx(10.0, abs=0.1)
        assert max(media.width, media.height) <= 320


def test_slowed_clip_reads_its_factor(retimed):
    result = estimate_video_speed(_frames(retimed[("repeat", 0.75)]))
    assert result.factor == pytest.approx(0.75, rel=0.02)
    assert result.method == "repeat" and result.direction == "slower" and result.confidence > 0.5
    assert result.rate_ratio is None  # 0.75 is no frame-rate conversion: strong evidence for the speed detector


def test_sped_up_clip_reads_as_faster(retimed):
    result = estimate_video_speed(_frames(retimed[("repeat", 1.25)]))
    assert result.factor == pytest.approx(1.25, rel=0.05)
    assert result.method == "drop" and result.direction == "faster"


def test_clip_as_shot_is_not_flagged(retimed):
    result = estimate_video_speed(_frames(retimed[("original", 1.0)]))
    assert result.factor is None and result.method is None
    assert 0 < result.confidence < 0.5  # an opinion ("no re-timing seen"), a modest one


def test_too_short_or_still_gives_no_verdict(retimed):
    frames = _frames(retimed[("repeat", 0.75)])
    short = estimate_video_speed(frames[:20])
    still = estimate_video_speed([frames[0]] * 90)
    for result in (short, still):
        assert result.factor is None and result.confidence == 0.0


def test_scan_reports_a_sped_up_video(retimed, capsys):
    from dflab.cli.main import main

    assert main(["scan", str(retimed[("repeat", 1.25)]), "--detectors", "speed", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["shallow"]["speed_factor"] == pytest.approx(1.25, rel=0.05)
    details = next(e for e in result["evidence"] if e["name"] == "speed")["details"]
    assert details["video_method"] == "drop" and details["video_direction"] == "faster"
    assert details["video_pattern_score"] > 0.3 and details["audio_p_changed"] is None  # video only


@pytest.fixture(scope="module")
def blended(shared_data, tmp_path_factory):
    """The same FF++ clip slowed to 0.75x by frame blending (ffmpeg `framerate`), x264 as the test set writes it."""
    out = tmp_path_factory.mktemp("video_blend")
    manifest = build_testset(out, shared_data, factors=(0.75,), methods=("blend",), sources=[SOURCE])
    with open(manifest, newline="") as handle:
        return out / next(csv.DictReader(handle))["path"]


def test_decoded_frames_carry_the_codec_frame_type(retimed):
    types = [f.pict_type for f in load(retimed[("original", 1.0)]).frames]
    assert types[0] == "I" and {"P", "B"} <= set(types) and set(types) <= {"I", "P", "B"}


def test_frame_types_reveal_a_blended_clip(blended):
    """x264's B-frames are near-blends of their references, so without frame types the blend test must sit above
    that rhythm and misses this clip; with them, the mid band (frac 0.25) finds it at its factor."""
    frames = load(blended).frames
    rgb = [f.rgb for f in frames]
    plain = estimate_video_speed(rgb)
    typed = estimate_video_speed(rgb, pict_types=[f.pict_type for f in frames])
    assert plain.factor is None
    assert typed.method == "blend" and typed.blend_band == "mid" and typed.direction == "slower"
    assert typed.factor == pytest.approx(0.75, rel=0.02)


def test_clip_as_shot_with_frame_types_is_not_flagged(retimed):
    frames = load(retimed[("original", 1.0)]).frames
    result = estimate_video_speed([f.rgb for f in frames], pict_types=[f.pict_type for f in frames])
    assert result.factor is None and result.method is None


def test_type_normalised_removes_a_per_type_level():
    # P-frames at twice the B-frames' level, each type varying around its own level; the lone I by the overall median
    types = ["I"] + ["P", "B", "B", "B"] * 6
    values = np.array([4.0] + [2.0, 1.0, 1.2, 0.8] * 6)
    out = type_normalised(values, types)
    p, b = np.array(types) == "P", np.array(types) == "B"
    assert np.allclose(out[p], 1.0) and np.median(out[b]) == pytest.approx(1.0)
    assert out[b].tolist()[:3] == pytest.approx([1.0, 1.2, 0.8]) and out[0] == pytest.approx(4.0 / np.median(values))


def test_step_pattern_and_frame_rate_ratios():
    # nearest-frame re-timing by 1.25 (or 0.25 above 1): one extra source frame every fourth step
    assert step_pattern(np.array([0.25]), np.array([0.0]), 8)[0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]
    assert frame_rate_ratio(25 / 30) == "25/30" and frame_rate_ratio(1.2) == "30/25"
    assert frame_rate_ratio(0.75) is None and frame_rate_ratio(1.1) is None


@pytest.fixture(scope="module")
def footage_and_voice(shared_data):
    """8 s of FF++ 519 pictures (25 fps, a moving presenter) and 8 s of natural speech by LibriSpeech speaker
    3080, whom the shipped speed model never saw (the speed cue does not check that voice and face match)."""
    from dflab.media import Audio, load_audio
    from dflab.train.edits import read_clip

    clip = read_clip(shared_data / "ffpp/original_sequences/youtube/c23/videos/519.mp4", max_side=128, max_seconds=8)
    speech = np.concatenate([load_audio(f).samples for f in sorted((shared_data / "librispeech/3080").glob("*.flac"))])
    return clip.frames, Audio(speech[: 8 * 16_000], 16_000)


def _speed_evidence(tmp_path, frames, fps, audio):
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import Frame, Media

    media = Media(path=tmp_path / "clip.mp4", media_type="video", duration_s=len(frames) / fps, fps=fps,
                  frames=[Frame(i, i / fps, f) for i, f in enumerate(frames)], width=128, height=128, audio=audio)
    return create_detector("speed").detect(AnalysedMedia(media))


def test_fusion_video_refines_at_a_frame_rate_ratio_and_overrules_elsewhere(footage_and_voice, tmp_path):
    """The same natural voice over (a) the pictures converted 25 -> 30 fps (a repeat every sixth frame, the
    pattern of 0.833x) and (b) the pictures slowed to 0.75x by repeats (no frame-rate ratio). (a) stays natural,
    the frames only recorded; (b) is called changed, at the frames' factor."""
    frames, voice = footage_and_voice
    picks = np.floor(np.arange(int(len(frames) * 30 / 25)) * 25 / 30 + 0.5).astype(int)
    natural = _speed_evidence(tmp_path, [frames[min(i, len(frames) - 1)] for i in picks], 30.0, voice)
    assert natural.details["video_factor"] == pytest.approx(25 / 30, rel=0.01)
    assert natural.details["video_rate_ratio"] == "25/30" and not natural.details["video_strong"]
    assert natural.score < 0.5 and natural.details["speed_factor"] == 1.0, natural.summary
    slowed_frames = [frames[i] for i in np.floor(np.arange(len(frames)) * 0.75 + 0.5).astype(int)]
    slowed = _speed_evidence(tmp_path, slowed_frames, 25.0, voice)
    assert slowed.details["video_strong"] and slowed.score > 0.5
    assert slowed.details["speed_factor"] == pytest.approx(0.75, rel=0.02), slowed.summary


def test_the_longest_shot_ends_at_hard_cuts_not_at_motion_or_retiming():
    """A hard cut (a jump to another picture) splits the thumbnails; repeated and dropped frames do not."""
    from dflab.shallow.speed_video import longest_shot

    rng = np.random.default_rng(0)
    scene_a, scene_b = rng.uniform(0, 255, (2, 64, 64)).astype(np.float32)
    drift = np.linspace(0, 1, 64, dtype=np.float32)[None, :] * 2  # slow motion: a little change every frame
    shot_a = [scene_a + k * drift for k in range(150)]
    shot_a[::4] = shot_a[1::4][: len(shot_a[::4])]  # repeats (a 0.75x-like pattern): no cut
    shot_b = [scene_b + k * drift for k in range(250)]
    thumbs = np.stack(shot_a + shot_b + shot_a[:40])
    assert longest_shot(thumbs) == slice(150, 400)
    assert longest_shot(np.stack(shot_b)) == slice(0, 250)
