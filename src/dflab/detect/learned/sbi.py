"""Pseudo-fakes made from real faces: self-blended images (SBI) and face X-ray style blends.

Self-blended images (Shiohara & Yamasaki, CVPR 2022): a slightly transformed copy of a face (colour
jitter, sharpen or blur, a small scale/translation) is blended back into the same face through a random
soft mask derived from the landmark hull. The result keeps the identity and the expression but carries
the generic traces every face swap leaves: a blending boundary, a colour or sharpness mismatch between
the inner face and its surroundings, a slight misregistration. A classifier that learns those traces
from real faces alone generalises to swap methods it never saw, which is why SBI beats detectors trained
on one dataset's fakes when tested on another.

Face X-ray style blends (Li et al. 2020) do the same with a *different* real face as the source, colour
matched to the target inside the mask.

Everything here works on aligned crops (uint8 RGB, HxWx3) with their 478 FaceMesh landmarks in crop
pixels, and takes an explicit numpy Generator, so a seed reproduces every sample.
"""

from __future__ import annotations

import cv2
import numpy as np

from dflab.faces.landmarks import FACE_OVAL

# Landmark subsets whose hulls give differently shaped masks: the whole oval (classic swap region), and
# the inner face from the brows down (what DeepFakes/FaceSwap replace, without forehead).
_OVAL = np.array(sorted(FACE_OVAL))
_BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # as in the SBI paper: mostly full blends


def hull_mask(points: np.ndarray, shape: tuple[int, int], which: str = "oval") -> np.ndarray:
    """A 0/1 float32 mask: the convex hull of the face oval, or of the inner face (brows to chin)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    if which == "oval":
        region = pts[_OVAL]
    else:  # "inner": every landmark at or below the brow line, which drops the upper forehead
        brow_y = np.percentile(pts[_OVAL, 1], 15)
        region = pts[pts[:, 1] >= brow_y]
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(region).astype(np.int32)), 1)
    return mask.astype(np.float32)


def elastic_deform(mask: np.ndarray, rng: np.random.Generator, strength: float = 0.04) -> np.ndarray:
    """Warp a mask with a smooth random displacement field, so its outline is not a clean hull."""
    h, w = mask.shape
    sigma = max(2.0, 0.08 * w)
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    scale = strength * w / (np.abs(np.concatenate([dx, dy])).max() + 1e-6)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, grid_x + dx * scale, grid_y + dy * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def random_soft_mask(points: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The SBI blending mask: a landmark hull, randomly eroded or dilated, elastically deformed, blurred
    twice with random kernels (so the edge is soft but sometimes sharp), times a random blend ratio."""
    h, w = shape
    mask = hull_mask(points, shape, "oval" if rng.random() < 0.5 else "inner")
    radius = int(rng.integers(-3, 4) * w / 160)
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
        mask = cv2.dilate(mask, kernel) if radius > 0 else cv2.erode(mask, kernel)
    mask = elastic_deform(mask, rng)
    for _ in range(2):
        sigma = rng.uniform(0.5, 4.0) * w / 160
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask = mask / (mask.max() + 1e-6)
    return (mask * rng.choice(_BLEND_RATIOS)).astype(np.float32)


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-channel shift, hue/saturation change, brightness/contrast: the colour mismatch of a swap."""
    img = rgb.astype(np.float32)
    img += rng.uniform(-20, 20, 3).astype(np.float32)  # RGB shift
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180
    hsv[..., 1] *= rng.uniform(0.8, 1.2)
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    img = (img - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-15, 15)
    return np.clip(img, 0, 255).astype(np.uint8)


def sharpen_or_blur(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Either an unsharp mask or a Gaussian blur: generated faces are rarely as sharp as their frame."""
    sigma = rng.uniform(0.5, 1.5) * rgb.shape[1] / 160
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
    if rng.random() < 0.5:
        return blurred
    amount = rng.uniform(0.3, 1.0)
    return cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)


def small_affine(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale by up to 5 % and shift by up to 3 % of the size: a slight misregistration."""
    h, w = rgb.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * w
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    matrix[:, 2] += (tx, ty)
    return cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """source * mask + target * (1 - mask), rounded back to uint8."""
    m = mask[..., None].astype(np.float32)
    out = source.astype(np.float32) * m + target.astype(np.float32) * (1.0 - m)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def self_blend(rgb: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An SBI pseudo-fake of an aligned real face: (fake crop, blending mask in [0, 1])."""
    source = rgb
    # Apply the source transforms in a random subset and order, each at least sometimes.
    steps = [colour_jitter, sharpen_or_blur, small_affine]
    rng.shuffle(steps)
    applied = 0
    for step in steps:
        if rng.random() < 0.7:
            source = step(source, rng)
            applied += 1
    if applied == 0:
        source = colour_jitter(source, rng)
    mask = random_soft_mask(points, rgb.shape[:2], rng)
    return blend(source, rgb, mask), mask


def match_colour(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the source's Lab mean/std inside the mask to the target's (Reinhard transfer)."""
    inside = mask > 0.5
    if inside.sum() < 16:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    tgt = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src[inside].mean(0), src[inside].std(0) + 1e-3
    t_mean, t_std = tgt[inside].mean(0), tgt[inside].std(0) + 1e-3
    out = (src - s_mean) / s_std * t_std + t_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def xray_blend(
    target: np.ndarray, target_points: np.ndarray, source: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A face X-ray style pseudo-fake: another real face (aligned to the same template), colour matched
    to the target, blended into it through the target's random soft mask."""
    mask = random_soft_mask(target_points, target.shape[:2], rng)
    donor = match_colour(source, target, mask)
    if rng.random() < 0.5:
        donor = sharpen_or_blur(donor, rng)
    return blend(donor, target, mask), mask
