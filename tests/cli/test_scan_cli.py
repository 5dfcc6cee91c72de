"""`dflab scan` end to end: JSON fields, the HTML report, and one clear line + exit 2 on bad input."""

import json
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest


DFLAB = [sys.executable, "-m", "dflab"]


def run(*args, timeout=300):
    return subprocess.run([*DFLAB, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _write_audio_only_mp4(path, samples, rate):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture(scope="module")
def bad_inputs(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("bad")
    real = (shared_data / "ffpp/original_sequences/youtube/c23/videos/634.mp4").read_bytes()
    (out / "truncated.mp4").write_bytes(real[: len(real) // 3])
    (out / "tiny_truncated.mp4").write_bytes(real[:1024])
    (out / "empty.mp4").write_bytes(b"")
    (out / "text.jpg").write_text("this is not a picture\n")
    (out / "huge.png").write_bytes(_png_header_only(30_000, 30_000))
    tone = np.sin(np.arange(16000 * 2) * 2 * np.pi * 440 / 16000).astype(np.float32) * 0.3
    _write_audio_only_mp4(out / "audio_only.mp4", tone, 16000)
    return out


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tiny_truncated.mp4", "truncated"),
        ("empty.mp4", "empty"),
        ("text.jpg", "not a recognised"),
        ("huge.png", "pixels"),
        ("audio_only.mp4", "audio"),
        ("does_not_exist.mp4", "not exist"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(bad_inputs, tmp_path, name, expected):
    report = tmp_path / "report"
    result = run("scan", bad_inputs / name, "--report", report, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip() and not l.startswith(("W0000", "I0000"))]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0].lower() and "Traceback" not in result.stderr
    assert not any(report.glob("*.html")), "nothing half-written"


def test_truncated_video_is_an_error_or_a_partial_scan_never_a_crash(bad_inputs):
    result = run("scan", bad_inputs / "truncated.mp4", "--json", timeout=120)
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr
    if result.returncode == 0:
        assert json.loads(result.stdout)["media_type"] == "video"


def test_scan_json_and_report_on_a_real_clip(shared_data, tmp_path):
    clip = shared_data / "liveportrait/assets/examples/driving/d3.mp4"
    result = run("scan", clip, "--json", "--report", tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("path", "media_type", "score", "verdict", "faces", "evidence", "timings"):
        assert key in record
    assert record["media_type"] == "video" and 0 <= record["score"] <= 1
    assert record["verdict"] in ("authentic", "suspicious", "manipulated")
    assert record["faces"] and {"track_id", "score", "frame_range"} <= set(record["faces"][0])
    names = {e["name"] for e in record["evidence"]}
    assert {"blink", "boundary", "skin_tone", "head_pose", "spectrum", "identity_drift"} <= names
    for e in record["evidence"]:
        assert {"name", "score", "summary", "time_ranges"} <= set(e)
    html = (tmp_path / "d3.mp4.html").read_text()
    assert html.count("<img") >= 3 and "Blinking" in html
    assert json.loads((tmp_path / "d3.mp4.json").read_text())["score"] == record["score"]


def test_image_without_a_face_is_said_so(tmp_path):
    from dflab.media import write_image

    noise = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    write_image(tmp_path / "noise.png", noise)
    result = run("scan", tmp_path / "noise.png", "--json")
    record = json.loads(result.stdout)
    assert result.returncode == 0 and record["faces"] == []
    assert "no face" in record["summary"].lower()
    assert any(e["name"] == "spectrum" and e["confidence"] > 0 for e in record["evidence"])


def test_several_files_one_bad_still_scans_the_rest(shared_data, bad_inputs):
    photo = shared_data / "face_recognition/examples/obama.jpg"
    result = run("scan", bad_inputs / "empty.mp4", photo, "--json")
    assert result.returncode == 2
    lines = [json.loads(l) for l in result.stdout.splitlines()]
    assert "error" in lines[0] and lines[1]["media_type"] == "image"


def test_a_failing_face_stage_stops_the_decoder(shared_data, monkeypatch):
    """If face finding fails mid-video, the decoder thread must stop too (no hang, the error surfaces)."""
    import importlib

    from dflab.detect import scan as scan_module
    from dflab.errors import BadMedia

    analyse_module = importlib.import_module("dflab.faces.analyse")  # the module, not the function

    def failing(frames, *args, **kwargs):
        for i, _ in enumerate(frames):
            if i == 3:
                time.sleep(1.0)  # let the decoder fill its queue and wait to hand over more
                raise BadMedia("frame 3 is broken")
        return []

    monkeypatch.setattr(analyse_module, "analyse_frames", failing)
    with pytest.raises(BadMedia, match="frame 3"):
        scan_module.scan_file(shared_data / "liveportrait/assets/examples/driving/d6.mp4")


def test_face_fps_sets_how_often_faces_are_tracked(shared_data):
    clip = shared_data / "liveportrait/assets/examples/driving/d0.mp4"
    counts = {}
    for rate in ("15", "5"):
        result = run("scan", clip, "--json", "--quiet", "--detectors", "blink", "--face-fps", rate)
        assert result.returncode == 0, result.stderr
        counts[rate] = sum(face["n_frames"] for face in json.loads(result.stdout)["faces"])
    # d0 is 25 fps: every 2nd frame at 15 (12.5 a second), every 4th at 5 (a step less a fifth for jitter, 6.25)
    assert 1.8 <= counts["15"] / counts["5"] <= 2.2
    bad = run("scan", clip, "--face-fps", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
