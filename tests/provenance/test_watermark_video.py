"""dflab-v1 on a real talking-head clip: every frame marked, audio copied, payload back after CRF 28 + 50 % downscale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dflab.provenance.watermark import detect_file, embed_file, psnr
from dflab.provenance.watermark.attacks import reencode_video

PAYLOAD = bytes.fromhex("df0100000000abcd")
CLIP = "liveportrait/assets/examples/driving/d3.mp4"  # 512x512, 30 fps, AAC audio


def _excerpt(src: Path, dst: Path, seconds: float) -> None:
    """The first `seconds` of a real clip, packets copied (no re-encode) so the test input is the real media."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        vout, aout = out.add_stream_from_template(vin), out.add_stream_from_template(ain)
        for packet in inp.demux(vin, ain):
            if packet.dts is None or packet.pts is None or float(packet.pts * packet.time_base) > seconds:
                continue
            packet.stream = vout if packet.stream is vin else aout
            out.mux(packet)


def _frames(path: Path, n: int) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), c.decode(video=0))]


def _audio_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


@pytest.fixture(scope="module")
def clip(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("wm_video")
    src = folder / "clip.mp4"
    _excerpt(shared_data / CLIP, src, 3.0)
    out = folder / "marked.mp4"
    summary = embed_file(src, out, PAYLOAD)
    return src, out, summary


def test_video_embed_keeps_frames_and_audio(clip):
    src, out, summary = clip
    assert summary["media_type"] == "video" and summary["audio"] == "copied"
    assert summary["frames"] >= 85
    assert _audio_packets(out) == _audio_packets(src)  # bit-identical sound
    assert summary["mark_psnr_db"] >= 40.0  # the mark alone, every frame
    before, after = _frames(src, 10), _frames(out, 10)
    values = [psnr(a, b) for a, b in zip(before, after)]
    assert min(values) >= 38.5, values  # mark + our CRF 18 H.264 encode, measured on decoded RGB


def test_video_payload_round_trip(clip):
    _, out, _ = clip
    result = detect_file(out)
    assert result.detected and result.payload == PAYLOAD
    assert result.media_type == "video" and result.frames_used >= 85


def test_video_survives_crf28_half_size(clip, tmp_path):
    _, out, _ = clip
    attacked = tmp_path / "attacked.mp4"
    reencode_video(str(out), str(attacked), crf=28, scale=0.5)
    result = detect_file(attacked)
    assert result.detected, f"sync z {result.sync_z:.2f}"
    assert result.payload == PAYLOAD


def test_unmarked_clip_is_rejected(clip):
    src, _, _ = clip
    result = detect_file(src)
    assert not result.detected and result.payload is None
