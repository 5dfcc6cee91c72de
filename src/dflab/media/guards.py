"""Checks before decoding and the one place where library exceptions become DflabErrors.

PyAV, Pillow and the OS raise a zoo of exceptions on hostile input (FFmpegError, OSError, SyntaxError,
struct.error, ...). Callers of dflab.media only ever see a DflabError with a one-line message.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dflab.config import Limits
from dflab.errors import BadMedia, DflabError, LimitExceeded, NotFound, Unsupported

# Exceptions that decoding libraries raise for bad input (not programming errors such as AttributeError).
_LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes PIL.UnidentifiedImageError and many av.error.* classes
    ValueError,  # includes av.error.FFmpegError and InvalidDataError
    EOFError,
    SyntaxError,  # Pillow raises it for broken PNG chunks
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    RuntimeError,
)


def one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_file(path: Path, limits: Limits) -> int:
    """Refuse what cannot be media before opening it; returns the size in bytes."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except OSError as exc:
        raise BadMedia(f"{path}: cannot read: {one_line(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise BadMedia(f"{path} is a directory, not a media file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device would block or never end.
        raise BadMedia(f"{path} is not a regular file")
    if info.st_size == 0:
        raise BadMedia(f"{path} is empty")
    if info.st_size > limits.max_file_bytes:
        raise LimitExceeded(
            f"{path} is {info.st_size:,} bytes, over the limit of {limits.max_file_bytes:,} bytes"
        )
    if not os.access(path, os.R_OK):
        raise BadMedia(f"{path}: cannot read: permission denied")
    return info.st_size


def check_pixels(path: Path, width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise BadMedia(f"{path} declares an invalid size {width}x{height}")
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"{path} is {width}x{height} = {width * height:,} pixels, over the limit of {limits.max_pixels:,}"
        )


def check_min_side(path: Path, width: int, height: int, limits: Limits) -> None:
    """Refuse pictures too small for any cue (one rule for every command: scan, register, sign, ...)."""
    if min(width, height) < limits.min_side:
        raise Unsupported(
            f"{path} is {width}x{height} pixels, smaller than the minimum of {limits.min_side}x{limits.min_side}"
        )


def check_duration(path: Path, duration_s: float | None, limits: Limits) -> None:
    if duration_s is not None and duration_s > limits.max_duration_s:
        raise LimitExceeded(
            f"{path} lasts {duration_s:.1f} s, over the limit of {limits.max_duration_s:.0f} s"
        )


def _from_library(exc: BaseException) -> bool:
    """True for exceptions that mean "this input is bad", not "dflab has a bug"."""
    module = type(exc).__module__ or ""
    return isinstance(exc, _LIBRARY_ERRORS) or module.split(".")[0] in {"av", "PIL", "cv2"}


@contextmanager
def media_errors(path: Path, action: str = "decode") -> Iterator[None]:
    """Turn any decoding-library exception raised inside the block into BadMedia / LimitExceeded."""
    try:
        yield
    except DflabError:
        raise
    except MemoryError:  # also av.error.MemoryError (ENOMEM)
        raise LimitExceeded(f"{path}: not enough memory to {action} it") from None
    except Exception as exc:
        if type(exc).__name__ == "DecompressionBombError":  # PIL.Image.DecompressionBombError
            raise LimitExceeded(f"{path}: {one_line(exc)}") from None
        if not _from_library(exc):
            raise
        raise BadMedia(f"{path}: cannot {action}: {one_line(exc)}") from None
