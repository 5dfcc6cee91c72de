"""The open-and-check step: whole files pass, files cut short or damaged do not, on real media."""

from __future__ import annotations

import glob
import random
from pathlib import Path

import numpy as np
import pytest

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, DflabError, LimitExceeded, PartialMedia, Unsupported
from dflab.media import load, load_audio, load_image_rgb
from dflab.media.check import check_media
from dflab.media.completeness import StreamReach, combine, judge
from dflab.media.image_end import cut_short

SMALL = SamplingPolicy(max_side=64)
AV_SUFFIXES = (".wav", ".flac", ".mp3", ".mp4", ".mov", ".m4a", ".avi")


def _cut(tmp_path: Path, source: Path, keep: int, name: str | None = None) -> Path:
    out = tmp_path / (name or f"cut{keep}{source.suffix}")
    out.write_bytes(source.read_bytes()[:keep])
    return out


# ---------------------------------------------------------------- the rule itself (pure)


def test_judge_allows_two_frames_and_a_half_of_slack():
    frame = 1 / 25
    assert judge([StreamReach("video", 7.0, 7.0 - 2.4 * frame, frame)]).complete
    short = judge([StreamReach("video", 7.0, 7.0 - 2.6 * frame, frame)])
    assert not short.complete and "6.90 s of its declared 7.00 s" in short.reason
    assert judge([StreamReach("audio", None, 1.0, 0.01)]).complete  # nothing declared: nothing to fall short of
    assert not judge([StreamReach("video", None, 1.0, frame)], damage="3 packets").complete
    track = judge([StreamReach("video", 7.0, 7.0, frame), StreamReach("audio", 7.0, 3.0, 0.023)])
    assert not track.complete and "audio track" in track.reason and track.decoded_duration_s == 7.0


def test_combine_keeps_the_shorter_reach_and_every_reason():
    whole = judge([StreamReach("video", 7.0, 7.0, 0.04)])
    cut = judge([StreamReach("video", 7.0, 3.0, 0.04)], damage="a packet")
    both = combine(whole, cut)
    assert not both.complete and both.decoded_duration_s == 3.0 and both.declared_duration_s == 7.0
    assert "a packet" in both.reason and both.to_json() == {"complete": False, "decoded_duration_s": 3.0,
                                                              "declared_duration_s": 7.0}  # fmt: skip


# ---------------------------------------------------------------- real media


def test_no_real_audio_or_video_file_is_partial(shared_data):
    """All 365 audio and video files of the development data read whole (packets only: the decode of each
    was checked when the slack was chosen, see completeness.py)."""
    files = [Path(p) for p in glob.glob(str(shared_data / "**" / "*"), recursive=True) if p.lower().endswith(AV_SUFFIXES)]
    assert len(files) >= 300
    partial = []
    for path in files:
        try:
            checked = check_media(path, decode=False)
        except PartialMedia as exc:
            partial.append(str(exc))
        except DflabError:
            continue  # not decodable at all (a DASH init segment): another rule's business
        else:
            assert checked.completeness.complete
    assert partial == []


def test_an_edited_video_whose_audio_timestamps_jump_is_whole_and_in_step(tmp_path, shared_data, ffmpeg):
    """ffmpeg -stream_loop joins leave 48 ms jumps in the audio timestamps (two of them here, more than the
    slack); players fill them with silence, and so does the decoder, so the file is whole and the sound keeps
    its place beside the pictures."""
    from dflab.media.audio import AudioChunks

    looped = tmp_path / "looped.mp4"
    ffmpeg("-stream_loop", "2", "-i", shared_data / "liveportrait/assets/examples/driving/d20.mp4", "-c:v", "copy",
           "-c:a", "aac", looped)
    chunks = AudioChunks(looped)
    samples = np.concatenate(list(chunks))
    assert chunks.gaps_filled_s == pytest.approx(0.096, abs=0.01)
    media = load(looped, policy=SMALL)
    assert media.meta["complete"] and media.audio.duration_s == pytest.approx(samples.size / 16_000)
    declared = media.meta["declared_duration_s"]
    assert abs(media.audio.duration_s - declared) < 0.05


