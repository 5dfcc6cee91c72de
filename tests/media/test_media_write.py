"""Writing: H.264 + AAC round trips, atomic outputs, and decoder coverage for other codecs and audio formats."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.errors import UsageError
from dflab.media import load, load_audio, probe, write_image, write_video
from dflab.media.types import Audio


def test_write_video_round_trip_with_audio(tmp_path, synth):
    frames = synth.gradient_frames(50, 160, 120)
    tone = Audio(samples=synth.sine(2.0, 16000), sample_rate=16000)
    out = write_video(tmp_path / "clip.mp4", frames, fps=25, audio=tone)
    media = load(out)
    assert media.media_type == "video" and media.codec == "h264"
    assert len(media.frames) == 50 and media.fps == pytest.approx(25.0)
    assert media.duration_s == pytest.approx(2.0, abs=0.05)
    assert (media.width, media.height) == (160, 120)
    assert [f.time_s for f in media.frames[:3]] == pytest.approx([0.0, 0.04, 0.08])
    assert np.abs(media.frames[20].rgb.astype(int) - frames[20]).mean() < 4  # crf 23 on smooth ramps
    assert media.audio is not None and media.audio.duration_s == pytest.approx(2.0, abs=0.1)
    # The tone survives AAC: its spectrum peaks at 440 Hz.
    spectrum = np.abs(np.fft.rfft(media.audio.samples[4000:20000]))
    assert np.fft.rfftfreq(16000, 1 / 16000)[np.argmax(spectrum)] == pytest.approx(440, abs=2)
    facts = probe(out)
    assert facts["has_audio"] and facts["audio_codec"] == "aac" and facts["frames"] == 50


def test_write_video_fractional_fps_and_odd_size(tmp_path, synth):
    frames = [f[:95, :127] for f in synth.gradient_frames(30, 128, 96)]  # 127x95: cropped to 126x94
    media = load(write_video(tmp_path / "ntsc.mov", frames, fps=29.97))
    assert (media.width, media.height) == (126, 94)
    assert media.fps == pytest.approx(29.97, abs=1e-3) and len(media.frames) == 30
    assert media.audio is None


def test_write_video_from_real_clip(tmp_path, driving):
    source = load(driving / "d20.mp4")
    first = source.frames[:40]
    out = write_video(tmp_path / "copy.mp4", (f.rgb for f in first), fps=source.fps, audio=source.audio)
    copy = load(out)
    assert len(copy.frames) == 40 and copy.fps == pytest.approx(25.0)
    assert np.abs(copy.frames[10].rgb.astype(int) - first[10].rgb).mean() < 6
    assert copy.audio is not None and copy.audio.duration_s == pytest.approx(source.audio.duration_s, abs=0.1)


def test_writes_are_atomic(tmp_path, synth):
    def frames_then_failure():
        yield from synth.gradient_frames(5)
        raise RuntimeError("the producer failed")

    target = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError):
        write_video(target, frames_then_failure(), fps=10)
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file is left
    with pytest.raises(UsageError, match="first was"):
        write_video(target, [np.zeros((8, 8, 3), np.uint8), np.zeros((10, 8, 3), np.uint8)], fps=10)
    assert list(tmp_path.iterdir()) == []


def test_write_argument_errors(tmp_path):
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(UsageError, match="no frames"):
        write_video(tmp_path / "a.mp4", [], fps=10)
    with pytest.raises(UsageError, match="must end in"):
        write_video(tmp_path / "a.gif", [frame], fps=10)
    with pytest.raises(UsageError, match="uint8"):
        write_video(tmp_path / "a.mp4", [frame.astype(np.float32)], fps=10)
    with pytest.raises(UsageError, match="fps"):
        write_video(tmp_path / "a.mp4", [frame], fps=0)
    with pytest.raises(UsageError, match="does not exist"):
        write_image(tmp_path / "missing" / "a.png", frame)
    with pytest.raises(UsageError, match="must end in"):
        write_image(tmp_path / "a.tiff", frame)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("codec", "suffix", "decoded_as"),
    [("libx265", ".mp4", "hevc"), ("libvpx-vp9", ".webm", "vp9"), ("libsvtav1", ".mkv", "av1"), ("libx264", ".mkv", "h264")],
)  # fmt: skip
def test_other_codecs_decode(tmp_path, codec, suffix, decoded_as, synth):
    clip = synth.write_codec_clip(tmp_path / f"clip{suffix}", codec, n=12, fps=12)
    media = load(clip)
    assert media.media_type == "video" and media.codec == decoded_as
    assert len(media.frames) == 12 and media.fps == pytest.approx(12.0)
    assert media.frames[0].rgb.shape == (96, 128, 3)
    red = media.frames[0].rgb[:, :, 0].astype(int)
    assert red[:, -10:].mean() - red[:, :10].mean() > 150  # the left-to-right ramp survived
    assert np.all(np.diff([f.time_s for f in media.frames]) > 0)


@pytest.mark.parametrize(
    ("codec", "name", "fmt"),
    [("pcm_s16le", "a.wav", None), ("flac", "a.flac", None), ("libmp3lame", "a.mp3", None),
     ("aac", "a.m4a", "ipod"), ("libopus", "a.ogg", "ogg")],
)  # fmt: skip
def test_audio_only_formats(tmp_path, codec, name, fmt, synth):
    rate = 48000 if codec == "libopus" else 22050
    path = synth.write_audio_only(tmp_path / name, codec, seconds=1.0, rate=rate, fmt=fmt)
    media = load(path)
    assert media.media_type == "audio" and media.frames == [] and media.width == 0
    assert media.audio.sample_rate == 16000 and media.audio.samples.dtype == np.float32
    assert media.audio.duration_s == pytest.approx(1.0, abs=0.08)
    assert probe(path)["type"] == "audio"
    spectrum = np.abs(np.fft.rfft(media.audio.samples[2000:14000]))
    assert np.fft.rfftfreq(12000, 1 / 16000)[np.argmax(spectrum)] == pytest.approx(440, abs=3)


def test_real_speech_files(shared_data):
    flac = next((shared_data / "librispeech").rglob("*.flac"))
    wav = next((shared_data / "ljspeech_tts").rglob("*.wav"))
    for path in (flac, wav):
        audio = load_audio(path)
        assert audio.sample_rate == 16000 and audio.duration_s > 0.5
        assert np.abs(audio.samples).max() <= 1.0 and np.sqrt(np.mean(audio.samples**2)) > 0.005
    assert load_audio(flac, sample_rate=8000).sample_rate == 8000
