"""Recognise a file by its first bytes, never by its name: a mislabelled file must not pick the decoder."""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 64

# Image formats Pillow decodes for us; everything else goes to the PyAV probe.
_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
)
# Recognised as images but not decoded (the message says so instead of "not recognised").
_OTHER_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"BM", 0, "bmp"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"\x00\x00\x00\x0cjP  ", 0, "jpeg2000"),
)

SUPPORTED_IMAGE_FORMATS = ("jpeg", "png", "webp")


def read_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def image_format(head: bytes) -> str | None:
    """'jpeg', 'png' or 'webp' when the bytes start like one of the images we decode, else None."""
    for magic, offset, name in _IMAGE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def other_image_format(head: bytes) -> str | None:
    """An image format we recognise but do not decode (GIF, BMP, TIFF, JPEG 2000)."""
    for magic, offset, name in _OTHER_IMAGE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def container_hint(head: bytes) -> str | None:
    """A human name for the audio/video container the bytes start like (for error messages only)."""
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "an MP4/MOV file"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a Matroska/WebM file"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "a WAV file" if head[8:12] == b"WAVE" else "an AVI file"
    if head[:4] == b"fLaC":
        return "a FLAC file"
    if head[:4] == b"OggS":
        return "an Ogg file"
    if head[:3] == b"ID3":
        return "an MP3 file"
    return None
