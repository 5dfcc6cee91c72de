"""Fixtures for the media tests: paths into the real data set, and `synth`, helpers that make small media.

Helpers are handed out through a fixture (not imported) so the tests work under any pytest import mode.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="session")
def ffpp_videos(shared_data: Path) -> Path:
    return shared_data / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos"


@pytest.fixture(scope="session")
def driving(shared_data: Path) -> Path:
    return shared_data / "liveportrait" / "assets" / "examples" / "driving"


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    return SimpleNamespace(
        png_declaring=png_declaring,
        sine=sine,
        write_audio_only=write_audio_only,
        gradient_frames=gradient_frames,
        write_codec_clip=write_codec_clip,
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with a valid CRC (so only our size check can refuse it)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")


def sine(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio_only(path: Path, codec: str, seconds: float = 1.0, rate: int = 16000, fmt: str | None = None) -> Path:
    """An audio-only file made with PyAV (e.g. an mp4 with just an AAC stream)."""
    import av

    samples = sine(seconds, rate)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        sample_fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, samples.size, frame_size):
            chunk = samples[start : start + frame_size]
            if sample_fmt.startswith("s16"):
                data = (chunk * 32767).astype(np.int16)[None, :]
            elif sample_fmt.startswith("s32"):
                data = (chunk * 2147483647.0).astype(np.int32)[None, :]
            else:
                data = chunk[None, :].copy()
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=sample_fmt, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def gradient_frames(n: int, width: int = 128, height: int = 96) -> list[np.ndarray]:
    """Frames whose left/right and top/bottom differ (orientation is checkable) and whose content changes."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(n):
        r = (x * 255 // width).astype(np.uint8)
        g = (y * 255 // height).astype(np.uint8)
        b = np.full_like(r, (i * 9) % 256)
        frames.append(np.stack([r, g, b], axis=-1))
    return frames


def write_codec_clip(path: Path, codec: str, n: int = 12, fps: int = 12, width: int = 128, height: int = 96) -> Path:
    """A tiny clip in any codec PyAV can encode (H.265, VP9, AV1 ...), for decoder coverage."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, rgb in enumerate(gradient_frames(n, width, height)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
