"""The tile fold's shortcuts give the very numbers of the plain computation: a fold that skips warping the
coverage when every tile lies inside the picture, and a median without np.median's machinery."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dflab.provenance.watermark import sync
from dflab.provenance.watermark.pattern import TILE

WARP = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _plain_fold(residual: np.ndarray, px: float, py: float, ox: float = 0.0, oy: float = 0.0) -> np.ndarray:
    """The fold with its coverage always warped (what sync.fold computed before the shortcut)."""
    h, w = residual.shape
    sx, sy = TILE / px, TILE / py
    matrix = np.array([[sx, 0.0, -ox * sx], [0.0, sy, -oy * sy]], dtype=np.float64)
    out_w, out_h = max(int((w - ox) * sx), TILE), max(int((h - oy) * sy), TILE)
    values = cv2.warpAffine(residual, matrix, (out_w, out_h), **WARP)
    weight = cv2.warpAffine(np.ones_like(residual), matrix, (out_w, out_h), **WARP)
    ny, nx = -(-out_h // TILE), -(-out_w // TILE)
    acc = np.zeros((2, ny * TILE, nx * TILE), dtype=np.float32)
    acc[0, :out_h, :out_w] = values
    acc[1, :out_h, :out_w] = weight
    sums = acc.reshape(2, ny, TILE, nx, TILE).sum(axis=(1, 3))
    return sums[0] / np.maximum(sums[1], 1e-3)


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for k in range(n):
        h, w = (int(v) for v in rng.integers(64, 360, 2))
        px, py = (float(v) for v in rng.uniform(0.8 * TILE, 2.6 * TILE, 2))
        # unshifted folds (0, 0), the usual offsets within a period, and a few just outside the picture
        ox, oy = (0.0, 0.0) if k % 3 == 0 else (float(v) for v in rng.uniform(-1.0, 1.2 * TILE, 2))
        yield rng.standard_normal((h, w)).astype(np.float32), px, py, ox, oy


def test_fold_is_bit_identical_to_the_fold_with_a_warped_coverage() -> None:
    shortcut = 0
    for residual, px, py, ox, oy in _cases(400, seed=11):
        fast = sync.fold(residual, px, py, ox, oy)
        plain = _plain_fold(residual, px, py, ox, oy)
        assert fast.dtype == plain.dtype and fast.tobytes() == plain.tobytes(), (residual.shape, px, py, ox, oy)
        h, w = residual.shape
        sx, sy = TILE / px, TILE / py
        matrix = np.array([[sx, 0.0, -ox * sx], [0.0, sy, -oy * sy]])
        shortcut += sync._fully_covered((h, w), matrix, max(int((w - ox) * sx), TILE), max(int((h - oy) * sy), TILE))
    assert 100 < shortcut < 400  # both paths were exercised


def test_a_fully_covered_warp_of_ones_is_exactly_one_everywhere() -> None:
    """The premise of the shortcut, on OpenCV as installed: no pixel of such a warp mixes in the border."""
    for residual, px, py, ox, oy in _cases(300, seed=12):
        h, w = residual.shape
        sx, sy = TILE / px, TILE / py
        matrix = np.array([[sx, 0.0, -ox * sx], [0.0, sy, -oy * sy]])
        size = (max(int((w - ox) * sx), TILE), max(int((h - oy) * sy), TILE))
        if sync._fully_covered((h, w), matrix, *size):
            assert np.all(cv2.warpAffine(np.ones((h, w), np.float32), matrix, size, **WARP) == 1.0)


def test_a_warp_reaching_past_the_edge_is_not_called_fully_covered() -> None:
    matrix = np.array([[TILE / 40.0, 0.0, 0.5 * TILE / 40.0], [0.0, TILE / 40.0, 0.0]])  # ox = -0.5: left of x = 0
    assert not sync._fully_covered((256, 256), matrix, 205, 204)
    assert cv2.warpAffine(np.ones((256, 256), np.float32), matrix, (205, 204), **WARP).min() < 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 2, 7, 1024, 1025])
def test_median_is_numpy_median(dtype, size) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        values = (rng.standard_normal(size) * rng.uniform(1e-3, 1e3)).astype(dtype)
        assert sync._median(values) == float(np.median(values))
    values[0] = np.nan
    assert np.isnan(sync._median(values)) and np.isnan(np.median(values))
