"""Writing media atomically: H.264 + AAC video through PyAV, still images through Pillow.

Outputs appear complete or not at all: everything is written to a temporary file in the target
directory and moved into place with os.replace, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from dflab.errors import UsageError
from dflab.atomic import atomic_output  # noqa: F401  (re-exported: other modules import it from here)
from dflab.media.guards import media_errors
from dflab.media.suffixes import PICTURE_OUTPUTS, VIDEO_OUTPUTS
from dflab.media.types import Audio

_AAC_FRAME = 1024  # samples per AAC frame


def _fps_fraction(fps: float) -> Fraction:
    if not (fps > 0 and np.isfinite(fps)) or fps > 1000:
        raise UsageError(f"fps must be in (0, 1000], got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _check_frame(rgb: np.ndarray, index: int) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise UsageError(f"frame {index} must be an HxWx3 uint8 RGB array, got shape {shape} dtype {dtype}")
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise UsageError(f"frame {index} is too small to encode ({rgb.shape[1]}x{rgb.shape[0]})")
    return rgb


def write_video(
    path: str | Path,
    frames_rgb: Iterable[np.ndarray],
    fps: float,
    audio: Audio | None = None,
    crf: int = 23,
    preset: str = "fast",
) -> Path:
    """Encode RGB frames as H.264 (libx264, yuv420p) with an optional mono AAC track; returns the path.

    Odd widths/heights are cropped by one pixel (4:2:0 needs even sizes). All frames must share the
    size of the first. The container comes from the extension: .mp4/.m4v/.mov/.mkv.
    """
    import av

    path = Path(path)
    container_format = VIDEO_OUTPUTS.get(path.suffix.lower())
    if container_format is None:
        raise UsageError(f"{path}: video output must end in one of {', '.join(VIDEO_OUTPUTS)}")
    if not 0 <= crf <= 51:
        raise UsageError(f"crf must be in [0, 51], got {crf}")
    rate = _fps_fraction(fps)
    iterator = iter(frames_rgb)
    first = next(iterator, None)
    if first is None:
        raise UsageError(f"{path}: no frames to write")
    first = _check_frame(first, 0)
    height, width = first.shape[0] - first.shape[0] % 2, first.shape[1] - first.shape[1] % 2
    options = {"movflags": "+faststart"} if container_format in ("mp4", "mov") else {}
    with atomic_output(path) as tmp:
        with media_errors(path, "open the video output"):
            container = av.open(str(tmp), mode="w", format=container_format, options=options)
        try:
            with media_errors(path, "set up the encoder"):
                video = container.add_stream("libx264", rate=rate)
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                video.options = {"crf": str(int(crf)), "preset": preset}
                has_audio = audio is not None and audio.samples.size > 0
                audio_out = _add_audio_stream(container, audio) if has_audio else None
            # Frames are pulled outside media_errors: a failing producer keeps its own exception.
            for index, rgb in enumerate(_chain(first, iterator)):
                rgb = _check_frame(rgb, index)
                if rgb.shape[:2] != first.shape[:2]:
                    raise UsageError(
                        f"frame {index} is {rgb.shape[1]}x{rgb.shape[0]}, the first was {first.shape[1]}x{first.shape[0]}"
                    )
                with media_errors(path, "encode the video"):
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), format="rgb24")
                    frame.pts = index
                    container.mux(video.encode(frame))
            with media_errors(path, "finish the video"):
                container.mux(video.encode(None))
                if audio_out is not None:
                    _encode_audio(container, audio_out, audio)
                container.close()
        except BaseException:
            with contextlib.suppress(Exception):
                container.close()
            raise
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _add_audio_stream(container, audio: Audio):
    stream = container.add_stream("aac", rate=int(audio.sample_rate), layout="mono")
    stream.bit_rate = 96_000
    return stream


def _encode_audio(container, stream, audio: Audio) -> None:
    import av

    samples = np.clip(np.asarray(audio.samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    for start in range(0, samples.size, _AAC_FRAME):
        chunk = np.ascontiguousarray(samples[start : start + _AAC_FRAME])[None, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = int(audio.sample_rate)
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """Save an HxWx3 uint8 RGB array as JPEG/PNG/WebP (from the extension), atomically; returns the path."""
    from PIL import Image

    path = Path(path)
    fmt = PICTURE_OUTPUTS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: image output must end in one of {', '.join(PICTURE_OUTPUTS)}")
    rgb = _check_frame(rgb, 0)
    if not 1 <= quality <= 100:
        raise UsageError(f"quality must be in [1, 100], got {quality}")
    params = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    with atomic_output(path) as tmp, media_errors(path, "write the image"):
        Image.fromarray(np.ascontiguousarray(rgb), mode="RGB").save(tmp, format=fmt, **params)
    return path
