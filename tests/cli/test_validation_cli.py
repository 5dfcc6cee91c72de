"""Every command that reads media refuses the same bad files, with one line and exit code 2."""

from __future__ import annotations

import json
import os
import struct
import wave
import zlib
from pathlib import Path

import pytest

from dflab.cli.main import main

PHOTO = Path("dlib_faces/examples/faces/2008_001009.jpg")
CLIP = Path("liveportrait/assets/examples/driving/d20.mp4")  # 7 s, index first, with sound


@pytest.fixture
def home(capsys):
    """Signing keys in this test's own DFLAB_HOME (conftest.py gives each test an empty one)."""
    assert main(["keys", "init"]) == 0
    capsys.readouterr()


def _refused(capsys, argv: list[str], *needles: str) -> str:
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, (argv, err)
    assert err.count("\n") == 1 and err.startswith(f"dflab {argv[0]}: error: "), (argv, err)
    for needle in needles:
        assert needle in err, (argv, err)
    return err


def _commands(path: Path, out_dir: Path, original: Path | None = None) -> list[list[str]]:
    """Every media-reading command on `path` (outputs into out_dir)."""
    commands = [
        ["scan", str(path), "--json"],
        ["register", str(path)],
        ["trace", str(path)],
        ["verify", str(path)],
        ["sign", str(path), str(out_dir / f"signed{path.suffix}")],
        ["watermark", "detect", str(path)],
        ["watermark", "embed", str(path), str(out_dir / f"marked{path.suffix}"), "--payload", "00112233445566ff"],
    ]
    if original is not None:
        commands.append(["compare", str(path), "--original", str(original)])
    return commands


def _ledger_size() -> int:
    from dflab.provenance.ledger import open_ledger

    with open_ledger() as ledger:
        return ledger.size


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
def test_cut_video_is_refused_by_every_command(home, shared_data, tmp_path, capsys, fraction):
    source = shared_data / CLIP
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: int(source.stat().st_size * fraction)])
    before = _ledger_size()
    for argv in _commands(cut, tmp_path, original=source):
        _refused(capsys, argv, "is truncated or damaged")
    assert _ledger_size() == before  # neither signed nor registered
    assert not list(tmp_path.glob("signed*")) and not list(tmp_path.glob("marked*"))


