"""Every kind of bad input ends in the right DflabError, quickly, with a one-line message."""

from __future__ import annotations

import os
import time

import pytest

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, DflabError, LimitExceeded, NotFound, PartialMedia, Unsupported
from dflab.media import iter_frames, load, load_audio, load_image_rgb, probe

SMALL = SamplingPolicy(max_side=96)  # tests that only count frames keep memory and resize cost tiny


def _refused(path, error: type[DflabError], match: str, **kwargs) -> DflabError:
    start = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        load(path, **kwargs)
    assert time.perf_counter() - start < 10, "refusing bad input must not take long"
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return info.value


def test_missing_path(tmp_path):
    _refused(tmp_path / "nope.mp4", NotFound, "does not exist")
    with pytest.raises(NotFound):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(NotFound):
        load_audio(tmp_path / "nope.wav")


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    _refused(empty, BadMedia, "is empty")


def test_directory_is_not_media(tmp_path):
    _refused(tmp_path, BadMedia, "directory")


def test_text_file_named_jpg(tmp_path):
    text = tmp_path / "photo.jpg"
    text.write_text("this is a note, not a photograph\n" * 10)
    _refused(text, BadMedia, "is not a recognised image, video or audio file")


@pytest.mark.parametrize("keep", ["half", "1KB"])
def test_truncated_mp4_with_index_at_the_end(tmp_path, ffpp_videos, keep):
    # FF++ files keep their moov index after the media data: a cut file has no index at all.
    data = (ffpp_videos / "004.mp4").read_bytes()
    cut = tmp_path / f"cut_{keep}.mp4"
    cut.write_bytes(data[: len(data) // 2] if keep == "half" else data[:1024])
    _refused(cut, BadMedia, "truncated or corrupt")


def test_truncated_faststart_mp4_is_refused_unless_partial_is_allowed(tmp_path, driving):
    # d20.mp4 has its index first: the first half decodes, so only the declared length shows the cut.
    data = (driving / "d20.mp4").read_bytes()
    cut = tmp_path / "d20_half.mp4"
    cut.write_bytes(data[: len(data) // 2])
    _refused(cut, PartialMedia, r"truncated or damaged: only 3\.\d\d s of its declared 7\.00 s", policy=SMALL)
    media = load(cut, policy=SMALL, limits=Limits(allow_partial=True))
    assert media.meta["truncated"] is True and media.meta["complete"] is False
    assert 10 < len(media.frames) < 175
    assert media.duration_s < 7.0 and media.meta["declared_duration_s"] == pytest.approx(7.0)
    assert media.meta["decoded_duration_s"] == pytest.approx(media.duration_s, abs=0.25)


def test_faststart_mp4_cut_before_any_frame(tmp_path, driving):
    data = (driving / "d20.mp4").read_bytes()
    cut = tmp_path / "d20_head.mp4"
    cut.write_bytes(data[:7800])  # the index (bytes 32-7539) and a sliver of the first frame
    _refused(cut, PartialMedia, "truncated or damaged: only 0.0. s of its declared 7.00 s")
    _refused(cut, BadMedia, "no video frame could be decoded", limits=Limits(allow_partial=True))


def test_png_declaring_30000_by_30000(tmp_path, synth):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(synth.png_declaring(30000, 30000))
    assert bomb.stat().st_size < 200
    _refused(bomb, LimitExceeded, "pixels")


def test_png_over_our_pixel_limit_but_under_pillows(tmp_path, synth):
    big = tmp_path / "big.png"
    big.write_bytes(synth.png_declaring(8000, 8000))  # 64 Mpx: Pillow would only warn; our 50 Mpx limit refuses
    _refused(big, LimitExceeded, "over the limit")
    _refused(big, LimitExceeded, "over the limit", limits=Limits(max_pixels=1000))


def test_video_over_pixel_duration_and_size_limits(driving):
    clip = driving / "d20.mp4"  # 480x480, 7 s, 462 kB
    _refused(clip, LimitExceeded, "pixels", limits=Limits(max_pixels=480 * 480 - 1))
    _refused(clip, LimitExceeded, "lasts 7.0 s", limits=Limits(max_duration_s=5))
    _refused(clip, LimitExceeded, "bytes", limits=Limits(max_file_bytes=100_000))


def test_mp4_with_only_audio(tmp_path, synth):
    only_audio = synth.write_audio_only(tmp_path / "voice.mp4", "aac", seconds=1.5)
    media = load(only_audio)
    assert media.media_type == "audio" and media.frames == []
    assert media.audio is not None and media.audio.duration_s == pytest.approx(1.5, abs=0.1)
    _refused(only_audio, Unsupported, "has no video stream", require_video=True)
    with pytest.raises(Unsupported, match="no video stream"):
        list(iter_frames(only_audio))


def test_unsupported_image_format(tmp_path):
    from PIL import Image

    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif)
    _refused(gif, Unsupported, "GIF")


def test_load_audio_of_video_without_audio(ffpp_videos):
    with pytest.raises(Unsupported, match="no audio stream"):
        load_audio(ffpp_videos / "004.mp4")


def test_load_image_rgb_refuses_video(driving):
    with pytest.raises(Unsupported):
        load_image_rgb(driving / "d20.mp4")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    _refused(fifo, BadMedia, "not a regular file")


def test_corrupt_jpeg_body(tmp_path, shared_data):
    data = (shared_data / "dlib_faces" / "examples" / "faces" / "2008_001009.jpg").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(data[: len(data) // 3])  # header intact, most of the scan missing
    _refused(broken, PartialMedia, "the JPEG ends before its end-of-image marker")
    _refused(broken, PartialMedia, "end-of-image", limits=Limits(allow_partial=True))  # a cut picture never passes


def test_header_table_too_large_to_allocate(shared_data, tmp_path, capsys):
    """An stts entry count of 2^31-1 makes FFmpeg's demuxer fail with ENOMEM (found by bench/fuzz.py --door):
    every reader refuses it with LimitExceeded, and the CLI with one line and exit 2, never a MemoryError."""
    from dflab.cli.main import main

    data = (shared_data / "liveportrait/assets/examples/driving/d3.mp4").read_bytes()
    at = data.find(b"stts") + 8  # box type, then version/flags (4 bytes), then the entry count
    bad = tmp_path / "huge_stts.mp4"
    bad.write_bytes(data[:at] + (0x7FFFFFFF).to_bytes(4, "big") + data[at + 4 :])
    for read in (probe, load, load_audio, lambda p: load(p, keep_frames=False), lambda p: list(iter_frames(p))):
        with pytest.raises(LimitExceeded, match="more memory than is available"):
            read(bad)
    assert main(["scan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more memory" in err and "Traceback" not in err
