"""Finding the tile again after rescaling and cropping: period from the autocorrelation, offset from the sync code.

1. Period. A mark that repeats every P pixels puts peaks in the residual's autocorrelation at every multiple of
   P along both axes. We score each candidate P by the mean autocorrelation at its multiples (harmonics add up,
   the host's short-range correlation does not), keep the best few local maxima, and refine each one to a
   fraction of a pixel from the sinc-interpolated peak positions of all harmonics (least squares through 0).
2. Offset. Resample so the period is exactly TILE, fold every tile onto one (the average of ~50-100 tiles,
   host picture averaged away), and cross-correlate cyclically with the sync template: the peak gives the
   tile origin, to a fraction of a chip by parabolic interpolation.
3. Polish. A 0.1 % period error moves the far tiles by a third of a chip, so the period is polished per axis by
   maximising the aligned sync correlation, which is smooth in the period once the offset follows it.
All maths here is pure numpy/OpenCV on small arrays: about 1 ms per fold at the 256-pixel detection grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dflab.provenance.watermark.pattern import TILE, TileLayout

PERIOD_RANGE = (0.8 * TILE, 2.6 * TILE)  # detection-grid periods searched: crops to ~40 % a side, small images


@dataclass(frozen=True)
class Alignment:
    period_x: float  # tile period on the detection grid, pixels
    period_y: float
    origin_x: float  # where a tile starts on the detection grid, pixels
    origin_y: float
    sync_z: float  # sync correlation at the found offset, in noise standard deviations
    folded: np.ndarray  # TILE x TILE average of all tiles, aligned (chip (0, 0) at [0, 0])


def autocorrelation(residual: np.ndarray) -> np.ndarray:
    """Linear (zero-padded) autocorrelation, normalised to 1 at lag 0; shape (2h, 2w), lags wrap negative."""
    h, w = residual.shape
    spectrum = np.fft.rfft2(residual, s=(2 * h, 2 * w))
    acf = np.fft.irfft2(spectrum.real**2 + spectrum.imag**2, s=(2 * h, 2 * w))
    return acf / max(float(acf[0, 0]), 1e-12)


def _harmonic_score(line: np.ndarray, periods: np.ndarray, reach: float) -> np.ndarray:
    grid = np.arange(len(line))
    out = np.full(len(periods), -np.inf)
    for i, p in enumerate(periods):
        ks = np.arange(1, int(reach / p) + 1)
        if len(ks):
            out[i] = float(np.interp(ks * p, grid, line).mean())
    return out


def _upsample_even(line: np.ndarray, up: int) -> np.ndarray:
    """Band-limited interpolation of an even function sampled at lags 0..n-1 (mirror, zero-pad the spectrum)."""
    n = len(line)
    full = np.concatenate([line, line[:0:-1]])
    spectrum = np.fft.rfft(full)
    padded = np.zeros(len(full) * up // 2 + 1, dtype=complex)
    padded[: len(spectrum)] = spectrum
    return np.fft.irfft(padded, len(full) * up)[: n * up] * up


def _refine_period(line: np.ndarray, period: float, reach: float, up: int = 8) -> float:
    fine = _upsample_even(line, up)
    ks, locs, weights = [], [], []
    k = 1
    while k * period + 2 < reach:
        centre = k * period * up
        lo, hi = int(centre - 1.5 * up), int(centre + 1.5 * up) + 1
        seg = fine[max(lo, 0) : hi]
        i = int(np.argmax(seg))
        if 0 < i < len(seg) - 1 and seg[i] > 0:
            a, b, c = seg[i - 1], seg[i], seg[i + 1]
            curv = a - 2 * b + c
            frac = 0.5 * (a - c) / curv if curv < 0 else 0.0
            ks.append(k)
            locs.append((max(lo, 0) + i + frac) / up)
            weights.append(b)
        k += 1
    if not ks:
        return float(period)
    ks_a, locs_a, w_a = np.asarray(ks), np.asarray(locs), np.asarray(weights)
    return float(np.sum(w_a * ks_a * locs_a) / np.sum(w_a * ks_a * ks_a))


def period_candidates(residual: np.ndarray, count: int = 3) -> list[tuple[float, float]]:
    """Up to `count` (period_x, period_y) guesses, best first, plus the half of each (the autocorrelation of a
    period-P mark peaks at 2P as strongly as at P, so a doubled period is the classic mistake)."""
    h, w = residual.shape
    acf = autocorrelation(residual)
    # Divide by the overlap so far lags are not penalised for covering fewer pixels.
    line_x = acf[0, :w] / (1.0 - np.arange(w) / w)
    line_y = acf[:h, 0] / (1.0 - np.arange(h) / h)
    periods = np.arange(PERIOD_RANGE[0], PERIOD_RANGE[1], 0.05)
    score = _harmonic_score(line_x, periods, 0.6 * w) + _harmonic_score(line_y, periods, 0.6 * h)
    peaks = [i for i in range(1, len(score) - 1) if score[i] >= score[i - 1] and score[i] >= score[i + 1]]
    peaks = sorted(peaks, key=lambda i: -score[i])[:count]
    out: list[tuple[float, float]] = []
    for i in peaks:
        p = float(periods[i])
        # Sum the autocorrelation rows (columns) at the lattice's other lags: the mark adds up there, noise less.
        rows = [int(round(m * p)) % (2 * h) for m in range(-2, 3) if abs(m * p) < 0.6 * h]
        cols = [int(round(m * p)) % (2 * w) for m in range(-2, 3) if abs(m * p) < 0.6 * w]
        lx = acf[rows, :w].sum(axis=0) / (1.0 - np.arange(w) / w)
        ly = acf[:h, cols].sum(axis=1) / (1.0 - np.arange(h) / h)
        guess = (_refine_period(lx, p, 0.7 * w), _refine_period(ly, p, 0.7 * h))
        out.append(guess)
    for px, py in list(out):
        half = (px / 2, py / 2)
        if min(half) >= PERIOD_RANGE[0] and all(abs(half[0] - q[0]) > 1.0 for q in out):
            out.append(half)
    return out


@lru_cache(maxsize=8)
def _ones(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A read-only array of ones (fold warps one when the tiles may reach past the picture's edge)."""
    ones = np.ones(shape, dtype=np.dtype(dtype))
    ones.setflags(write=False)
    return ones