def test_allow_partial_where_it_makes_sense(home, shared_data, tmp_path, capsys):
    source = shared_data / CLIP
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 8])
    err = _refused(capsys, ["scan", str(cut)], "--allow-partial")  # the hint, where the option exists
    assert "truncated or damaged" in err
    _refused(capsys, ["sign", str(cut), str(tmp_path / "s.mp4")])
    assert "--allow-partial" not in capsys.readouterr().err
    assert main(["scan", str(cut), "--json", "--allow-partial", "--detectors", "c2pa"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["complete"] is False and line["declared_duration_s"] == pytest.approx(7.0)
    assert 0.2 < line["decoded_duration_s"] < 1.5
    for argv in (["trace", str(cut), "--allow-partial"], ["watermark", "detect", str(cut), "--allow-partial"],
                 ["compare", str(cut), "--original", str(source), "--allow-partial"]):  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_scan_json_says_complete_for_whole_files(shared_data, capsys):
    assert main(["scan", str(shared_data / PHOTO), "--json", "--detectors", "c2pa"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["complete"] is True and line["decoded_duration_s"] == 0.0 and line["declared_duration_s"] == 0.0


def _png(width: int, height: int) -> bytes:
    """A PNG that declares width x height (rows of zeros, compressed: tiny even when huge)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * min((width * 3 + 1) * height, 1 << 20))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_bad_pictures_and_empty_audio_are_refused_alike(home, shared_data, tmp_path, capsys):
    photo = (shared_data / PHOTO).read_bytes()
    cases = {
        "cut_half.jpg": (photo[: len(photo) // 2], "truncated or damaged"),
        "cut_eoi.jpg": (photo[:-2], "end-of-image marker"),  # Pillow alone decodes this one without a word
        "bomb.png": (_png(60000, 60000), "over the limit of 50,000,000"),
        "one.png": (_png(1, 1), "smaller than the minimum of 16x16"),
    }
    for name, (data, needle) in cases.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        for argv in _commands(bad, tmp_path):
            _refused(capsys, argv, needle)
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    for argv in (["scan", str(empty)], ["register", str(empty)], ["trace", str(empty)], ["verify", str(empty)],
                 ["sign", str(empty), str(tmp_path / "signed.wav")]):  # fmt: skip
        _refused(capsys, argv, "empty")
    assert _ledger_size() == 0


def test_16_pixels_is_enough_everywhere(home, tmp_path, capsys):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.new("RGB", (16, 16), (200, 120, 40)).save(small)
    for argv in (["register", str(small)], ["trace", str(small)], ["verify", str(small)],
                 ["sign", str(small), str(tmp_path / "signed.png")], ["watermark", "detect", str(small)],
                 ["scan", str(small), "--detectors", "c2pa"]):  # fmt: skip
        assert main(argv) == 0, (argv, capsys.readouterr().err)


def test_output_that_is_a_directory(home, shared_data, tmp_path, capsys):
    photo = shared_data / PHOTO
    folder = tmp_path / "out.jpg"
    folder.mkdir()
    _refused(capsys, ["watermark", "embed", str(photo), str(folder), "--payload", "00112233445566ff", "--overwrite"],
             "is a directory")  # fmt: skip
    _refused(capsys, ["sign", str(photo), str(folder)], "is a directory")
    assert folder.is_dir() and not list(folder.iterdir())
    reports = tmp_path / "reports"
    (reports / f"{photo.name}.json").mkdir(parents=True)
    _refused(capsys, ["scan", str(photo), "--report", str(reports), "--detectors", "c2pa"], "is a directory")


def test_reports_of_inputs_with_the_same_name_stay_apart(shared_data, tmp_path, capsys, monkeypatch):
    for folder, source in (("a", PHOTO), ("b", Path("face_recognition/examples/obama-240p.jpg"))):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes((shared_data / source).read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "a/x.jpg", "b/x.jpg", "--report", "r", "--json", "--detectors", "c2pa"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(line["report"]).name for line in lines] == ["a__x.jpg.html", "b__x.jpg.html"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["a__x.jpg.html", "a__x.jpg.json",
                                                                  "b__x.jpg.html", "b__x.jpg.json"]  # fmt: skip
    assert json.loads((tmp_path / "r" / "b__x.jpg.json").read_text())["path"] == "b/x.jpg"


def test_trust_file_is_checked_and_named(home, shared_data, tmp_path, capsys):
    from dflab.provenance.keys import keys_dir

    signed = tmp_path / "signed.jpg"
    assert main(["sign", str(shared_data / PHOTO), str(signed)]) == 0
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    err = _refused(capsys, ["verify", str(signed), "--trust", str(garbage)], f"--trust {garbage}", "not a PEM certificate")
    assert "manifest" not in err and "signed.jpg" not in err
    key = keys_dir() / "signer.key.pem"
    _refused(capsys, ["verify", str(signed), "--trust", str(key)], f"--trust {key}", "private key")
    assert main(["verify", str(signed), "--trust", str(keys_dir() / "ca.cert.pem"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["c2pa"]["state"] == "Trusted"


def test_signed_outputs_get_the_mode_of_other_outputs(home, shared_data, tmp_path, capsys):
    old = os.umask(0o022)
    try:
        photo = shared_data / PHOTO
        assert main(["sign", str(photo), str(tmp_path / "signed.jpg")]) == 0
        assert main(["watermark", "embed", str(photo), str(tmp_path / "marked.jpg"), "--payload", "00112233445566ff"]) == 0
    finally:
        os.umask(old)
    modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in ("signed.jpg", "marked.jpg")}
    assert modes == {"signed.jpg": 0o644, "marked.jpg": 0o644}
    capsys.readouterr()


def test_verify_gives_a_signed_file_cut_afterwards_its_manifest_answer(home, shared_data, tmp_path, capsys):
    signed = tmp_path / "signed.jpg"
    assert main(["sign", str(shared_data / PHOTO), str(signed)]) == 0
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(signed.read_bytes()[:-2])  # only the end-of-image marker goes
    capsys.readouterr()
    assert main(["verify", str(cut), "--json"]) == 1  # an answer with problems, not a refusal
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "tampered" and result["media_check"]["passed"] is False
    assert "end-of-image" in result["media_check"]["error"]
    assert any(p.startswith("the media is refused") for p in result["problems"])


def test_commands_agree_on_files_ffmpeg_forgives(home, shared_data, tmp_path, capsys):
    """Files the fuzz campaign found where sign (the C2PA reader) refused what register and scan accepted: a
    WAV cut by 40 bytes, an MP4 whose chunk-offset table counts more entries than it holds, one whose header
    box is a byte short and one whose reference list is, a WAV whose length says "unknown", an MP3 whose ID3 tag
    is garbled. Now every command refuses each, with the same reason."""
    clip = (shared_data / CLIP).read_bytes()
    speech = (shared_data / "ljspeech_tts" / "ground_truth" / "wav" / "LJ050-0029.wav").read_bytes()
    stco, mdhd = clip.find(b"stco"), clip.find(b"mdhd") - 4
    more_offsets = bytearray(clip)
    struct.pack_into(">I", more_offsets, stco + 8, struct.unpack_from(">I", clip, stco + 8)[0] * 16)
    short_box = bytearray(clip)
    struct.pack_into(">I", short_box, mdhd, struct.unpack_from(">I", clip, mdhd)[0] - 1)
    dref = clip.find(b"dref") - 4  # its url entry then runs past the reference list
    short_list = bytearray(clip)
    struct.pack_into(">I", short_list, dref, struct.unpack_from(">I", clip, dref)[0] - 1)
    streamed = bytearray(speech)
    streamed[4:8] = b"\xff\xff\xff\xff"  # a streamed WAV's "length unknown"
    mp3 = bytearray(next(iter(sorted((shared_data / "cloned_voices").rglob("*.mp3")))).read_bytes())
    mp3[2] ^= 0x04  # "ID3" -> "ID7": FFmpeg skips to the first frame, the C2PA reader gives up
    cases = {"cut40.wav": (speech[:-40], "of its declared 4.73 s"),
             "offsets.mp4": (bytes(more_offsets), "stco table counts"),
             "short_box.mp4": (bytes(short_box), "declares an impossible size"),
             "short_list.mp4": (bytes(short_list), "runs past the box that holds it"),
             "streamed.wav": (bytes(streamed), "length unknown"),
             "garbled.mp3": (bytes(mp3), "neither an ID3 tag nor an MPEG audio frame")}  # fmt: skip
    for name, (data, needle) in cases.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        commands = _commands(bad, tmp_path)
        if not name.endswith(".mp4"):  # the watermark is for pictures and video
            commands = [argv for argv in commands if argv[0] != "watermark"]
        for argv in commands:
            _refused(capsys, argv, "is truncated or damaged", needle)
    assert _ledger_size() == 0


def test_verify_reads_the_matroska_the_other_commands_read(shared_data, tmp_path, capsys):
    """C2PA has no place for a manifest in Matroska, but the file is media every other command reads: verify
    answers from the watermark and the registry instead of refusing the format, and refuses a cut copy alike."""
    from dflab.config import SamplingPolicy
    from dflab.media import load, write_video

    frames = [f.rgb for f in load(shared_data / CLIP, policy=SamplingPolicy(max_side=96)).frames[:20]]
    clip = write_video(tmp_path / "clip.mkv", frames, fps=25)
    assert main(["verify", str(clip), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["c2pa"]["state"] == "none" and result["media_check"]["passed"] is True
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    for argv in (["verify", str(cut)], ["scan", str(cut)], ["register", str(cut)]):
        _refused(capsys, argv, "is truncated or damaged")
