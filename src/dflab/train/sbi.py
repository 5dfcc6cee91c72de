"""Pseudo-fakes made from real faces: self-blended images (SBI) and face X-ray style blends.

Self-blended images (Shiohara & Yamasaki, CVPR 2022, and their public code): one copy of a face gets a
"source-target" augmentation (colour: RGB shift, hue/saturation/value, brightness/contrast; then either a
downscale-upscale or a sharpen), the source copy and the blending mask get a small affine shift/scale,
the mask (a landmark hull in one of several variants) is elastically deformed and blurred, and the
source is blended into the target with a random ratio. Which copy gets the augmentation is random: in
half the samples it is the *target* (the background), so the "real" half of a pair carries the same
colour changes and colour itself is never the cue; only the inconsistency across the mask boundary is.
A classifier that learns those traces from real faces alone generalises to swap methods it never saw.

Face X-ray style blends (Li et al. 2020) do the same with a *different* real face as the source, colour
matched to the target inside the mask.

Everything works on aligned crops (uint8 RGB, HxWx3) with their 478 FaceMesh landmarks in crop pixels and
takes an explicit numpy Generator, so a seed reproduces every sample. Pixel sizes in the paper's recipe
(5-25 px kernels for a ~200 px wide face) are scaled by the face's width in the crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from dflab.faces.landmarks import FACE_OVAL, LEFT_EYE_CONTOUR, LIPS_OUTER, NOSE_TIP, RIGHT_EYE_CONTOUR

_OVAL = np.array(FACE_OVAL)
_BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # as in the SBI paper: mostly full blends
# FaceMesh brow and nose points, for the "components" mask (eyes + brows, nose, mouth; SBI's variant 3).
_LEFT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
_RIGHT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
_NOSE = (168, 6, 197, 195, 5, 4, NOSE_TIP, 19, 94, 2, 98, 327, 129, 358, 64, 294, 48, 278, 115, 344)
_COMPONENTS = (
    np.array(LEFT_EYE_CONTOUR + _LEFT_BROW),
    np.array(RIGHT_EYE_CONTOUR + _RIGHT_BROW),
    np.array(_NOSE),
    np.array(LIPS_OUTER),
)
MASK_VARIANTS = ("oval", "no_forehead", "extended", "components", "subset")


def _fill_hull(mask: np.ndarray, pts: np.ndarray) -> None:
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1)


def hull_mask(points: np.ndarray, shape: tuple[int, int], which: str = "oval",
              rng: np.random.Generator | None = None) -> np.ndarray:
    """A 0/1 float32 landmark-hull mask. Variants (SBI's random_get_hull, adapted to FaceMesh):
    oval = the whole face with forehead; no_forehead = brows down (what DeepFakes/FaceSwap replace);
    extended = the oval with the forehead pushed up; components = union of eye+brow, nose and mouth hulls
    (a random non-empty subset); subset = the hull of a random 40-90 % of the mesh points."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    rng = rng or np.random.default_rng(0)
    mask = np.zeros(shape, np.uint8)
    oval = pts[_OVAL]
    if which == "oval":
        _fill_hull(mask, oval)
    elif which == "no_forehead":
        brow_y = np.percentile(oval[:, 1], 15)
        _fill_hull(mask, pts[pts[:, 1] >= brow_y])
    elif which == "extended":
        centre_y = pts[NOSE_TIP, 1]
        height = oval[:, 1].max() - oval[:, 1].min()
        up = oval.copy()
        above = up[:, 1] < centre_y
        up[above, 1] -= rng.uniform(0.05, 0.2) * height * (centre_y - up[above, 1]) / max(centre_y - oval[:, 1].min(), 1.0)
        _fill_hull(mask, up)
    elif which == "components":
        chosen = [c for c in _COMPONENTS if rng.random() < 0.7] or [_COMPONENTS[int(rng.integers(len(_COMPONENTS)))]]
        for comp in chosen:
            _fill_hull(mask, pts[comp])
        # Grow the parts by ~8 % of the face width: a swap replaces the skin around an eye, not just the eye.
        r = max(1, int(0.08 * (oval[:, 0].max() - oval[:, 0].min())))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    elif which == "subset":
        mesh = pts[:468]
        keep = rng.random(len(mesh)) < rng.uniform(0.4, 0.9)
        _fill_hull(mask, mesh[keep] if keep.sum() >= 3 else mesh)
    else:
        raise ValueError(f"unknown mask variant {which!r}")
    return mask.astype(np.float32)


def elastic_deform(mask: np.ndarray, rng: np.random.Generator, strength: float = 0.04) -> np.ndarray:
    """Warp a mask with a smooth random displacement field, so its outline is not a clean hull."""
    h, w = mask.shape
    sigma = max(2.0, 0.05 * w)
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    scale = strength * w / (np.abs(np.concatenate([dx, dy])).max() + 1e-6)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, grid_x + dx * scale, grid_y + dy * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _odd(x: float) -> int:
    k = max(3, int(round(x)))
    return k if k % 2 else k + 1


def soften_mask(mask: np.ndarray, rng: np.random.Generator, face_width: float | None = None) -> np.ndarray:
    """SBI's get_blend_mask: blur, keep only the fully inside part (an erosion of random size), blur again
    with a random kernel, normalise to a peak of 1. Some edges end sharp, some very soft. Kernel sizes
    follow the paper's for a ~200 px wide face, scaled to `face_width` (default: the mask's own width)."""
    if face_width is None:
        cols = np.flatnonzero(mask.max(0) > 0)
        face_width = float(cols[-1] - cols[0] + 1) if len(cols) else float(mask.shape[1])
    s = max(face_width, 8.0) / 200.0
    blurred = cv2.GaussianBlur(mask, (_odd(rng.integers(5, 26) * s),) * 2, 0)
    blurred = blurred / (blurred.max() + 1e-6)
    blurred[blurred < 1 - 1e-3] = 0.0
    if blurred.max() == 0:  # a thin component: the erosion ate it; keep the raw hull instead
        blurred = mask.copy()
    blurred = cv2.GaussianBlur(blurred, (_odd(rng.integers(5, 26) * s),) * 2, float(rng.integers(5, 46)) * s)
    return (blurred / (blurred.max() + 1e-6)).astype(np.float32)


def random_soft_mask(points: np.ndarray, shape: tuple[int, int], rng: np.random.Generator,
                     variant: str | None = None) -> np.ndarray:
    """The SBI blending mask: a random hull variant, elastically deformed, softened, times a blend ratio."""
    which = variant or MASK_VARIANTS[int(rng.integers(len(MASK_VARIANTS)))]
    mask = elastic_deform(hull_mask(points, shape, which, rng), rng)
    face_width = float(np.ptp(np.asarray(points)[_OVAL, 0]))
    return (soften_mask(mask, rng, face_width) * rng.choice(_BLEND_RATIOS)).astype(np.float32)


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB shift (p 0.3, +-20), hue/saturation/value, brightness/contrast +-10 %: a swap's colour mismatch."""
    img = rgb.astype(np.float32)
    if rng.random() < 0.3:
        img += rng.uniform(-20, 20, 3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180
    hsv[..., 1] *= rng.uniform(0.85, 1.15)
    hsv[..., 2] *= rng.uniform(0.9, 1.1)
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    img = (img - 128.0) * rng.uniform(0.9, 1.1) + 128.0 + rng.uniform(-0.1, 0.1) * 255
    return np.clip(img, 0, 255).astype(np.uint8)


def downscale(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's RandomDownScale: nearest-neighbour down by 2-4x, linear back up (a low-resolution generator)."""
    h, w = rgb.shape[:2]
    f = rng.uniform(2.0, 4.0)
    small = cv2.resize(rgb, (max(8, int(w / f)), max(8, int(h / f))), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def sharpen(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Albumentations' Sharpen (alpha 0.2-0.5, lightness 0.5-1): a 3x3 kernel mixed with identity."""
    alpha, lightness = rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0)
    kernel = np.array([[-1, -1, -1], [-1, 8 + lightness, -1], [-1, -1, -1]], np.float32)
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1.0
    k = (1 - alpha) * identity + alpha * kernel
    return np.clip(cv2.filter2D(rgb.astype(np.float32), -1, k), 0, 255).astype(np.uint8)


def source_transform(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source-target augmentation: colour, then one of downscale or sharpen."""
    out = colour_jitter(rgb, rng)
    return downscale(out, rng) if rng.random() < 0.5 else sharpen(out, rng)


def sharpen_or_blur(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Either a sharpen or a Gaussian blur (for X-ray blends: generated faces are rarely as sharp)."""
    if rng.random() < 0.5:
        return sharpen(rgb, rng)
    return cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.5) * rgb.shape[1] / 160)


def affine_matrix(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """SBI's randaffine: shift x by +-3 %, y by +-1.5 %, scale 0.95-1/0.95, about the centre."""
    h, w = shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, rng.uniform(0.95, 1 / 0.95))
    matrix[:, 2] += (rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.015, 0.015) * h)
    return matrix


def small_affine(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slight misregistration of an image (see affine_matrix)."""
    h, w = rgb.shape[:2]
    return cv2.warpAffine(rgb, affine_matrix((h, w), rng), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT101)


def blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """source * mask + target * (1 - mask), rounded back to uint8."""
    m = mask[..., None].astype(np.float32)
    out = source.astype(np.float32) * m + target.astype(np.float32) * (1.0 - m)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def self_blend_pair(rgb: np.ndarray, points: np.ndarray, rng: np.random.Generator,
                    p_transform_target: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real, fake, mask): an SBI pseudo-fake and the real face it was blended into.

    With probability `p_transform_target` the source-target augmentation goes to the target, which is
    then also the returned real; otherwise to the source, and the real is `rgb` itself."""
    h, w = rgb.shape[:2]
    source, target = rgb, rgb
    if rng.random() < p_transform_target:
        target = source_transform(rgb, rng)
    else:
        source = source_transform(rgb, rng)
    hull = hull_mask(points, (h, w), MASK_VARIANTS[int(rng.integers(len(MASK_VARIANTS)))], rng)
    matrix = affine_matrix((h, w), rng)  # the source and its mask move together, as in the paper
    source = cv2.warpAffine(source, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    hull = cv2.warpAffine(hull, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    face_width = float(np.ptp(np.asarray(points)[_OVAL, 0]))
    mask = soften_mask(elastic_deform(hull, rng), rng, face_width) * rng.choice(_BLEND_RATIOS)
    mask = mask.astype(np.float32)
    return target, blend(source, target, mask), mask


def self_blend(rgb: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An SBI pseudo-fake of an aligned real face, with only the source transformed: (fake, mask).
    Outside the mask the fake is `rgb` pixel for pixel."""
    _, fake, mask = self_blend_pair(rgb, points, rng, p_transform_target=0.0)
    return fake, mask


def match_colour(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the source's Lab mean/std inside the mask to the target's (Reinhard transfer)."""
    inside = mask > 0.5 * mask.max() if mask.max() > 0 else mask > 0.5
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
