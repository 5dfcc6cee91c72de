"""The working grid: the low-resolution luma picture the mark lives in, and the residual the detector reads.

Embedding works on a copy of the luma resized so that its short side is `embed_short_side` pixels (about
S / 2.5, kept between 128 and 256): one chip is then 2.5 to 8 source pixels wide, coarse enough to survive a 50 %
downscale followed by JPEG, and the residual is upsampled back, so embedding cost hardly grows with resolution.
The detector always resamples to a short side of DETECT_SHORT_SIDE and finds the tile period itself, so it needs
to know neither the original size nor the crop.
"""

from __future__ import annotations

import numpy as np

DETECT_SHORT_SIDE = 256
MIN_SHORT_SIDE = 64  # smaller pictures cannot hold two tiles of the mark in either direction
# Extra grids for a picture smaller than the detection grid, as multiples of its own short side (see
# fallback_residuals). 1.0 reads it as it is; 1.5 sits between that and the upsampled standard grid.
FALLBACK_SCALES = (1.0, 1.5)


def embed_short_side(short: int, divisor: float = 2.5) -> int:
    """Working-grid short side for a picture whose short side is `short` pixels (chips ~`divisor` pixels)."""
    return int(min(short, max(128, min(256, round(short / divisor)))))


def resize_luma(gray: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """float32 luma at (h, w): area averaging when shrinking (no aliasing), bilinear when enlarging."""
    import cv2

    h, w = size_hw
    if gray.shape == (h, w):
        return gray.astype(np.float32)
    shrink = h < gray.shape[0] or w < gray.shape[1]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(gray.astype(np.float32), (w, h), interpolation=mode)


def scaled_hw(shape_hw: tuple[int, int], short_side: int) -> tuple[int, int]:
    height, width = shape_hw
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def whiten(luma: np.ndarray) -> np.ndarray:
    """The detector's view: picture detail removed, every region brought to unit variance.

    The 8-neighbour prediction error removes most of the host picture (it is smooth at chip scale); dividing
    by the local RMS keeps strongly textured regions from drowning the correlation and gives each region the
    weight its signal-to-noise ratio deserves (the embedder scales the mark with texture too).
    """
    import cv2

    kernel = np.full((3, 3), -1.0 / 8.0, dtype=np.float32)
    kernel[1, 1] = 1.0
    residual = cv2.filter2D(luma.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    local_rms = np.sqrt(cv2.GaussianBlur(residual * residual, (0, 0), 3.0))
    return residual / (local_rms + 1.0)


def detector_residual(gray: np.ndarray) -> np.ndarray:
    """Whitened luma on the detection grid (short side DETECT_SHORT_SIDE) for a full-size luma picture."""
    return whiten(resize_luma(gray, scaled_hw(gray.shape[:2], DETECT_SHORT_SIDE)))


def fallback_residuals(gray: np.ndarray):
    """(grid short side, whitened residual) on the extra grids for a picture whose short side is below
    DETECT_SHORT_SIDE, nearest its own resolution first; nothing for larger pictures.

    Why: the standard grid upsamples a small picture, which stretches the tile period with it. A crop of a
    240-pixel picture upsampled to 256 puts the period past the top of the period search (2.6 tiles), and the
    3x3 whitening then sees only the edges of chips 2-3 grid pixels wide. Near its own resolution the period
    is back in range and the whitening matches the chip.
    """
    short = min(gray.shape[:2])
    sides: list[int] = []
    for scale in FALLBACK_SCALES:
        side = int(round(short * scale))
        if MIN_SHORT_SIDE <= side < DETECT_SHORT_SIDE and side not in sides:
            sides.append(side)
    for side in sides:
        yield side, whiten(resize_luma(gray, scaled_hw(gray.shape[:2], side)))


def mean_residual_of(lumas) -> tuple[np.ndarray | None, int]:
    """(mean of detector residuals, pictures used) over full-size luma pictures, e.g. a video's frames: the
    mark is static while the picture moves, so it adds up and the content does not. Pictures whose detection
    grid differs from the first one's (a size change mid-stream) are left out of both the sum and the count."""
    acc: np.ndarray | None = None
    used = 0
    for luma in lumas:
        residual = detector_residual(luma)
        if acc is None:
            acc = residual
        elif residual.shape == acc.shape:
            acc += residual
        else:
            continue
        used += 1
    return (acc / used if acc is not None else None), used


def texture_mask(luma_small: np.ndarray, gamma: float = 0.4) -> np.ndarray:
    """Relative embedding strength per working pixel: more in texture, less in flat sky and skin.

    Mean-normalised local activity, clipped to [0.3, 3] and softened by `gamma` (0 = uniform): visibility
    is masked by texture, and JPEG keeps a weak signal in busy blocks while it zeroes flat ones.
    """
    import cv2

    detail = luma_small - cv2.GaussianBlur(luma_small, (0, 0), 1.0)
    activity = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), 2.0))
    rel = activity / (float(activity.mean()) + 1e-6)
    return np.clip(rel, 0.3, 3.0) ** gamma