# How far inside the picture every resampled pixel's source position must lie for fold to skip warping the
# coverage: far above the rounding of the warp's coordinates (about 1e-5 pixel), far below a pixel.
COVERAGE_MARGIN_PX = 0.01


def _fully_covered(shape: tuple[int, int], matrix: np.ndarray, out_w: int, out_h: int) -> bool:
    """Whether every pixel of the warp lands where all four of its bilinear taps are inside the picture: then
    the warped coverage (ones) is exactly 1 everywhere (checked against OpenCV in
    tests/provenance/test_watermark_fold.py) and need not be computed. The first pixel may sit exactly on
    the edge (its taps are then pixels 0 and 1)."""
    h, w = shape
    axes = ((matrix[0, 0], matrix[0, 2], out_w - 1, w), (matrix[1, 1], matrix[1, 2], out_h - 1, h))
    for scale, shift, last, size in axes:
        first = -shift / scale
        if not (first == 0.0 or first >= COVERAGE_MARGIN_PX) or last / scale + first > size - 1 - COVERAGE_MARGIN_PX:
            return False
    return True


@lru_cache(maxsize=64)
def _tile_counts(out_h: int, out_w: int) -> np.ndarray:
    """Per tile cell, how many tiles of an out_h x out_w grid cover it: the fold of an all-ones coverage.
    Small whole numbers, so exact in float32 whatever order a sum adds them in."""
    rows = np.bincount(np.arange(out_h) % TILE, minlength=TILE).astype(np.float32)
    cols = np.bincount(np.arange(out_w) % TILE, minlength=TILE).astype(np.float32)
    counts = np.outer(rows, cols)
    counts.setflags(write=False)
    return counts


