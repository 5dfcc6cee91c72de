"""Putting a generated face back into a frame: colour transfer, blend masks, and landmark smoothing.

All pure numpy (cv2 only for blurs, warps and the seamless clone), so each step has a known-answer test.
"""

from __future__ import annotations

import numpy as np


def colour_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard et al. 2001 in Lab: shift/scale `source` so its colour statistics inside `mask` match `target`'s.

    source, target: HxWx3 uint8 RGB of the same size; mask HxW in [0, 1]. Returns uint8 RGB.
    """
    import cv2  # noqa: PLC0415

    weight = (mask > 0.5).astype(bool)
    if weight.sum() < 16:
        return source.copy()
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    tgt = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src[weight].mean(axis=0), src[weight].std(axis=0) + 1e-3
    t_mean, t_std = tgt[weight].mean(axis=0), tgt[weight].std(axis=0) + 1e-3
    out = (src - s_mean) * np.clip(t_std / s_std, 0.5, 2.0) + t_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def feathered_mask(mask: np.ndarray, erode_px: int, feather_px: float) -> np.ndarray:
    """Erode a [0, 1] mask by erode_px, then blur its edge over ~2 x feather_px: the blend weight."""
    import cv2  # noqa: PLC0415

    m = (mask > 0.5).astype(np.uint8)
    if erode_px > 0:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1)))
    out = m.astype(np.float32)
    if feather_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=feather_px / 2.0, borderType=cv2.BORDER_CONSTANT)
    return np.clip(out, 0.0, 1.0)


def alpha_blend(background: np.ndarray, foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float32)
    return np.clip(background.astype(np.float32) * (1 - a) + foreground.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)


def seamless_blend(background: np.ndarray, foreground: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson blending (cv2.seamlessClone) of the masked foreground; falls back to alpha at the frame edge."""
    import cv2  # noqa: PLC0415

    binary = (mask > 0.5).astype(np.uint8) * 255
    ys, xs = np.nonzero(binary)
    h, w = binary.shape
    if len(xs) < 16 or xs.min() <= 1 or ys.min() <= 1 or xs.max() >= w - 2 or ys.max() >= h - 2:
        return alpha_blend(background, foreground, mask)  # seamlessClone refuses masks touching the border
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    fg = cv2.cvtColor(foreground, cv2.COLOR_RGB2BGR)
    bg = cv2.cvtColor(background, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(cv2.seamlessClone(fg, bg, binary, centre, cv2.NORMAL_CLONE), cv2.COLOR_BGR2RGB)


def one_euro(values: np.ndarray, times: np.ndarray, min_cutoff: float = 1.0, beta: float = 0.05,
             d_cutoff: float = 1.0) -> np.ndarray:  # fmt: skip
    """One Euro filter (Casiez et al. 2012) along axis 0: heavy smoothing when still, little when moving fast.

    values (T, ...) sampled at times (T,) seconds. min_cutoff in Hz sets jitter removal at rest; beta how
    fast the cutoff rises with speed (in value units per second).
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    deriv = np.zeros_like(x[0])
    for i in range(1, len(x)):
        dt = max(float(times[i] - times[i - 1]), 1e-3)
        a_d = 1.0 / (1.0 + 1.0 / (2 * np.pi * d_cutoff * dt))
        deriv = a_d * (x[i] - x[i - 1]) / dt + (1 - a_d) * deriv
        cutoff = min_cutoff + beta * np.abs(deriv)
        a = 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff * dt))
        out[i] = a * x[i] + (1 - a) * out[i - 1]
    return out


def smooth_track(values: np.ndarray, times: np.ndarray, **kwargs) -> np.ndarray:
    """Zero-lag smoothing: the One Euro filter run forwards and backwards, averaged (no delay on motion)."""
    forward = one_euro(values, times, **kwargs)
    backward = one_euro(values[::-1], times[::-1][0] - times[::-1], **kwargs)[::-1]
    return (forward + backward) / 2.0
