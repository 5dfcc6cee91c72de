"""Two mutants that commands once judged differently (bench/fuzz.py, docs/validation.md), made here from real
files: every command now gives the same verdict, through the shared open-and-check step."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dflab.cli.main import main

SPEECH = Path("ljspeech_tts/ground_truth/wav/LJ050-0029.wav")  # a real recording
SILENT_SOURCE = Path("ffpp/original_sequences/youtube/c23/videos/004.mp4")


@pytest.fixture
def home(capsys):
    assert main(["keys", "init"]) == 0
    capsys.readouterr()


def _verdicts(capsys, commands: list[list[str]]) -> dict[str, tuple[int, str]]:
    out = {}
    for argv in commands:
        capsys.readouterr()
        code = main(argv)
        out[" ".join(argv[:2] if argv[0] == "watermark" else argv[:1])] = (code, capsys.readouterr().err)
    return out


def _data_chunk(wav: bytes) -> int:
    """Offset of the data chunk's size field."""
    pos = 12
    while pos + 8 <= len(wav):
        kind, size = struct.unpack_from("<4sI", wav, pos)
        if kind == b"data":
            return pos + 4
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def _short_wav(shared_data, tmp_path) -> tuple[Path, Path]:
    """(1.5 s of real speech as 16-bit WAV, the same with its data size set one byte past the end of the file)."""
    from dflab.eval.fuzz import _speech

    whole = _speech(shared_data / SPEECH, tmp_path / "speech.wav", "wav")
    data = bytearray(whole.read_bytes())
    at = _data_chunk(data)
    held = len(data) - (at + 4)
    assert struct.unpack_from("<I", data, at)[0] == held
    struct.pack_into("<I", data, at, held + 1)  # odd, and one byte more than the file holds
    mutant = tmp_path / "odd.wav"
    mutant.write_bytes(bytes(data))
    return whole, mutant


def test_wav_data_chunk_past_the_end_is_refused_by_every_command(home, shared_data, tmp_path, capsys):
    whole, mutant = _short_wav(shared_data, tmp_path)
    commands = [["scan", str(mutant), "--json"], ["register", str(mutant)], ["trace", str(mutant)],
                ["verify", str(mutant)], ["sign", str(mutant), str(tmp_path / "signed.wav")],
                ["compare", str(mutant), "--original", str(whole)]]  # fmt: skip
    verdicts = _verdicts(capsys, commands)
    for command, (code, err) in verdicts.items():
        if command == "scan":  # scan --json reports the failed file on stdout and exits 2
            assert code == 2, (command, err)
            continue
        assert code == 2 and "its data chunk declares" in err and err.count("\n") == 1, (command, code, err)
    # sign was the one that refused before, with the C2PA reader's own words; scan read the file then
    assert not (tmp_path / "signed.wav").exists()


def test_wav_without_the_pad_byte_after_an_odd_data_chunk_is_whole(shared_data, tmp_path):
    """The data chunk fits the file exactly; only the pad byte after an odd size is missing (a common writer
    habit): the C2PA reader takes it, and so does the check."""
    from dflab.media import check_media

    whole, _ = _short_wav(shared_data, tmp_path)
    data = bytearray(whole.read_bytes())[:-1]
    at = _data_chunk(data)
    struct.pack_into("<I", data, at, len(data) - (at + 4))
    struct.pack_into("<I", data, 4, len(data) - 8)
    path = tmp_path / "nopad.wav"
    path.write_bytes(bytes(data))
    assert check_media(path).completeness.complete