def test_real_pictures_are_whole(shared_data):
    pictures = sorted(glob.glob(str(shared_data / "faces" / "**" / "*.jpg"), recursive=True))[:300]
    pictures += sorted(glob.glob(str(shared_data / "cnndetection" / "**" / "*.png"), recursive=True))[:100]
    assert len(pictures) >= 300
    assert [p for p in pictures if cut_short(Path(p), "jpeg" if p.endswith(".jpg") else "png")] == []


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.5, 0.9, 0.995])
def test_cut_faststart_video_is_partial_everywhere(tmp_path, driving, fraction):
    source = driving / "d20.mp4"  # index first: every cut still opens
    cut = _cut(tmp_path, source, int(source.stat().st_size * fraction))
    for read in (lambda: load(cut, policy=SMALL), lambda: check_media(cut), lambda: load_audio(cut),
                 lambda: check_media(cut, decode=False)):  # fmt: skip
        with pytest.raises(PartialMedia, match=r"truncated or damaged: only \d+\.\d\d s of its (audio track's )?declared 7\.0"):
            read()


@pytest.mark.parametrize("removed", [1, 100, 2000])
def test_a_few_bytes_off_the_end_of_a_video_are_found(tmp_path, driving, removed):
    source = driving / "d20.mp4"
    cut = _cut(tmp_path, source, source.stat().st_size - removed)
    with pytest.raises(PartialMedia):
        load(cut, policy=SMALL)


