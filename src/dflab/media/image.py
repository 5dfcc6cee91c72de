"""Still images (JPEG, PNG, WebP) through Pillow: size checked from the header before any pixel is decoded."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dflab.config import Limits
from dflab.errors import BadMedia, LimitExceeded
from dflab.media.guards import check_pixels, media_errors

EXIF_ORIENTATION_TAG = 0x0112
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # these swap width and height


def image_header(path: Path, limits: Limits = Limits()) -> dict:
    """Format, oriented width/height and EXIF orientation, read lazily (no pixel decode)."""
    with media_errors(path, "read the image header"), _quiet(), _open(path, limits) as im:
        width, height = im.size
        orientation = _orientation(im)
        if orientation in _ROTATED_ORIENTATIONS:
            width, height = height, width
        return {
            "format": (im.format or "").lower(),
            "width": int(width),
            "height": int(height),
            "mode": im.mode,
            "exif_orientation": orientation,
            "n_frames": int(getattr(im, "n_frames", 1)),
        }


def read_image_rgb(path: Path, limits: Limits = Limits()) -> tuple[np.ndarray, dict]:
    """Full-resolution RGB uint8 pixels, EXIF orientation applied, plus the header facts.

    The declared size is checked against limits.max_pixels first, so a tiny file declaring 30000x30000
    never allocates its pixels. Pillow's own DecompressionBombError is turned into LimitExceeded.
    """
    from PIL import ImageOps

    with media_errors(path, "decode the image"), _quiet(), _open(path, limits) as im:
        check_pixels(path, im.size[0], im.size[1], limits)
        info = {
            "format": (im.format or "").lower(),
            "mode": im.mode,
            "exif_orientation": _orientation(im),
            "n_frames": int(getattr(im, "n_frames", 1)),
        }
        im.load()
        oriented = ImageOps.exif_transpose(im)
        rgb = _to_rgb(oriented)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise BadMedia(f"{path}: decoded to an unexpected shape {rgb.shape}")
    info["width"], info["height"] = int(rgb.shape[1]), int(rgb.shape[0])
    return rgb, info


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """`rgb` encoded as JPEG at `quality` by Pillow and decoded again: the one re-compression the learned image
    detectors put every picture through, so that a file's own compression carries less of the label."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as im:
        return np.asarray(im.convert("RGB"))


def _open(path: Path, limits: Limits):
    """Image.open, with Pillow's own bomb check (at 179 Mpx, before we see the size) worded like ours."""
    import re

    from PIL import Image

    try:
        return Image.open(path)
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "more pixels than Pillow will decode"
        raise LimitExceeded(f"{path} is {size}, over the limit of {limits.max_pixels:,}") from None


@contextmanager
def _quiet():
    """Pillow warns (DecompressionBombWarning, broken EXIF) on inputs we judge ourselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make the image unreadable
        return 1


def _to_rgb(im) -> np.ndarray:
    """RGB uint8 from any Pillow mode; 16/32-bit greyscale is scaled rather than clipped to white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode == "F":
        grey = np.clip(np.asarray(im, dtype=np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