def _flip_key_frame(clip: Path, out: Path) -> Path:
    """A copy of `clip` with one bit flipped inside its first key frame, at the first place (scanning from a
    quarter into the frame) where the decoder reports concealed damage. Deterministic for a given clip."""
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        first = next(p for p in container.demux(stream) if p.is_keyframe and p.size)
        pos, size = int(first.pos), int(first.size)
    data = clip.read_bytes()
    for offset in range(size // 4, size):
        for bit in (6, 3, 0):
            mutated = bytearray(data)
            mutated[pos + offset] ^= 1 << bit
            out.write_bytes(bytes(mutated))
            try:
                with av.open(str(out)) as container:
                    container.streams.video[0].thread_type = "AUTO"  # as dflab decodes
                    if any(frame.is_corrupt for frame in container.decode(video=0)):
                        return out
            except av.error.FFmpegError:
                continue  # a packet the decoder refuses outright: damage every command already refused
    raise AssertionError("no bit of the key frame made the decoder conceal damage")


def test_matroska_with_a_damaged_key_frame_is_refused_by_every_command(home, shared_data, tmp_path, capsys):
    """With frame threads the decoder conceals the damage differently on each decode, so a scan that reads a
    frame again could not find it (scan refused the file, every other command read it). Now the check refuses
    it for all of them."""
    from dflab.eval.fuzz import _clip
    from dflab.media import load

    clip = _clip(shared_data / SILENT_SOURCE, tmp_path / "silent.mkv", 1.0, with_audio=False)
    assert load(clip, keep_frames=False).frames  # the clip itself is whole
    mutant = _flip_key_frame(clip, tmp_path / "flipped.mkv")
    commands = [["scan", str(mutant)], ["register", str(mutant)], ["trace", str(mutant)], ["verify", str(mutant)],
                ["watermark", "detect", str(mutant)], ["compare", str(mutant), "--original", str(clip)]]  # fmt: skip
    for command, (code, err) in _verdicts(capsys, commands).items():
        assert code == 2 and "decode with errors" in err and err.count("\n") == 1, (command, code, err)


PHOTO = Path("dlib_faces/examples/faces/2008_001009.jpg")  # a real photo, 360 pixels wide


def _jpeg_declaring_width(photo: Path, width: int, out: Path) -> Path:
    """A copy of `photo` whose start-of-frame segment declares `width` (the decoder fills the rest in grey)."""
    from dflab.eval.fuzz import header_fields

    data = bytearray(photo.read_bytes())
    (field,) = [f for f in header_fields(bytes(data), "jpeg") if f.name == "SOF width"]
    assert struct.unpack_from(">H", data, field.offset)[0] == 360
    struct.pack_into(">H", data, field.offset, width)
    out.write_bytes(bytes(data))
    return out


def test_jpeg_declaring_a_huge_width_is_read_by_every_command(home, shared_data, tmp_path, capsys):
    """64702 x 480 pixels is within the pixel limit, but on the watermark's detection grid it is 34,500 wide,
    past what OpenCV's warps take: verify and watermark detect ended in a traceback (cv2.error from remap)
    while scan, register, trace and sign read the file. The search now keeps to a central window."""
    mutant = _jpeg_declaring_width(shared_data / PHOTO, 64702, tmp_path / "wide.jpg")
    commands = [["scan", str(mutant), "--json"], ["register", str(mutant)], ["trace", str(mutant)],
                ["verify", str(mutant)], ["sign", str(mutant), str(tmp_path / "signed.jpg")],
                ["watermark", "detect", str(mutant), "--json"]]  # fmt: skip
    for command, (code, err) in _verdicts(capsys, commands).items():
        assert code in ((0, 1) if command == "verify" else (0,)), (command, code, err)  # verify: 1 = no record
    capsys.readouterr()
    assert main(["watermark", "detect", str(mutant), "--json"]) == 0
    assert '"detected": false' in capsys.readouterr().out.replace('"detected":false', '"detected": false')


def test_watermark_is_found_in_the_middle_of_a_very_long_picture(shared_data):
    """The window the search keeps to still holds the mark: a marked photo repeated side by side to
    well past the window's length (the grid is 16x its short side, the picture 40x) is detected."""
    import numpy as np
    from PIL import Image

    from dflab.provenance.watermark import detect_image, embed_image
    from dflab.provenance.watermark.embed import PAYLOAD_BYTES

    with Image.open(shared_data / PHOTO) as im:
        rgb = np.asarray(im.convert("RGB"))
    tiles = -(-40 * rgb.shape[0] // rgb.shape[1])
    long_picture = np.ascontiguousarray(np.concatenate([rgb] * tiles, axis=1))
    payload = bytes(range(PAYLOAD_BYTES))
    marked = embed_image(long_picture, payload)
    found = detect_image(marked)
    assert found.detected and found.payload == payload
