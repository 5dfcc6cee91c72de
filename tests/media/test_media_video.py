"""Decoding real videos from the shared data set: counts, rates, timestamps, audio, sampling, scaling."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from dflab.config import Limits, SamplingPolicy
from dflab.media import iter_frames, load, probe, write_video

SMALL = SamplingPolicy(max_side=96)  # tests that only count frames keep memory and resize cost tiny


def _assert_monotonic(media) -> None:
    times = np.array([f.time_s for f in media.frames])
    indices = np.array([f.index for f in media.frames])
    assert times[0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(times) > 0)
    assert np.all(np.diff(indices) > 0)


@pytest.mark.parametrize(
    ("name", "width", "height", "frames"),
    [("004.mp4", 1280, 720, 309), ("519.mp4", 640, 480, 751)],
)
def test_ffpp_clip_counts_rate_and_timestamps(ffpp_videos, name, width, height, frames):
    policy = SamplingPolicy(max_side=96, all_frames_up_to_s=60)  # every frame, tiny analysis size
    media = load(ffpp_videos / name, policy=policy)
    assert media.media_type == "video"
    assert (media.width, media.height, media.codec) == (width, height, "h264")
    assert media.fps == pytest.approx(25.0)
    assert len(media.frames) == frames
    assert media.duration_s == pytest.approx(frames / 25.0, abs=0.05)
    assert media.audio is None  # FF++ clips carry no audio
    _assert_monotonic(media)
    # Timestamps come from pts: frame k of a constant 25 fps clip is at k / 25 s.
    assert media.frames[100].time_s == pytest.approx(100 / 25.0, abs=1e-3)
    assert media.frames[0].rgb.shape == (round(height * 96 / width), 96, 3)
    assert media.scale == pytest.approx(96 / width)
    assert media.meta.get("truncated") is not True


def test_ffpp_frames_at_full_size_are_real_pictures(ffpp_videos):
    first = next(iter_frames(ffpp_videos / "004.mp4"))
    assert first.rgb.shape == (720, 1280, 3) and first.rgb.dtype == np.uint8
    assert first.rgb.std() > 20  # a real scene, not a blank or green frame


def test_liveportrait_d6_long_clip_is_sampled_and_has_audio(driving):
    media = load(driving / "d6.mp4", policy=SMALL)
    assert media.fps == pytest.approx(30.0)
    assert media.duration_s == pytest.approx(33.6, abs=0.05)  # 1008 frames at 30 fps
    # Longer than all_frames_up_to_s (20 s), so it is sampled at rate_fps = 10.
    assert len(media.frames) == pytest.approx(336, abs=2)
    assert media.sampled_fps == pytest.approx(10.0, rel=0.02)
    assert media.meta["decoded_frames"] == 1008
    indices = [f.index for f in media.frames]
    assert set(np.diff(indices)) == {3}  # every third source frame
    _assert_monotonic(media)
    assert media.audio is not None
    assert media.audio.sample_rate == 16000 and media.audio.samples.dtype == np.float32
    assert media.audio.duration_s == pytest.approx(33.6, abs=0.1)
    assert 0.01 < float(np.sqrt(np.mean(media.audio.samples**2))) < 0.5  # speech, not silence or clipping


def test_max_analysis_frames_lowers_the_rate(driving):
    media = load(driving / "d6.mp4", policy=SMALL, limits=Limits(max_analysis_frames=50), with_audio=False)
    assert len(media.frames) <= 50
    assert len(media.frames) >= 48
    assert media.frames[-1].time_s > 30.0  # spread over the whole clip, not the first 50 frames
    assert media.sampled_fps == pytest.approx(50 / 33.6, rel=0.05)


def test_short_clip_keeps_every_frame_and_audio(driving):
    media = load(driving / "d20.mp4", policy=SMALL)
    assert len(media.frames) == 175 and media.fps == pytest.approx(25.0)
    assert media.audio is not None and media.audio.duration_s == pytest.approx(7.0, abs=0.1)
    assert load(driving / "d0.mp4", policy=SMALL).audio is None  # d0 has no audio track


def test_stream_start_offset_is_removed(shared_data):
    clip = shared_data / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
    media = load(clip, policy=SMALL, with_audio=False)
    # The video stream starts at pts 10214 (time base 1/11988); times are relative to that start.
    assert media.frames[0].time_s == 0.0
    assert media.fps == pytest.approx(29.97, abs=0.01)
    assert len(media.frames) == 275
    assert media.frames[-1].time_s == pytest.approx(274 / 29.97, abs=0.01)


def test_probe_reads_facts_without_decoding(driving):
    facts = probe(driving / "d6.mp4")
    assert facts["type"] == "video" and facts["codec"] == "h264"
    assert (facts["width"], facts["height"], facts["frames"]) == (480, 480, 1008)
    assert facts["fps"] == pytest.approx(30.0) and facts["duration"] == pytest.approx(33.6, abs=0.05)
    assert facts["has_audio"] is True and facts["audio_codec"] == "aac"
    assert probe(driving / "d0.mp4")["has_audio"] is False


def test_content_decides_not_the_extension(tmp_path, driving):
    disguised = tmp_path / "really_a_video.jpg"
    disguised.write_bytes((driving / "d20.mp4").read_bytes())
    media = load(disguised, policy=SMALL, with_audio=False)
    assert media.media_type == "video" and len(media.frames) == 175


def test_iter_frames_matches_load(driving):
    policy = SamplingPolicy(max_side=64, all_frames_up_to_s=0, rate_fps=5)
    streamed = list(iter_frames(driving / "d20.mp4", policy=policy))
    loaded = load(driving / "d20.mp4", policy=policy, with_audio=False).frames
    assert [f.index for f in streamed] == [f.index for f in loaded]
    assert len(streamed) == 35  # 7 s at 5 fps
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(streamed, loaded, strict=True))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command to tag a rotation")
def test_display_rotation_is_applied(tmp_path, synth):
    plain = write_video(tmp_path / "plain.mp4", synth.gradient_frames(4), 10)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)],
        check=True,
    )  # fmt: skip
    upright = load(rotated)
    assert (upright.width, upright.height) == (96, 128)
    rgb = upright.frames[0].rgb.astype(int)
    assert rgb.shape == (128, 96, 3)
    # The source's red ramp runs left->right; after the 90 degree display turn it runs bottom->top.
    assert rgb[-8:, :, 0].mean() < rgb[:8, :, 0].mean() - 100
    assert upright.meta["rotation_deg"] == 90
    # A streamed load knows the upright (and, here, downscaled) analysis size without decoding a frame again.
    small = SamplingPolicy(max_side=64)
    streamed = load(rotated, policy=small, keep_frames=False)
    try:
        assert streamed.frames.frame_shape == load(rotated, policy=small).frames[0].rgb.shape == (64, 48, 3)
    finally:
        streamed.frames.close()
