"""Detection: find the tile (sync), despread the coded bits, Viterbi-decode, accept only on a valid CRC-24.

Decision rule and false-positive rate. A picture is reported as marked only when (a) the sync correlation
at the found offset is at least MIN_SYNC_Z noise standard deviations and (b) the decoded 88-bit message passes
its CRC-24. On an unmarked picture the Viterbi output is effectively random, so each decoding attempt passes
the CRC with probability 2**-24; we make at most MAX_DECODE_ATTEMPTS attempts (period candidates and their
polished versions), so the false-positive rate is at most 8 * 2**-24 = 4.8e-7 per picture before the sync gate,
which (measured on unmarked photos, see the tests and bench) rejects most unmarked pictures by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dflab.provenance.watermark import ecc
from dflab.provenance.watermark.grid import DETECT_SHORT_SIDE, detector_residual
from dflab.provenance.watermark.pattern import DEFAULT_KEY, INFO_BITS, TILE, layout_for_key
from dflab.provenance.watermark.sync import Alignment, align, period_candidates

MIN_SYNC_Z = 3.0
MAX_DECODE_ATTEMPTS = 8
POLISHED_CANDIDATES = 2
THEORETICAL_FALSE_POSITIVE_RATE = MAX_DECODE_ATTEMPTS * 2.0**-ecc.CRC_BITS


@dataclass(frozen=True)
class WatermarkResult:
    """What the detector found. `payload` is set only when `detected`.

    confidence: 0..1. Detected: 0.9..1, rising with the sync margin (a wrong payload would need a CRC-24
    collision, 6e-8 per attempt). Not detected: 0..0.5, how strongly something tile-like was seen.
    scale: size of the picture relative to the one that was marked, estimated from the tile period
    (e.g. 0.5 after a 50 % downscale), for a full-frame picture; None when nothing was found.
    """

    detected: bool
    payload: bytes | None
    confidence: float
    sync_z: float
    bit_errors_corrected: int | None = None
    media_type: str = "image"
    frames_used: int = 1
    period_px: tuple[float, float] | None = None
    decode_attempts: int = 0
    details: dict = field(default_factory=dict)
    # Best-effort payload bits of the strongest alignment even when the CRC failed: only for measuring bit
    # accuracy (benchmarks); never a detection. Not part of to_json().
    raw_payload: bytes | None = field(default=None, repr=False)

    @property
    def payload_hex(self) -> str | None:
        return self.payload.hex() if self.payload is not None else None

    def to_json(self) -> dict:
        return {
            "detected": self.detected,
            "payload": self.payload_hex,
            "confidence": round(float(self.confidence), 4),
            "bit_errors_corrected": self.bit_errors_corrected,
            "sync_z": round(float(self.sync_z), 2),
            "media_type": self.media_type,
            "frames_used": self.frames_used,
            "period_px": [round(p, 3) for p in self.period_px] if self.period_px else None,
            "decode_attempts": self.decode_attempts,
            "algorithm": "dflab-v1",
            **self.details,
        }


def _confidence(detected: bool, z: float) -> float:
    if detected:
        return float(1.0 - 0.1 * np.exp(-max(z - MIN_SYNC_Z, 0.0) / 2.0))
    return float(0.5 * np.clip((z - MIN_SYNC_Z) / 5.0, 0.0, 1.0))


def _decode(alignment: Alignment, key: str) -> tuple[bytes | None, int, bytes]:
    layout = layout_for_key(key)
    soft = layout.soft_bits(alignment.folded)
    info = ecc.viterbi_decode(soft, INFO_BITS)
    payload = ecc.check_message(info)
    errors = int(np.sum((soft > 0).astype(np.uint8) != ecc.conv_encode(info)))
    return payload, errors, ecc.bits_to_bytes(info[: -ecc.CRC_BITS])


def detect_residual(residual: np.ndarray, media_type: str = "image", frames_used: int = 1, key: str = DEFAULT_KEY) -> WatermarkResult:
    """Detect in a whitened detection-grid residual (one picture, or the mean over video frames)."""
    if min(residual.shape) < TILE * 2 or not np.all(np.isfinite(residual)):
        return WatermarkResult(False, None, 0.0, 0.0, media_type=media_type, frames_used=frames_used)
    layout = layout_for_key(key)
    attempts = 0
    tried: list[Alignment] = []
    raw: dict[int, bytes] = {}

    def attempt(px: float, py: float, polish: bool) -> tuple[Alignment, bytes, int] | None:
        nonlocal attempts
        alignment = align(residual, px, py, layout, polish=polish)
        tried.append(alignment)
        attempts += 1
        payload, errors, raw[id(alignment)] = _decode(alignment, key)
        return (alignment, payload, errors) if payload is not None and alignment.sync_z >= MIN_SYNC_Z else None

    found = None
    for px, py in period_candidates(residual):
        if found := attempt(px, py, polish=False):
            break
    if found is None:
        # The cheap pass failed: polish the period of the most promising guesses (costs ~30 folds each).
        for rough in sorted(tried, key=lambda a: -a.sync_z)[:POLISHED_CANDIDATES]:
            if attempts >= MAX_DECODE_ATTEMPTS:
                break
            if found := attempt(rough.period_x, rough.period_y, polish=True):
                break
    if found is None:
        best = max(tried, key=lambda a: a.sync_z) if tried else None
        z = best.sync_z if best else 0.0
        return WatermarkResult(
            False, None, _confidence(False, z), z, media_type=media_type, frames_used=frames_used,
            decode_attempts=attempts, raw_payload=raw.get(id(best)) if best else None,
        )  # fmt: skip
    alignment, payload, errors = found
    return WatermarkResult(
        detected=True,
        payload=payload,
        confidence=_confidence(True, alignment.sync_z),
        sync_z=alignment.sync_z,
        bit_errors_corrected=errors,
        media_type=media_type,
        frames_used=frames_used,
        period_px=(alignment.period_x, alignment.period_y),
        decode_attempts=attempts,
        raw_payload=payload,
    )


def detect_image(rgb: np.ndarray, key: str = DEFAULT_KEY) -> WatermarkResult:
    """Look for a dflab-v1 mark in an HxWx3 uint8 RGB (or HxW grey) picture of any size."""
    from dflab.errors import UsageError
    from dflab.provenance.watermark.embed import luma

    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim not in (2, 3):
        raise UsageError("expected an HxWx3 (or HxW grey) uint8 picture")
    if min(rgb.shape[:2]) < 16:
        return WatermarkResult(False, None, 0.0, 0.0)
    return detect_residual(detector_residual(luma(rgb)), key=key)


__all__ = ["WatermarkResult", "detect_image", "detect_residual", "DETECT_SHORT_SIDE", "THEORETICAL_FALSE_POSITIVE_RATE"]
