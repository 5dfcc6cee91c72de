"""Mutated media for robustness campaigns: real files with byte flips, cuts, insertions and header-field edits.

    corpus = build_corpus(shared_data, tmp_dir)        # small real media: JPEG, PNG, WebP, MP4 with sound,
                                                       # Matroska without, WAV, MP3 (temp copies, never in place)
    for mutant in mutants(corpus, n=100, seed=1): ...  # deterministic for a given seed

Header-field edits know where the fields that decoders trust sit in each format (PNG chunk lengths and IHDR,
JPEG segment lengths and SOF sizes, ISO-BMFF box sizes and mvhd/mdhd/tkhd/stsz/stco fields, RIFF/WAVE
chunk sizes and fmt fields, MP3 frame headers and ID3 sizes) and set them to values that break naive code:
0, 1, one more or less, the largest values, a random one. bench/fuzz.py runs every media-reading command on
the mutants as subprocesses; tests/cli/test_fuzz_cli.py runs a few hundred in-process.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MUTATIONS = ("flip", "truncate", "insert", "delete", "field")


@dataclass(frozen=True)
class Field:
    offset: int
    size: int  # bytes: 1, 2 or 4
    name: str
    big_endian: bool = True


@dataclass(frozen=True)
class Mutant:
    name: str  # unique within a campaign: "<index>-<seed>-<mutation>"
    seed_name: str  # the corpus file it was made from ("talk.mp4")
    mutation: str  # one of MUTATIONS
    detail: str  # what was changed, to reproduce it by hand
    data: bytes

    @property
    def suffix(self) -> str:
        return Path(self.seed_name).suffix


# ---------------------------------------------------------------- byte-level mutations


def flip(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    count = rng.choice((1, 2, 4, 16, 64))
    where = sorted(rng.randrange(len(out)) for _ in range(count))
    for pos in where:
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out), f"{count} bit(s) flipped from byte {where[0]}"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    keep = rng.choice((rng.randrange(1, len(data)), len(data) - rng.randrange(1, min(len(data), 64) + 1)))
    keep = max(1, min(keep, len(data) - 1))
    return data[:keep], f"cut to {keep} of {len(data)} bytes ({100.0 * keep / len(data):.1f} %)"


def insert(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    pos = rng.randrange(len(data) + 1)
    size = rng.choice((1, 4, 16, 256, 4096))
    filler = rng.choice((b"\x00", b"\xff", None))
    chunk = filler * size if filler else bytes(rng.randrange(256) for _ in range(size))
    return data[:pos] + chunk + data[pos:], f"{size} byte(s) inserted at {pos}"


def delete(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    pos = rng.randrange(len(data))
    size = min(rng.choice((1, 4, 16, 256, 4096)), len(data) - pos - 1 or 1)
    return data[:pos] + data[pos + size :], f"{size} byte(s) deleted at {pos}"


def edit_field(data: bytes, rng: random.Random, fmt: str) -> tuple[bytes, str]:
    fields = header_fields(data, fmt) or _generic_fields(data)
    field = rng.choice(fields)
    out = bytearray(data)
    order = ">" if field.big_endian else "<"
    code = {1: "B", 2: "H", 4: "I"}[field.size]
    (old,) = struct.unpack_from(order + code, out, field.offset)
    top = (1 << (8 * field.size)) - 1
    new = rng.choice((0, 1, max(old - 1, 0), min(old + 1, top), top, top >> 1, min(old * 16, top),
                      rng.randrange(top + 1)))  # fmt: skip
    struct.pack_into(order + code, out, field.offset, new)
    return bytes(out), f"{field.name} at {field.offset}: {old} -> {new}"


def mutate(data: bytes, mutation: str, rng: random.Random, fmt: str) -> tuple[bytes, str]:
    if mutation == "field":
        return edit_field(data, rng, fmt)
    return {"flip": flip, "truncate": truncate, "insert": insert, "delete": delete}[mutation](data, rng)


def mutants(corpus: dict[str, Path], n: int, seed: int = 0) -> Iterator[Mutant]:
    """`n` mutants, cycling through the corpus files and the mutations; the same seed gives the same bytes."""
    rng = random.Random(seed)
    names = sorted(corpus)
    blobs = {name: corpus[name].read_bytes() for name in names}
    for index in range(n):
        name = names[index % len(names)]
        mutation = MUTATIONS[(index // len(names)) % len(MUTATIONS)]
        data, detail = mutate(blobs[name], mutation, rng, format_of(name))
        yield Mutant(f"{index:04d}-{Path(name).stem}-{mutation}", name, mutation, detail, data)


def format_of(name: str) -> str:
    return {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "riff", ".wav": "riff", ".mp4": "bmff",
            ".mov": "bmff", ".mkv": "generic", ".mp3": "mp3"}.get(Path(name).suffix.lower(), "generic")  # fmt: skip


# ---------------------------------------------------------------- where the header fields are


def header_fields(data: bytes, fmt: str) -> list[Field]:
    finder = {"png": _png_fields, "jpeg": _jpeg_fields, "bmff": _bmff_fields, "riff": _riff_fields,
              "mp3": _mp3_fields}.get(fmt)  # fmt: skip
    try:
        return finder(data) if finder else []
    except (struct.error, IndexError, ValueError):
        return []


def _generic_fields(data: bytes) -> list[Field]:
    """Any aligned 32-bit word of the first kilobyte (formats without a parser here)."""
    return [Field(offset, 4, "word") for offset in range(0, min(len(data), 1024) - 3, 4)]


def _png_fields(data: bytes) -> list[Field]:
    fields, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        fields.append(Field(pos, 4, f"{kind.decode('latin-1')} length"))
        if kind == b"IHDR" and pos + 21 <= len(data):
            fields += [Field(pos + 8, 4, "IHDR width"), Field(pos + 12, 4, "IHDR height"),
                       Field(pos + 16, 1, "IHDR bit depth"), Field(pos + 17, 1, "IHDR colour type"),
                       Field(pos + 20, 1, "IHDR interlace")]  # fmt: skip
        if kind == b"IEND":
            break
        pos += 12 + length
    return fields


def _jpeg_fields(data: bytes) -> list[Field]:
    fields, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        fields.append(Field(pos + 2, 2, f"segment FF{marker:02X} length"))
        if marker in (0xC0, 0xC1, 0xC2) and pos + 9 <= len(data):  # start of frame: precision, height, width
            fields += [Field(pos + 4, 1, "SOF precision"), Field(pos + 5, 2, "SOF height"),
                       Field(pos + 7, 2, "SOF width"), Field(pos + 9, 1, "SOF components")]  # fmt: skip
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            fields.append(Field(pos + 4, 1, "SOS components"))
            break
        pos += 2 + length
    return fields


_BMFF_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf", b"mvex", b"moof", b"traf"}


def _bmff_fields(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[Field]:
    fields, pos, end = [], start, len(data) if end is None else end
    while pos + 8 <= end and depth < 8:
        size, kind = struct.unpack_from(">I4s", data, pos)
        name = kind.decode("latin-1")
        fields.append(Field(pos, 4, f"{name} box size"))
        if size < 8:
            break
        body = pos + 8
        if kind in _BMFF_CONTAINERS:
            fields += _bmff_fields(data, body, min(pos + size, end), depth + 1)
        elif kind in (b"mvhd", b"mdhd") and data[body] == 0:  # version 0: 32-bit times
            fields += [Field(body + 12, 4, f"{name} timescale"), Field(body + 16, 4, f"{name} duration")]
        elif kind == b"tkhd" and data[body] == 0:
            fields += [Field(body + 20, 4, "tkhd duration"), Field(body + 76, 4, "tkhd width"),
                       Field(body + 80, 4, "tkhd height")]  # fmt: skip
        elif kind in (b"stsz", b"stco", b"stts", b"stsc", b"stss", b"ctts"):
            fields.append(Field(body + (8 if kind == b"stsz" else 4), 4, f"{name} entry count"))
            if kind in (b"stco", b"stsz") and body + 16 <= end:
                fields.append(Field(body + 12, 4, f"{name} first entry"))
        pos += size
    return fields


def _riff_fields(data: bytes) -> list[Field]:
    fields = [Field(4, 4, "RIFF size", big_endian=False)]
    pos = 12
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, pos)
        fields.append(Field(pos + 4, 4, f"{kind.decode('latin-1')} size", big_endian=False))
        if kind == b"fmt " and pos + 24 <= len(data):
            fields += [Field(pos + 8, 2, "fmt format tag", False), Field(pos + 10, 2, "fmt channels", False),
                       Field(pos + 12, 4, "fmt sample rate", False), Field(pos + 16, 4, "fmt byte rate", False),
                       Field(pos + 20, 2, "fmt block align", False), Field(pos + 22, 2, "fmt bits", False)]  # fmt: skip
        if kind in (b"data", b"VP8 ", b"VP8L", b"VP8X"):
            break
        pos += 8 + size + (size & 1)
    return fields


def _mp3_fields(data: bytes) -> list[Field]:
    fields, pos = [], 0
    if data[:3] == b"ID3":
        fields += [Field(6, 2, "ID3 size (high)"), Field(8, 2, "ID3 size (low)"), Field(5, 1, "ID3 flags")]
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        pos = 10 + size
    frames = 0
    while pos + 4 <= len(data) and frames < 8:
        if data[pos] == 0xFF and data[pos + 1] & 0xE0 == 0xE0:
            fields.append(Field(pos, 4, f"MPEG frame header {frames}"))
            frames += 1
            pos += 4
            continue
        pos += 1
    return fields


# ---------------------------------------------------------------- the corpus


CLIP_S = 1.5  # long enough for every video cue to run, short enough that a campaign does many files
CLIP_SIDE = 160


def build_corpus(shared_data: Path, out_dir: Path) -> dict[str, Path]:
    """Small real media in `out_dir` (never written into shared_data): two photos and a PNG crop as they are,
    a WebP made from the crop, 1.5 s of a talking-face clip with its sound (faststart MP4), 1 s of a FaceForensics
    clip without sound (Matroska), and 1.5 s of real speech as WAV and as MP3."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = {}
    for name, source in (("photo.jpg", "dlib_faces/examples/faces/2008_001009.jpg"),
                         ("crop.png", "cnndetection/crops/0_cyclegan_real.png")):  # fmt: skip
        corpus[name] = Path(shutil.copyfile(shared_data / source, out_dir / name))
    corpus["crop.webp"] = _webp(corpus["crop.png"], out_dir / "crop.webp")
    corpus["talk.mp4"] = _clip(shared_data / "liveportrait/assets/examples/driving/d20.mp4", out_dir / "talk.mp4",
                               CLIP_S, with_audio=True)  # fmt: skip
    corpus["silent.mkv"] = _clip(shared_data / "ffpp/original_sequences/youtube/c23/videos/004.mp4",
                                 out_dir / "silent.mkv", 1.0, with_audio=False)  # fmt: skip
    speech = shared_data / "ljspeech_tts/ground_truth/wav/LJ050-0029.wav"  # a real recording, not a TTS one
    corpus["speech.wav"] = _speech(speech, out_dir / "speech.wav", "wav")
    corpus["speech.mp3"] = _speech(speech, out_dir / "speech.mp3", "mp3")
    return corpus


