"""Whether a JPEG, PNG or WebP file is whole: the markers a file cut short loses.

Pillow refuses most cut images ("image file is truncated"), but not all: it decodes a JPEG missing its
end-of-image marker and a PNG missing its last 22 bytes (the IDAT checksum and IEND) as if nothing were
wrong. These checks read only the file's structure, never pixels.
"""

from __future__ import annotations

import struct
from pathlib import Path

_JPEG_SOS = b"\xff\xda"  # start of scan: the compressed picture follows
_JPEG_EOI = b"\xff\xd9"  # end of image
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_CHUNKS = 1_000_000  # a real PNG has tens; a hostile one must not loop for long


def cut_short(path: Path, fmt: str) -> str:
    """Why the image looks cut short, or "" when its structure is whole. fmt: "jpeg" | "png" | "webp"."""
    with open(path, "rb") as fh:
        if fmt == "jpeg":
            return _jpeg(fh.read())
        if fmt == "png":
            return _png(fh, path.stat().st_size)
        if fmt == "webp":
            return _webp(fh, path.stat().st_size)
    return ""


def _jpeg(data: bytes) -> str:
    """The header segments must have possible lengths, and the last scan must be followed by an end-of-image
    marker. Data appended after it (camera trailers, multi-picture extensions) is allowed; the compressed data
    itself can never contain FF D9."""
    damaged = _jpeg_header_problem(data)
    if damaged:
        return damaged
    last_scan = data.rfind(_JPEG_SOS)
    if last_scan < 0:
        return "the JPEG has no image data (no start-of-scan marker)"
    if data.find(_JPEG_EOI, last_scan) < 0:
        return "the JPEG ends before its end-of-image marker"
    return ""


def _jpeg_header_problem(data: bytes) -> str:
    """A header segment whose length field is under 2 (the field counts itself): Pillow skips such a segment,
    the C2PA reader (sign, verify) refuses the file. The walk stops at the first scan, or at bytes that are not a
    marker (which decoders skip with a warning, as cameras sometimes write them)."""
    pos = 2  # after the start-of-image marker
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return f"the JPEG's FF{marker:02X} segment at byte {pos:,} declares an impossible length ({length})"
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return ""
        pos += 2 + length
    return ""


def _png(fh, size: int) -> str:
    """Walk the chunks: every chunk must fit in the file, and IEND must come after the image data."""
    if fh.read(8) != _PNG_SIGNATURE:
        return "not a PNG signature"
    seen_data = False
    for _ in range(_PNG_MAX_CHUNKS):
        header = fh.read(8)
        if len(header) < 8:
            return "the PNG ends before its IEND chunk"
        length, kind = struct.unpack(">I4s", header)
        chunk_end = fh.tell() + length + 4  # the data and its CRC
        if chunk_end > size:
            return f"the PNG ends inside its {kind.decode('latin-1', 'replace')} chunk"
        if kind == b"IEND":
            return "" if seen_data else "the PNG has no image data (no IDAT chunk)"
        seen_data = seen_data or kind == b"IDAT"
        fh.seek(chunk_end)
    return "the PNG has too many chunks"


def _webp(fh, size: int) -> str:
    """The RIFF header declares the file's length; a cut file is shorter."""
    head = fh.read(12)
    if len(head) < 12:
        return "the WebP ends inside its header"
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if size < declared:
        return f"the WebP is {size:,} bytes of the {declared:,} its header declares"
    return ""
