"""Undoing a small rotation (a "straighten" of up to about 5 degrees) before the tile is searched for.

The period search in sync.py reads the autocorrelation along the picture's axes, where an upright tile lattice
puts its peaks. A picture rotated by theta moves the peak at lag P off the axis by P * sin(theta) (3 pixels at
P = 60 and 3 degrees, more than a chip), so nothing is found. The lattice is still there, rotated: we score
every (angle, period) pair by the mean autocorrelation at the harmonics k * P of both rotated lattice axes,
take the best angle, refine it to a fraction of a step, and rotate the residual back. The fold then needs the
angle to within about 0.3 degrees (a far tile may move by half a chip), which the refinement gives.
"""

from __future__ import annotations

import numpy as np

from dflab.provenance.watermark.pattern import TILE

MAX_DEGREES = 5.0
STEP_DEGREES = 0.25
MIN_DEGREES = 0.4  # below this the upright search already folds the tiles well enough


def _lattice_scores(acf: np.ndarray, angles_deg: np.ndarray, periods: np.ndarray, reach: float) -> np.ndarray:
    """(angles, periods) mean autocorrelation at the harmonics of both lattice axes rotated by each angle."""
    import cv2

    h2, w2 = acf.shape
    centred = np.fft.fftshift(acf).astype(np.float32)
    cy, cx = h2 // 2, w2 // 2
    theta = np.deg2rad(angles_deg)[:, None, None]
    harmonics = np.arange(1, int(reach / periods[0]) + 1, dtype=np.float64)
    lag = periods[None, :, None] * harmonics[None, None, :]  # (1, P, K)
    valid = np.broadcast_to(lag <= reach, (len(angles_deg), len(periods), len(harmonics)))
    total = np.zeros((len(angles_deg), len(periods)), dtype=np.float64)
    for ux, uy in ((np.cos(theta), np.sin(theta)), (-np.sin(theta), np.cos(theta))):
        map_x = (cx + lag * ux).astype(np.float32)
        map_y = (cy - lag * uy).astype(np.float32)
        shape = np.broadcast_shapes(map_x.shape, map_y.shape)
        map_x, map_y = np.broadcast_to(map_x, shape), np.broadcast_to(map_y, shape)
        flat_x = np.ascontiguousarray(map_x.reshape(-1, shape[2]))  # remap wants rows and columns < 32767
        flat_y = np.ascontiguousarray(map_y.reshape(-1, shape[2]))
        values = cv2.remap(centred, flat_x, flat_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        values = values.reshape(shape) * valid
        total += values.sum(axis=2) / np.maximum(valid.sum(axis=2), 1)
    return total / 2.0


def estimate_rotation(residual: np.ndarray, period_range: tuple[float, float]) -> float:
    """The picture's rotation in degrees (counter-clockwise, as cv2.getRotationMatrix2D counts), 0.0 when
    no rotated lattice stands out from the upright one."""
    from dflab.provenance.watermark.sync import autocorrelation

    h, w = residual.shape
    acf = autocorrelation(residual)
    # Divide by the overlap so far lags count as much as near ones (as the upright period search does).
    ly = 1.0 - np.abs(np.fft.fftfreq(2 * h) * 2.0)
    lx = 1.0 - np.abs(np.fft.fftfreq(2 * w) * 2.0)
    acf = acf / np.maximum(np.outer(ly, lx), 0.2)
    angles = np.arange(-MAX_DEGREES, MAX_DEGREES + 1e-9, STEP_DEGREES)
    periods = np.arange(period_range[0], period_range[1], 0.25)
    scores = _lattice_scores(acf, angles, periods, 0.6 * min(h, w))
    # Per angle, how far the best period stands above that angle's typical period: a rotated picture's own
    # edges raise a whole angle (every period), the mark raises one period.
    peak = scores.max(axis=1) - np.median(scores, axis=1)
    i = int(np.argmax(peak))
    best = float(angles[i])
    if 0 < i < len(angles) - 1:
        a, b, c = peak[i - 1], peak[i], peak[i + 1]
        curv = a - 2 * b + c
        if curv < 0:
            best += STEP_DEGREES * float(np.clip(0.5 * (a - c) / curv, -0.5, 0.5))
    return best


def derotate(residual: np.ndarray, degrees: float) -> np.ndarray:
    """The residual rotated back by `degrees` about its centre (uncovered corners are 0: no signal)."""
    import cv2

    h, w = residual.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -float(degrees), 1.0)
    return cv2.warpAffine(residual.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip


__all__ = ["MAX_DEGREES", "MIN_DEGREES", "derotate", "estimate_rotation", "TILE"]
