"""Perceptual hashers behind one registry: `create_hasher(name)` / `list_hashers()`.

A hasher turns one RGB frame into one or more 256-bit codes (32 bytes, upstream hex order) with a quality score.
PDQ (Facebook) is compared with the Hamming distance; upstream calls two hashes a match at distance <= 31 of 256.

Plain PDQ of the whole frame drifts under crops (a crop keeping the central 80 % of the area moves most
frequency bins), so the default hasher for registration also stores hashes of a few centre crops of the original.
A cropped copy then lands near the crop variant of the same scale instead of near the full-frame hash.

Measured on 70 real photos (cnndetection, dlib_faces, face_recognition): a centre crop keeping 80 % of the area
is at median distance 88 (max 136) from the full-frame hash, but 0 from a registered 80 % crop, and 18 (max 34)
after JPEG q50 + 50 % downscale on top. With crops at 90/80/70 % only, in-between crops (85 %, 75 %) were found
at distance <= 31 for 64-77 % of photos; with a 5 % ladder (90..70 %) for 99-100 %. Crops below the ladder
(60 %) are not found. Unrelated photos stay far: 1st percentile of the nearest variant at distance 102.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from dflab.errors import BadMedia, UsageError
from dflab.registry import Registry

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
PDQ_MATCH_THRESHOLD = 31  # upstream default for "same picture" at 256 bits


@dataclass(frozen=True)
class FrameCode:
    """One perceptual hash of one (variant of a) frame."""

    code: bytes  # HASH_BYTES, big-endian in the order of the upstream hex string
    quality: int  # PDQ quality 0..100; below ~50 the frame is nearly flat and the hash is unreliable
    variant: str  # "full", "crop90", "crop80", ..., "flip"

    @property
    def hex(self) -> str:
        return self.code.hex()


class Hasher(Protocol):
    name: str
    bits: int
    variants: tuple[str, ...]  # what hash_frame returns, in order; "full" first

    def hash_frame(self, rgb: np.ndarray) -> list[FrameCode]: ...


HASHERS: Registry[Callable[..., Hasher]] = Registry("hasher")


def register_hasher(name: str):
    return HASHERS.register(name)


def list_hashers(pattern: str | None = None) -> list[str]:
    return HASHERS.list(pattern)


def create_hasher(name: str, **config) -> Hasher:
    return HASHERS.create(name, **config)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two codes of equal length."""
    if len(a) != len(b):
        raise UsageError(f"cannot compare hashes of {len(a)} and {len(b)} bytes")
    return int.from_bytes(bytes(x ^ y for x, y in zip(a, b)), "big").bit_count()


def hex_to_code(text: str) -> bytes:
    try:
        code = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise UsageError(f"not a hex hash: {text!r}") from exc
    if len(code) != HASH_BYTES:
        raise UsageError(f"a PDQ hash has {HASH_BYTES * 2} hex digits, got {len(text.strip())}")
    return code


def centre_crop(rgb: np.ndarray, area_fraction: float) -> np.ndarray:
    """The centred crop keeping `area_fraction` of the area, same aspect ratio (each side scaled by sqrt)."""
    if not 0.0 < area_fraction <= 1.0:
        raise UsageError(f"crop area fraction must be in (0, 1], got {area_fraction}")
    height, width = rgb.shape[:2]
    side = float(np.sqrt(area_fraction))
    new_h, new_w = max(1, round(height * side)), max(1, round(width * side))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return rgb[top : top + new_h, left : left + new_w]


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise BadMedia(f"expected an HxWx3 RGB frame, got shape {shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise BadMedia(f"empty frame of shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise BadMedia(f"expected uint8 pixels, got {rgb.dtype}")
    return np.ascontiguousarray(rgb)


def pdq_code(rgb: np.ndarray) -> tuple[bytes, int]:
    """PDQ of one RGB frame as (32-byte code, quality). The bindings return 256 bits, most significant first."""
    import pdqhash

    bits, quality = pdqhash.compute(_check_rgb(rgb))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def _crop_name(area: float) -> str:
    return f"crop{round(area * 100)}"


@register_hasher("pdq")
class PdqHasher:
    """PDQ of the whole frame, optionally also of centre crops and of the horizontal mirror image.

    `crops` are area fractions (0.8 = the centred crop keeping 80 % of the area); `flip` adds the mirror image.
    """

    name = "pdq"
    bits = HASH_BITS

    def __init__(self, crops: tuple[float, ...] = (), flip: bool = False) -> None:
        self.crops = tuple(float(c) for c in crops)
        for area in self.crops:
            if not 0.0 < area < 1.0:
                raise UsageError(f"crop area fraction must be in (0, 1), got {area}")
        self.flip = bool(flip)
        self.variants = ("full", *(_crop_name(c) for c in self.crops), *(("flip",) if flip else ()))

    def hash_frame(self, rgb: np.ndarray) -> list[FrameCode]:
        rgb = _check_rgb(rgb)
        code, quality = pdq_code(rgb)
        out = [FrameCode(code, quality, "full")]
        for area in self.crops:
            crop_code, crop_quality = pdq_code(centre_crop(rgb, area))
            out.append(FrameCode(crop_code, crop_quality, _crop_name(area)))
        if self.flip:
            flip_code, flip_quality = pdq_code(rgb[:, ::-1])
            out.append(FrameCode(flip_code, flip_quality, "flip"))
        return out


@register_hasher("pdq-crops")
def pdq_with_crops(crops: tuple[float, ...] = (0.9, 0.8, 0.7), flip: bool = False) -> PdqHasher:
    """The registration default: whole frame plus centre crops keeping 90, 80 and 70 % of the area."""
    hasher = PdqHasher(crops=crops, flip=flip)
    hasher.name = "pdq-crops"
    return hasher