def test_allow_partial_reads_what_decodes_and_says_so(tmp_path, driving):
    source = driving / "d20.mp4"
    cut = _cut(tmp_path, source, source.stat().st_size // 4)
    media = load(cut, policy=SMALL, limits=Limits(allow_partial=True))
    assert media.meta["complete"] is False and media.meta["declared_duration_s"] == pytest.approx(7.0)
    assert 0.5 < media.meta["decoded_duration_s"] < 3.0
    assert check_media(cut, Limits(allow_partial=True)).completeness.complete is False
    whole = load(source, policy=SMALL)
    assert whole.meta["complete"] is True and whole.meta["decoded_duration_s"] == pytest.approx(7.0, abs=0.05)


def test_damage_in_the_middle_is_partial(tmp_path, driving):
    """Random bytes over 3 kB in the middle of the media data: the container still reads to the end, but the
    decoder refuses packets."""
    data = bytearray((driving / "d20.mp4").read_bytes())
    rng = random.Random(1)
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes(rng.randrange(256) for _ in range(3000))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    check_media(damaged, decode=False)  # the packets are all there
    with pytest.raises(PartialMedia, match="packet"):
        check_media(damaged)
    with pytest.raises(PartialMedia, match="packet"):
        load(damaged, policy=SMALL)
    assert load(damaged, policy=SMALL, limits=Limits(allow_partial=True)).meta["complete"] is False


@pytest.mark.parametrize("name", ["flac", "wav", "mp3"])
def test_cut_audio_is_partial(tmp_path, shared_data, name):
    source = {
        "flac": sorted((shared_data / "librispeech").rglob("*.flac"))[0],
        "wav": shared_data / "ljspeech_tts" / "ground_truth" / "wav" / "LJ050-0029.wav",  # header says 4.73 s
        "mp3": shared_data / "cloned_voices" / "real" / "train_daws" / "3.mp3",  # has a Xing/Info header
    }[name]
    cut = _cut(tmp_path, source, source.stat().st_size // 2)
    with pytest.raises(PartialMedia, match="truncated or damaged"):
        load_audio(cut)
    with pytest.raises(PartialMedia):
        load(cut)
    assert load(cut, limits=Limits(allow_partial=True)).meta["complete"] is False
    assert load(source).meta["complete"] is True


@pytest.mark.parametrize("removed", [1, 2, 4, 12, 200])
def test_cut_pictures_are_refused_even_with_allow_partial(tmp_path, shared_data, removed):
    for source in (shared_data / "dlib_faces" / "examples" / "faces" / "2008_001009.jpg",
                   shared_data / "cnndetection" / "crops" / "0_cyclegan_real.png"):  # fmt: skip
        cut = _cut(tmp_path, source, source.stat().st_size - removed, f"cut{removed}{source.suffix}")
        for limits in (Limits(), Limits(allow_partial=True)):
            for read in (load, load_image_rgb, check_media):
                with pytest.raises(BadMedia):
                    read(cut, limits=limits)


def test_cut_webp_is_refused(tmp_path):
    from PIL import Image

    whole = tmp_path / "p.webp"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(whole, quality=90)
    assert check_media(whole).media_type == "image"
    with pytest.raises(PartialMedia, match="WebP"):
        load(_cut(tmp_path, whole, whole.stat().st_size - 3))


def test_one_minimum_size_for_pictures_and_video(tmp_path):
    from PIL import Image

    from dflab.media import write_video

    for side, ok in ((1, False), (15, False), (16, True)):
        picture = tmp_path / f"s{side}.png"
        Image.new("RGB", (side, 40), (120, 80, 40)).save(picture)
        for read in (load, load_image_rgb, check_media):
            if ok:
                read(picture)
            else:
                with pytest.raises(Unsupported, match=f"{side}x40 pixels, smaller than the minimum of 16x16"):
                    read(picture)

    clip = write_video(tmp_path / "thin.mp4", [np.full((8, 64, 3), 90, np.uint8)] * 5, fps=10)
    with pytest.raises(Unsupported, match="smaller than the minimum"):
        load(clip)
    with pytest.raises(Unsupported, match="smaller than the minimum"):
        check_media(clip)


def test_pixel_bomb_is_refused_in_our_words(tmp_path, synth):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(synth.png_declaring(60000, 60000))  # beyond Pillow's own bomb limit
    for read in (load, load_image_rgb, check_media):
        with pytest.raises(LimitExceeded, match="3,600,000,000 pixels, over the limit of 50,000,000"):
            read(bomb)


def test_sign_also_checks_pictures_dflab_does_not_analyse(tmp_path):
    from PIL import Image

    gif = tmp_path / "a.gif"
    Image.new("RGB", (40, 40)).save(gif)
    with pytest.raises(Unsupported):
        check_media(gif)
    assert check_media(gif, other_images=True).format == "gif"
    tiny = tmp_path / "tiny.gif"
    Image.new("RGB", (4, 4)).save(tiny)
    with pytest.raises(Unsupported, match="minimum"):
        check_media(tiny, other_images=True)


def _edited(tmp_path: Path, source: Path, name: str, edit) -> Path:
    data = bytearray(source.read_bytes())
    edit(data)
    out = tmp_path / name
    out.write_bytes(bytes(data))
    return out


def test_mp4_boxes_must_fit_together(tmp_path, driving):
    """FFmpeg plays all of these; the C2PA reader calls the first five "Bad BMFF", and the last three make
    FFmpeg read packets from the wrong bytes; every dflab command refuses them."""
    import struct

    source = driving / "d20.mp4"

    def more_chunk_offsets_than_the_table_holds(data: bytearray) -> None:
        stco = data.find(b"stco")
        struct.pack_into(">I", data, stco + 8, struct.unpack_from(">I", data, stco + 8)[0] * 16)

    def header_box_one_byte_short(data: bytearray) -> None:
        mdhd = data.find(b"mdhd") - 4
        struct.pack_into(">I", data, mdhd, struct.unpack_from(">I", data, mdhd)[0] - 1)

    def reference_list_one_byte_short(data: bytearray) -> None:  # its url entry now runs past the dref box
        dref = data.find(b"dref") - 4
        struct.pack_into(">I", data, dref, struct.unpack_from(">I", data, dref)[0] - 1)

    def chunk_map_names_a_missing_description(data: bytearray) -> None:  # fuzz mutant 3016 did this by one bit
        stsc = data.find(b"stsc")
        struct.pack_into(">I", data, stsc + 20, 9)

    def size_table_one_sample_short(data: bytearray) -> None:
        stsz = data.find(b"stsz")
        struct.pack_into(">I", data, stsz + 12, struct.unpack_from(">I", data, stsz + 12)[0] - 1)

    def time_table_one_sample_long(data: bytearray) -> None:
        stts = data.find(b"stts")
        struct.pack_into(">I", data, stts + 12, struct.unpack_from(">I", data, stts + 12)[0] + 1)

    def metadata_box_runs_past_its_parent(data: bytearray) -> None:  # fuzz mutant 3884 (seed 7)
        meta = data.find(b"meta") - 4
        struct.pack_into(">I", data, meta, struct.unpack_from(">I", data, meta)[0] * 16)

    def sample_group_table_one_byte_short(data: bytearray) -> None:  # fuzz mutant 9204 (seed 7)
        sbgp = data.find(b"sbgp") - 4
        struct.pack_into(">I", data, sbgp, struct.unpack_from(">I", data, sbgp)[0] - 1)

    for edit, needle in ((more_chunk_offsets_than_the_table_holds, "stco table counts"),
                         (sample_group_table_one_byte_short, r"sbgp table counts [\d,]+ entries but holds"),
                         (metadata_box_runs_past_its_parent, r"meta box at byte [\d,]+ runs past the box that holds it"),
                         (header_box_one_byte_short, r"MP4's .* box at byte [\d,]+ declares an impossible size"),
                         (reference_list_one_byte_short, "runs past the box that holds it"),
                         (chunk_map_names_a_missing_description, "names a sample description the track does not have"),
                         (size_table_one_sample_short, r"the chunk map places [\d,]+ samples, the size table lists"),
                         (time_table_one_sample_long, r"the time table times [\d,]+ samples")):  # fmt: skip
        damaged = _edited(tmp_path, source, f"{edit.__name__}.mp4", edit)
        for read in (lambda: check_media(damaged, decode=False), lambda: load(damaged, policy=SMALL)):
            with pytest.raises(PartialMedia, match=needle):
                read()


def test_a_jpeg_header_segment_of_impossible_length_is_refused(tmp_path, shared_data):
    """Fuzz mutant 8185 (seed 7): the APP0 segment's length set to 1. Pillow decodes the picture, the C2PA reader
    (sign, verify) refuses it; the shared check now refuses it for every command."""
    source = next(iter(sorted((shared_data / "faces").rglob("*.jpg"))))
    data = bytearray(source.read_bytes())
    app = data.find(b"\xff\xe0", 2, 64)
    if app < 0:  # no APP0 segment: the first segment after the start-of-image marker
        app = 2
    data[app + 2 : app + 4] = b"\x00\x01"
    broken = tmp_path / "app_length_1.jpg"
    broken.write_bytes(bytes(data))
    assert check_media(source).media_type == "image"
    with pytest.raises(DflabError, match=r"FF[0-9A-F]{2} segment at byte 2 declares an impossible length \(1\)"):
        check_media(broken)


def test_a_wav_is_whole_to_the_sample(tmp_path, shared_data):
    source = shared_data / "ljspeech_tts" / "ground_truth" / "wav" / "LJ050-0029.wav"  # 22.05 kHz, 16-bit mono
    assert load_audio(source).duration_s == pytest.approx(4.732, abs=0.001)
    cut = _cut(tmp_path, source, source.stat().st_size - 40)  # 20 samples, 0.9 ms
    with pytest.raises(PartialMedia, match=r"of its declared 4\.73 s"):
        load_audio(cut)
    with_trailer = bytearray(source.read_bytes()) + b"LIST\x10\x00\x00\x00INFOISFT\x04\x00\x00\x00abc\x00"
    with_trailer[4:8] = (len(with_trailer) - 8).to_bytes(4, "little")
    whole = tmp_path / "trailer.wav"
    whole.write_bytes(bytes(with_trailer))
    assert check_media(whole).completeness.complete
    trailer_cut = _cut(tmp_path, whole, len(with_trailer) - 6, "trailer_cut.wav")  # the samples are all there
    with pytest.raises(PartialMedia, match="RIFF header declares"):
        check_media(trailer_cut)


def test_headers_the_c2pa_reader_refuses_are_refused_everywhere(tmp_path, shared_data):
    """FFmpeg reads a WAV whose RIFF size says "unknown" and an MP3 with garbage before its first frame; the C2PA
    reader (sign, verify) refuses both, so the shared check does too, with one message."""
    wav = shared_data / "ljspeech_tts" / "ground_truth" / "wav" / "LJ050-0029.wav"
    streamed = bytearray(wav.read_bytes())
    streamed[4:8] = b"\xff\xff\xff\xff"
    streamed_wav = tmp_path / "streamed.wav"
    streamed_wav.write_bytes(bytes(streamed))
    mp3 = next(iter(sorted((shared_data / "cloned_voices").rglob("*.mp3"))))
    broken = bytearray(mp3.read_bytes())
    assert broken[:3] == b"ID3"
    broken[2] ^= 0x04  # "ID7"
    broken_mp3 = tmp_path / "broken.mp3"
    broken_mp3.write_bytes(bytes(broken))
    unknown = []
    for size in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"):
        data_unknown = bytearray(wav.read_bytes())
        at = data_unknown.find(b"data")
        data_unknown[at + 4 : at + 8] = size
        unknown.append(tmp_path / f"data_{size.hex()}.wav")
        unknown[-1].write_bytes(bytes(data_unknown))
    for path, needle in ((streamed_wav, "length unknown"), (unknown[0], "data chunk leaves the length unknown"),
                         (unknown[1], "data chunk leaves the length unknown"), (broken_mp3, "neither an ID3 tag nor an MPEG audio frame")):
        for read in (lambda: check_media(path, decode=False), lambda: load_audio(path)):
            with pytest.raises(PartialMedia, match=needle):
                read()
