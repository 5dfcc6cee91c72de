"""Embedding: tile the payload's +-1 pattern over the working grid, weight by texture, upsample, add to luma.

The residual is scaled to an exact distortion budget (`target_psnr`, default 40.75 dB so that rounding and
clipping still leave >= 40 dB), so every picture gets the strongest mark its budget allows. Only luma changes
(R, G and B move together), because chroma is subsampled and quantised hardest by JPEG and H.264.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.errors import Unsupported, UsageError
from dflab.provenance.watermark import grid
from dflab.provenance.watermark.pattern import DEFAULT_KEY, PAYLOAD_BITS, TILE, tile_for_payload

PAYLOAD_BYTES = PAYLOAD_BITS // 8
MIN_EMBED_SHORT_SIDE = 112  # below this the detector's period search (<= 2.6 tiles) cannot see the tile
# Pictures whose short side is under this get EmbedConfig.small_texture_gamma (see there).
SMALL_PICTURE_SIDE = 400


@dataclass(frozen=True)
class EmbedConfig:
    target_psnr: float = 40.75  # dB, of the luma change (RGB PSNR is the same: all channels move together)
    texture_gamma: float = 0.4  # 0 = uniform strength; higher = more concentrated in textured regions
    key: str = DEFAULT_KEY
    chip_px: float = 2.5  # minimum source pixels per chip; video uses 4 (it must survive downscale + H.264)
    # Texture weighting used instead of texture_gamma on pictures under SMALL_PICTURE_SIDE px (None: texture_gamma
    # everywhere). Why: a small picture's chips sit near pixel scale, and after half size and JPEG what survives
    # is spread over the whole picture, flat parts included; at the same PSNR a flatter weighting leaves 4-11 %
    # more of the tile at its true alignment on the 75 small photos (bench/watermark_small.py,
    # bench/watermark_small_variants.py) after the combined attacks and JPEG 75 + rotation.
    small_texture_gamma: float | None = 0.2

    def __post_init__(self) -> None:
        if not 20.0 <= self.target_psnr <= 60.0:
            raise UsageError(f"target PSNR must be within 20..60 dB, got {self.target_psnr}")
        if not 0.0 <= self.texture_gamma <= 2.0:
            raise UsageError(f"texture gamma must be within 0..2, got {self.texture_gamma}")
        if self.small_texture_gamma is not None and not 0.0 <= self.small_texture_gamma <= 2.0:
            raise UsageError(f"small-picture texture gamma must be within 0..2, got {self.small_texture_gamma}")
        if not 1.0 <= self.chip_px <= 8.0:
            raise UsageError(f"chip size must be within 1..8 pixels, got {self.chip_px}")


def check_payload(payload: bytes) -> bytes:
    if not isinstance(payload, (bytes, bytearray)) or len(payload) != PAYLOAD_BYTES:
        got = f"{len(payload)} bytes" if isinstance(payload, (bytes, bytearray)) else type(payload).__name__
        raise UsageError(f"watermark payload must be exactly {PAYLOAD_BYTES} bytes ({PAYLOAD_BITS} bits), got {got}")
    return bytes(payload)


def parse_payload_hex(text: str) -> bytes:
    """16 hex digits (optionally 0x-prefixed, spaces/colons allowed) -> 8 payload bytes, or UsageError."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise UsageError(f"payload {text!r} is not hex (expected {2 * PAYLOAD_BYTES} hex digits)") from None
    if len(raw) != PAYLOAD_BYTES:
        raise UsageError(f"payload must be {2 * PAYLOAD_BYTES} hex digits ({PAYLOAD_BITS} bits), got {len(cleaned)}")
    return raw


def texture_gamma_for(short_side: int, config: EmbedConfig) -> float:
    """The texture weighting a picture with this short side is embedded with."""
    if config.small_texture_gamma is not None and short_side < SMALL_PICTURE_SIDE:
        return config.small_texture_gamma
    return config.texture_gamma


def watermark_residual(gray: np.ndarray, payload: bytes, config: EmbedConfig = EmbedConfig()) -> np.ndarray:
    """The float32 HxW luma change that carries `payload`, with RMS set by config.target_psnr."""
    import cv2

    payload = check_payload(payload)
    height, width = gray.shape[:2]
    short = min(height, width)
    if short < MIN_EMBED_SHORT_SIDE:
        raise Unsupported(f"picture {width}x{height} is too small to carry the watermark (short side >= {MIN_EMBED_SHORT_SIDE})")
    h, w = grid.scaled_hw((height, width), grid.embed_short_side(short, config.chip_px))
    tile = tile_for_payload(payload, config.key)
    pattern = np.tile(tile, (h // TILE + 1, w // TILE + 1))[:h, :w]
    gamma = texture_gamma_for(short, config)
    if gamma > 0:
        pattern = pattern * grid.texture_mask(grid.resize_luma(gray, (h, w)), gamma)
    residual = cv2.resize(pattern.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    target_rms = 255.0 * 10.0 ** (-config.target_psnr / 20.0)
    residual *= target_rms / (float(np.sqrt(np.mean(residual * residual))) + 1e-9)
    return residual


def _as_rgb_uint8(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim not in (2, 3):
        raise UsageError("expected an HxWx3 (or HxW grey) uint8 picture")
    if rgb.ndim == 3 and rgb.shape[2] != 3:
        raise UsageError(f"expected 3 colour channels (RGB), got {rgb.shape[2]}")
    return rgb


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 BT.601 luma of an RGB (or already grey) picture."""
    import cv2

    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def embed_image(rgb: np.ndarray, payload: bytes, config: EmbedConfig = EmbedConfig()) -> np.ndarray:
    """A copy of `rgb` (HxWx3 uint8, or HxW grey) carrying the 8-byte `payload`."""
    rgb = _as_rgb_uint8(rgb)
    change = np.rint(watermark_residual(luma(rgb), payload, config)).astype(np.int16)
    if rgb.ndim == 3:
        change = change[..., None]
    return np.clip(rgb.astype(np.int16) + change, 0, 255).astype(np.uint8)


def embed_luma_plane(y_plane: np.ndarray, payload: bytes, config: EmbedConfig = EmbedConfig(), limited_range: bool = True) -> np.ndarray:
    """Embed straight into a video Y plane (uint8). Limited-range Y (16..235) is stretched by 255/219 when it
    becomes RGB, so the change is shrunk by 219/255 to keep the same RGB PSNR."""
    change = watermark_residual(y_plane, payload, config)
    if limited_range:
        change *= 219.0 / 255.0
    return np.clip(y_plane.astype(np.int16) + np.rint(change).astype(np.int16), 0, 255).astype(np.uint8)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 pictures of the same shape (inf when identical)."""
    if reference.shape != test.shape:
        raise UsageError(f"PSNR needs equal shapes, got {reference.shape} and {test.shape}")
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