def _webp(png: Path, out: Path) -> Path:
    from PIL import Image

    with Image.open(png) as im:
        im.convert("RGB").save(out, format="WEBP", quality=80)
    return out


def _clip(source: Path, out: Path, seconds: float, with_audio: bool) -> Path:
    import cv2

    from dflab.config import SamplingPolicy
    from dflab.media import load, write_video
    from dflab.media.types import Audio

    media = load(source, policy=SamplingPolicy(all_frames_up_to_s=3600.0, max_side=1280), with_audio=with_audio)
    frames = [cv2.resize(f.rgb, (CLIP_SIDE, CLIP_SIDE), interpolation=cv2.INTER_AREA)
              for f in media.frames if f.time_s < seconds]  # fmt: skip
    audio = None
    if with_audio and media.audio is not None:
        rate = media.audio.sample_rate
        audio = Audio(media.audio.samples[: int(seconds * rate)], rate)
    return write_video(out, frames, media.fps, audio=audio)


def _speech(source: Path, out: Path, fmt: str) -> Path:
    import av
    import numpy as np

    from dflab.media import load_audio

    audio = load_audio(source)
    samples = audio.samples[: int(CLIP_S * audio.sample_rate)]
    with av.open(str(out), "w", format=fmt) as container:
        stream = container.add_stream("pcm_s16le" if fmt == "wav" else "libmp3lame", rate=audio.sample_rate,
                                      layout="mono")  # fmt: skip
        for start in range(0, samples.size, 1152):
            chunk = samples[start : start + 1152]
            pcm = np.clip(chunk * 32767.0, -32768, 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = audio.sample_rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out
