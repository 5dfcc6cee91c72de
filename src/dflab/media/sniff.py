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


# The MIME type of every container dflab reads or verifies, by its first bytes (offset, magic, MIME type).
_MEDIA_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF8", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"%PDF-", "application/pdf"),  # C2PA-signed documents (read for the manifest only)
    (4, b"ftyp", "video/mp4"),  # MP4, MOV, M4A, HEIC, AVIF, fragmented MP4 (ISO BMFF)
    (4, b"styp", "video/mp4"),  # a DASH media segment
    (4, b"moov", "video/quicktime"),
    (4, b"mdat", "video/quicktime"),
    (4, b"wide", "video/quicktime"),
    (0, b"\x1a\x45\xdf\xa3", "video/x-matroska"),  # also WebM
    (0, b"OggS", "audio/ogg"),
)
_RIFF_MIME = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}
# Human names of the audio/video containers, for error messages.
_CONTAINER_NAMES = {"video/mp4": "an MP4/MOV file", "video/quicktime": "an MP4/MOV file",
                    "video/x-matroska": "a Matroska/WebM file", "video/x-msvideo": "an AVI file",
                    "audio/wav": "a WAV file", "audio/flac": "a FLAC file", "audio/ogg": "an Ogg file",
                    "audio/mpeg": "an MP3 file"}  # fmt: skip


def mime_type(head: bytes) -> str | None:
    """The MIME type of the container the bytes start like, or None."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_MIME:
        return _RIFF_MIME[head[8:12]]
    for offset, magic, mime in _MEDIA_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return "audio/mpeg"  # a bare MPEG audio frame sync
    return None


def container_hint(head: bytes) -> str | None:
    """A human name for the audio/video container the bytes start like (for error messages only)."""
    if head[4:8] == b"free":  # a QuickTime file may open with free space
        return "an MP4/MOV file"
    return _CONTAINER_NAMES.get(mime_type(head) or "")