def fold(residual: np.ndarray, px: float, py: float, ox: float = 0.0, oy: float = 0.0) -> np.ndarray:
    """Average of all tiles: resample so the period is TILE and (ox, oy) lands on 0, then sum modulo TILE."""
    import cv2

    h, w = residual.shape
    sx, sy = TILE / px, TILE / py
    matrix = np.array([[sx, 0.0, -ox * sx], [0.0, sy, -oy * sy]], dtype=np.float64)
    out_w = max(int((w - ox) * sx), TILE)
    out_h = max(int((h - oy) * sy), TILE)
    warp = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    values = cv2.warpAffine(residual, matrix, (out_w, out_h), **warp)
    ny, nx = -(-out_h // TILE), -(-out_w // TILE)
    if _fully_covered((h, w), matrix, out_w, out_h):
        # The usual case: the coverage is all ones, its fold the tile counts (the same numbers, without a warp).
        acc = np.zeros((ny * TILE, nx * TILE), dtype=np.float32)
        acc[:out_h, :out_w] = values
        return acc.reshape(ny, TILE, nx, TILE).sum(axis=(0, 2)) / np.maximum(_tile_counts(out_h, out_w), 1e-3)
    weight = cv2.warpAffine(_ones(residual.shape, residual.dtype.str), matrix, (out_w, out_h), **warp)
    acc = np.zeros((2, ny * TILE, nx * TILE), dtype=np.float32)
    acc[0, :out_h, :out_w] = values
    acc[1, :out_h, :out_w] = weight
    sums = acc.reshape(2, ny, TILE, nx, TILE).sum(axis=(1, 3))
    return sums[0] / np.maximum(sums[1], 1e-3)


def _median(values: np.ndarray) -> float:
    """np.median of a float array, the same number (the same partition, the two middle values averaged the
    same way, NaN if any value is NaN) without its generic machinery, which cost more than the partition on a
    tile: the search takes two medians per alignment, thousands per picture."""
    flat = values.reshape(-1)
    half = flat.size // 2
    if flat.size % 2:
        part = np.partition(flat, [half, -1])
        middle = float(part[half])
    else:
        part = np.partition(flat, [half - 1, half, -1])
        middle = float((part[half - 1] + part[half]) / 2)  # in the array's precision, as np.mean adds them
    return float("nan") if np.isnan(part[-1]) else middle


def sync_peak(folded: np.ndarray, layout: TileLayout, spectrum: np.ndarray | None = None) -> tuple[float, float, float]:
    """(z, dy, dx): the strongest cyclic shift of the sync template, in robust noise units, sub-chip offset.
    `spectrum`: np.fft.fft2(folded) when the caller has it already (it does not depend on the key)."""
    if spectrum is None:
        spectrum = np.fft.fft2(folded)
    corr = np.real(np.fft.ifft2(spectrum * layout.sync_spectrum))
    med = _median(corr)
    spread = _median(np.abs(corr - med)) * 1.4826 + 1e-12
    z = (corr - med) / spread
    iy, ix = np.unravel_index(int(np.argmax(z)), z.shape)

    def vertex(a: float, b: float, c: float) -> float:
        curv = a - 2 * b + c
        return float(np.clip(0.5 * (a - c) / curv, -0.5, 0.5)) if curv < 0 else 0.0

    fy = vertex(z[(iy - 1) % TILE, ix], z[iy, ix], z[(iy + 1) % TILE, ix])
    fx = vertex(z[iy, (ix - 1) % TILE], z[iy, ix], z[iy, (ix + 1) % TILE])
    return float(z[iy, ix]), iy + fy, ix + fx


def _aligned(residual: np.ndarray, px: float, py: float, layout: TileLayout,
             folds: dict | None = None) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """`folds`: unshifted folds of this residual (and their spectra) by period, kept between calls; they do not
    depend on the key, so the searches for several keys share them (the same arrays as computing them again)."""
    cached = folds.get((px, py)) if folds is not None else None
    if cached is None:
        unshifted = fold(residual, px, py)
        cached = (unshifted, np.fft.fft2(unshifted))
        if folds is not None:
            folds[(px, py)] = cached
    _, dy, dx = sync_peak(cached[0], layout, cached[1])
    ox, oy = dx * px / TILE, dy * py / TILE
    return fold(residual, px, py, ox, oy), ox, oy


def _sync_energy(folded: np.ndarray, layout: TileLayout) -> float:
    """Aligned sync correlation relative to the folded tile's RMS (scale-free, smooth in the period)."""
    flat = folded.reshape(-1)
    return float(np.dot(flat[layout.sync_index], layout.sync_sign) / (np.sqrt(np.mean(flat * flat)) + 1e-12))


def _polish(residual: np.ndarray, px: float, py: float, layout: TileLayout,
            folds: dict | None = None) -> tuple[float, float]:  # fmt: skip
    for step, span in ((0.001, 4), (0.00025, 3)):
        for axis in (0, 1):
            rel = np.arange(-span, span + 1) * step
            scores = []
            for e in rel:
                qx, qy = (px * (1 + e), py) if axis == 0 else (px, py * (1 + e))
                scores.append(_sync_energy(_aligned(residual, qx, qy, layout, folds)[0], layout))
            i = int(np.argmax(scores))
            e = rel[i]
            if 0 < i < len(rel) - 1:
                a, b, c = scores[i - 1], scores[i], scores[i + 1]
                curv = a - 2 * b + c
                if curv < 0:
                    e += step * float(np.clip(0.5 * (a - c) / curv, -0.5, 0.5))
            px, py = (px * (1 + e), py) if axis == 0 else (px, py * (1 + e))
    return px, py


def align(residual: np.ndarray, px: float, py: float, layout: TileLayout, polish: bool = True,
          folds: dict | None = None) -> Alignment:  # fmt: skip
    """Offset (and, with polish, a refined period) for one period guess; the folded tile ready to despread.
    `folds`: a dict kept per residual to share unshifted folds between keys (see _aligned)."""
    if polish:
        px, py = _polish(residual, px, py, layout, folds)
    folded, ox, oy = _aligned(residual, px, py, layout, folds)
    z, _, _ = sync_peak(folded, layout)
    return Alignment(px, py, ox, oy, z, folded)
