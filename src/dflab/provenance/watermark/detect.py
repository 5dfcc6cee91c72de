"""Detection: find the tile (sync), despread the coded bits, Viterbi-decode, accept only on a valid CRC-24.

Decision rule and false-positive rate. A picture is reported as marked only when (a) the sync correlation
at the found offset is at least MIN_SYNC_Z noise standard deviations and (b) the decoded 88-bit message passes
its CRC-24. On an unmarked picture the Viterbi output is effectively random, so each decoding attempt passes
the CRC with probability 2**-24. The tile is searched in up to four views of the picture (as it is, mirrored,
and rotated back by the angle its autocorrelation shows, as it is and mirrored), each with its period
candidates and their polished versions; a candidate is decoded only when its sync code already stands out, and
at most MAX_DECODE_ATTEMPTS = 16 are decoded in all (a picture smaller than the detection grid is searched again
near its own resolution, within the same 16), so the false-positive rate is at most 16 * 2**-24 = 9.5e-7
per picture, before the sync gate rejects most unmarked pictures by itself (measured: tests and bench).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dflab.provenance.watermark import ecc
from dflab.provenance.watermark.grid import DETECT_SHORT_SIDE, detector_residual, fallback_residuals
from dflab.provenance.watermark.pattern import DEFAULT_KEY, INFO_BITS, TILE, layout_for_key
from dflab.provenance.watermark.sync import Alignment, align, period_candidates

MIN_SYNC_Z = 3.0
MAX_DECODE_ATTEMPTS = 16  # CRC checks per picture, over all views (upright, mirrored, rotated back)
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


UPRIGHT = {"flipped": False, "rotation_deg": 0.0}


def _orientations(residual: np.ndarray):
    """The views of the residual the tile is searched in, cheapest and likeliest first: as it is, mirrored
    left-right, and (when the autocorrelation shows a rotated lattice) rotated back, as it is and mirrored.
    Yields (view, details for the result, the view's unmirrored twin): a mirror image has the same period
    candidates as its twin (the autocorrelation's axis lines are symmetric), so they are computed once."""
    from dflab.provenance.watermark.rotation import MIN_DEGREES, derotate, estimate_rotation
    from dflab.provenance.watermark.sync import PERIOD_RANGE

    yield residual, UPRIGHT, residual
    yield np.ascontiguousarray(residual[:, ::-1]), {"flipped": True, "rotation_deg": 0.0}, residual
    degrees = estimate_rotation(residual, PERIOD_RANGE)
    if abs(degrees) >= MIN_DEGREES:
        upright = derotate(residual, degrees)
        yield upright, {"flipped": False, "rotation_deg": round(degrees, 2)}, upright
        # Rotate-then-mirror is mirror-then-rotate the other way: the angle read above is that of the mirror.
        yield np.ascontiguousarray(upright[:, ::-1]), {"flipped": True, "rotation_deg": round(degrees, 2)}, upright


# The longest stretch of the detection grid searched (16x its short side). The mark repeats every tile, so a
# central window of a very long picture holds it as well as the whole does; and OpenCV's warps (folds, the
# rotated views) refuse pictures with a side of 32767 pixels or more (a 64702 x 480 panorama or a JPEG whose
# declared width was corrupted lands at 34,500 on the grid). Folds stretch by TILE / period <= 1.25.
MAX_SEARCH_SIDE = 16 * DETECT_SHORT_SIDE


def searched_window(residual: np.ndarray) -> np.ndarray:
    """The central MAX_SEARCH_SIDE stretch of a residual longer than that in either direction; else itself."""
    h, w = residual.shape
    top, left = max(0, (h - MAX_SEARCH_SIDE) // 2), max(0, (w - MAX_SEARCH_SIDE) // 2)
    if top == 0 and left == 0:
        return residual
    return np.ascontiguousarray(residual[top : top + MAX_SEARCH_SIDE, left : left + MAX_SEARCH_SIDE])


class SharedViews:
    """What the tile search computes the same way whatever the key: the views of one residual (rotation
    estimate included), their period candidates and their unshifted folds. The generations of a lineage are
    searched with three keys in the same residual; with one SharedViews they compute all this once. Views
    are made lazily, in `_orientations` order, so a mark found upright never pays for the rotation estimate."""

    def __init__(self, residual: np.ndarray) -> None:
        self.residual = residual
        self._made: list[tuple[np.ndarray, dict, np.ndarray]] = []
        self._source = _orientations(searched_window(residual))
        self._candidates: dict[int, list[tuple[float, float]]] = {}
        self._folds: dict[int, dict] = {}

    def views(self):
        i = 0
        while True:
            if i == len(self._made):
                if self._source is None:
                    return
                try:
                    self._made.append(next(self._source))
                except StopIteration:
                    self._source = None
                    return
            yield self._made[i]
            i += 1

    def candidates(self, twin: np.ndarray) -> list[tuple[float, float]]:
        if id(twin) not in self._candidates:
            self._candidates[id(twin)] = period_candidates(twin)
        return self._candidates[id(twin)]

    def folds(self, view: np.ndarray) -> dict:
        return self._folds.setdefault(id(view), {})


class _Search:
    """The tile search over the views of one residual, with one budget of CRC checks. A CRC check is made only
    where the sync code stands out (z >= MIN_SYNC_Z); at most MAX_DECODE_ATTEMPTS in all."""

    def __init__(self, layout, key: str, checks: int = 0) -> None:
        self.layout, self.key = layout, key
        self.checks = checks  # CRC checks already spent on this picture (on another grid)
        self.tried: list[tuple[Alignment, np.ndarray, dict]] = []

    def attempt(self, view: np.ndarray, details: dict, px: float, py: float, polish: bool,
                folds: dict | None = None):  # fmt: skip
        alignment = align(view, px, py, self.layout, polish=polish, folds=folds)
        self.tried.append((alignment, view, details))
        if alignment.sync_z < MIN_SYNC_Z or self.checks >= MAX_DECODE_ATTEMPTS:
            return None
        self.checks += 1
        payload, errors, _ = _decode(alignment, self.key)
        return (alignment, payload, errors, details) if payload is not None else None

    def run(self, shared: SharedViews):
        """Cheap alignments in every view first (most marks are found there); then the period of the most
        promising guesses is polished (~30 folds each): the upright view's best POLISHED_CANDIDATES, as before
        views were added, and the best POLISHED_CANDIDATES of all the other views together, so a picture
        without a mark costs twice the polishing of the upright search, not four times."""
        for view, details, twin in shared.views():
            for px, py in shared.candidates(twin):
                if found := self.attempt(view, details, px, py, polish=False, folds=shared.folds(view)):
                    return found
        upright = [t for t in self.tried if t[2] is UPRIGHT]
        turned = [t for t in self.tried if t[2] is not UPRIGHT]
        for group in (upright, turned):
            for rough, view, details in sorted(group, key=lambda t: -t[0].sync_z)[:POLISHED_CANDIDATES]:
                if found := self.attempt(view, details, rough.period_x, rough.period_y, polish=True,
                                         folds=shared.folds(view)):  # fmt: skip
                    return found
        return None


def detect_residual(residual: np.ndarray, media_type: str = "image", frames_used: int = 1, key: str = DEFAULT_KEY,
                    shared: SharedViews | None = None, checks_spent: int = 0,
                    folds_out: list | None = None) -> WatermarkResult:  # fmt: skip
    """Detect in a whitened detection-grid residual (one picture, or the mean over video frames), upright,
    mirrored or slightly rotated. `shared`: a SharedViews of this same residual, to search it with several keys
    at the cost of one view search (the results are the same as without). `checks_spent`: CRC checks already
    made on this picture on another grid; they count against the same MAX_DECODE_ATTEMPTS. `folds_out`: when
    given and nothing is found, every aligned folded tile the search tried is appended (informed detection
    tests the lab's issued payloads in them, watermark/informed.py)."""
    if min(residual.shape) < TILE * 2 or not np.all(np.isfinite(residual)):
        return WatermarkResult(False, None, 0.0, 0.0, media_type=media_type, frames_used=frames_used,
                               decode_attempts=checks_spent)  # fmt: skip
    if shared is None or shared.residual is not residual:
        shared = SharedViews(residual)
    search = _Search(layout_for_key(key), key, checks=checks_spent)
    found = search.run(shared)
    if found is None and folds_out is not None:
        folds_out.extend(alignment.folded for alignment, _, _ in search.tried)
    if found is None:
        best = max((t[0] for t in search.tried), key=lambda a: a.sync_z) if search.tried else None
        z = best.sync_z if best else 0.0
        return WatermarkResult(
            False, None, _confidence(False, z), z, media_type=media_type, frames_used=frames_used,
            decode_attempts=search.checks, raw_payload=_decode(best, key)[2] if best else None,
        )  # fmt: skip
    alignment, payload, errors, details = found
    return WatermarkResult(
        detected=True,
        payload=payload,
        confidence=_confidence(True, alignment.sync_z),
        sync_z=alignment.sync_z,
        bit_errors_corrected=errors,
        media_type=media_type,
        frames_used=frames_used,
        period_px=(alignment.period_x, alignment.period_y),
        decode_attempts=search.checks,
        details=dict(details),
        raw_payload=payload,
    )


class FallbackGrids:
    """The extra detection grids of one small picture (grid.fallback_residuals), each with its SharedViews,
    made on first use and shared by the keys of a lineage search."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self._made: list[tuple[int, SharedViews]] | None = None

    def grids(self) -> list[tuple[int, SharedViews]]:
        if self._made is None:
            self._made = [(side, SharedViews(residual)) for side, residual in fallback_residuals(self.gray)]
        return self._made


def retry_on_fallback_grids(first: WatermarkResult, fallback: FallbackGrids, key: str = DEFAULT_KEY,
                            folds_out: list | None = None) -> WatermarkResult:  # fmt: skip
    """`first` (the standard grid's result) when it found the mark; else the first fallback grid that finds it
    (its details say `grid_short_side`), else `first` with every grid's CRC checks counted. All grids share
    one budget of MAX_DECODE_ATTEMPTS checks, so the false-positive bound per picture does not change.
    `folds_out`: as for detect_residual (every grid is then searched even when the CRC budget is spent)."""
    if first.detected:
        return first
    spent = first.decode_attempts
    for side, shared in fallback.grids():
        if spent >= MAX_DECODE_ATTEMPTS and folds_out is None:
            break
        result = detect_residual(shared.residual, key=key, shared=shared, checks_spent=spent, folds_out=folds_out)
        if result.detected:
            return replace(result, details={**result.details, "grid_short_side": side})
        spent = result.decode_attempts
    return replace(first, decode_attempts=spent)


def detect_image(rgb: np.ndarray, key: str = DEFAULT_KEY) -> WatermarkResult:
    """Look for a dflab-v1 mark in an HxWx3 uint8 RGB (or HxW grey) picture of any size: on the standard
    detection grid, then (a picture smaller than it) on grids near its own resolution."""
    from dflab.errors import UsageError
    from dflab.provenance.watermark.embed import luma

    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim not in (2, 3):
        raise UsageError("expected an HxWx3 (or HxW grey) uint8 picture")
    if min(rgb.shape[:2]) < 16:
        return WatermarkResult(False, None, 0.0, 0.0)
    gray = luma(rgb)
    return retry_on_fallback_grids(detect_residual(detector_residual(gray), key=key), FallbackGrids(gray), key)


__all__ = ["WatermarkResult", "detect_image", "detect_residual", "DETECT_SHORT_SIDE", "THEORETICAL_FALSE_POSITIVE_RATE"]
