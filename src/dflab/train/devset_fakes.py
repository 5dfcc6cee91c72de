"""Frame-level fakes for the development set: classic graphics swaps, expression edits, self-blends.

Each maker works in an aligned face crop (the 5-point template of dflab.faces.align, at a size near the
face's own so resampling adds little blur), then pastes the result back through a feathered mask, so
every pixel outside the manipulated region stays the camera's. All take and return HxWx3 uint8 RGB.
The crops and masks follow the three families of public benchmarks: identity swaps (FaceSwap-style
warp + colour transfer + blend), reenactment-like edits of the lower face (Face2Face / NeuralTextures)
and self-blended images (SBI, made temporally consistent by reusing one random draw for every frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dflab.faces import landmarks as L
from dflab.faces.align import alignment_matrix, transform_points
from dflab.faces.masks import face_mask
from dflab.make.swap.blend import (
    alpha_blend,
    colour_transfer,
    feathered_mask,
    seamless_blend,
)

# The lower face a reenactment changes: the oval below the nose plus the lips.
_NOSE_BRIDGE = 6


@dataclass(frozen=True)
class FaceCrop:
    """A face warped to the canonical template: its pixels, landmarks in crop pixels, and the warp."""

    rgb: np.ndarray
    points: np.ndarray  # (478, 2) landmarks in crop pixels
    matrix: np.ndarray  # 2x3 frame -> crop

    @property
    def size(self) -> int:
        return self.rgb.shape[0]


def crop_size_for(landmarks: np.ndarray) -> int:
    """An aligned-crop size near the face's size in the frame (multiple of 16, 128-512 px)."""
    width = float(np.ptp(np.asarray(landmarks)[list(L.FACE_OVAL), 0]))
    return int(np.clip(round(width * 1.6 / 16) * 16, 128, 512))


def face_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> FaceCrop:
    matrix = alignment_matrix(landmarks, size, padding=0.25)
    crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return FaceCrop(crop, transform_points(np.asarray(landmarks)[:, :2], matrix)[:, :2], matrix)


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How different two aligned faces' landmark layouts are (pose and expression), in crop fractions."""
    idx = list(L.FACE_OVAL) + list(L.LIPS_OUTER) + [L.NOSE_TIP, L.CHIN]
    return float(np.linalg.norm(a[idx] - b[idx], axis=1).mean())


def paste_back(frame: np.ndarray, target: FaceCrop, edited: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Warp an edited crop and its [0, 1] mask back onto the frame; outside the mask the frame is unchanged."""
    h, w = frame.shape[:2]
    inverse = cv2.invertAffineTransform(target.matrix)
    back = cv2.warpAffine(edited, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    alpha = cv2.warpAffine(mask.astype(np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    return alpha_blend(frame, back, np.clip(alpha, 0.0, 1.0))


def _hull(points: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(np.float32)


def _blend_in_crop(target: FaceCrop, donor: np.ndarray, region: np.ndarray, seamless: bool) -> tuple[np.ndarray, np.ndarray]:
    """Colour-match the donor to the target inside `region`, blend, and return (crop, paste-back mask)."""
    feather = max(2.0, target.size / 40)
    inner = feathered_mask(region, erode_px=int(target.size / 64), feather_px=feather)
    donor = colour_transfer(donor, target.rgb, region)
    if seamless:
        edited = seamless_blend(target.rgb, donor, (inner > 0.5).astype(np.float32))
        # Poisson blending changes the whole masked area smoothly; paste it back through a wider feather.
        return edited, feathered_mask(region, erode_px=0, feather_px=feather)
    return alpha_blend(target.rgb, donor, inner), inner


def swap_face(frame: np.ndarray, target: FaceCrop, donor: FaceCrop, seamless: bool) -> np.ndarray:
    """Put the donor's face (another person) on the target: landmark-fitted affine warp of the donor crop,
    Reinhard colour transfer, feathered-alpha or Poisson blend inside the target's face oval."""
    idx = list(L.FACE_OVAL) + list(L.POSE_POINTS)
    matrix, _ = cv2.estimateAffinePartial2D(donor.points[idx].astype(np.float32), target.points[idx].astype(np.float32))
    warped = donor.rgb if matrix is None else cv2.warpAffine(
        donor.rgb, matrix, (target.size, target.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    region = face_mask(target.points, (target.size, target.size))
    edited, mask = _blend_in_crop(target, warped, region, seamless)
    return paste_back(frame, target, edited, mask)


def lower_face_region(points: np.ndarray, size: int) -> np.ndarray:
    """Hull of the face oval below the nose bridge, with the lips: what a reenactment redraws."""
    oval = points[list(L.FACE_OVAL)]
    below = oval[oval[:, 1] > points[_NOSE_BRIDGE, 1]]
    return _hull(np.vstack([below, points[list(L.LIPS_OUTER)], points[[L.NOSE_TIP]]]), size)


def edit_expression(frame: np.ndarray, target: FaceCrop, donor: FaceCrop, seamless: bool) -> np.ndarray:
    """Paste the lower face of the same person from another moment (both crops share the 5-point
    template, so eyes and nose line up and the mouth keeps the donor moment's shape)."""
    region = np.maximum(lower_face_region(target.points, target.size), lower_face_region(donor.points, donor.size))
    edited, mask = _blend_in_crop(target, donor.rgb, region, seamless)
    return paste_back(frame, target, edited, mask)


def self_blend_frame(frame: np.ndarray, target: FaceCrop, seed: int) -> np.ndarray:
    """An SBI pseudo-fake of this frame's face; the same seed on every frame of a clip draws the same
    transform, mask variant and misregistration, so the blend is temporally consistent."""
    from dflab.train.sbi import self_blend

    fake, mask = self_blend(target.rgb, target.points, np.random.default_rng(seed))
    return paste_back(frame, target, fake, mask)


@dataclass(frozen=True)
class Degradation:
    """One way the footage is re-published: a central crop, a downscale and an H.264 CRF."""

    name: str
    crf: int
    scale: float = 1.0
    crop: float = 1.0


DEGRADATIONS = (
    Degradation("crf23", 23),
    Degradation("crf32", 32),
    Degradation("half", 27, scale=0.5),
    Degradation("crop", 28, crop=0.8),
)


def degrade(rgb: np.ndarray, how: Degradation) -> np.ndarray:
    """The crop and downscale of `how` (the CRF is applied by the encoder)."""
    out = rgb
    if how.crop < 1.0:
        h, w = out.shape[:2]
        ch, cw = int(h * how.crop), int(w * how.crop)
        y, x = (h - ch) // 2, (w - cw) // 2
        out = out[y:y + ch, x:x + cw]
    if how.scale != 1.0:
        h, w = out.shape[:2]
        out = cv2.resize(out, (max(2, int(w * how.scale)), max(2, int(h * how.scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out)


def paste_region(frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
                 donor: np.ndarray | None = None, donor_landmarks: np.ndarray | None = None) -> np.ndarray:
    """A crude cut-and-paste edit with no blending at all: a rectangle over the inner face (its extent jittered
    by up to 10 % per side) replaced by the same region of `donor` (another picture of a face, resized to fit) or,
    without one, by the face's own region mirrored and/or enlarged 5-15 %; then recoloured (a gain per channel of
    0.85-1.2, an offset of -10..15). The rectangle keeps its hard edges, as a quick editor's paste does."""
    h, w = frame.shape[:2]
    pts = np.asarray(landmarks)[:, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    fw, fh = x1 - x0, y1 - y0
    # the inner face: between the cheeks, from the brows to the chin (the landmarks' extent shrunk at the sides)
    jitter = rng.uniform(-0.1, 0.1, 4)
    bx0 = int(np.clip(x0 + (0.12 + jitter[0]) * fw, 0, w - 2))
    bx1 = int(np.clip(x1 - (0.12 + jitter[1]) * fw, bx0 + 2, w))
    by0 = int(np.clip(y0 + (0.15 + jitter[2]) * fh, 0, h - 2))
    by1 = int(np.clip(y1 + jitter[3] * fh, by0 + 2, h))
    bw, bh = bx1 - bx0, by1 - by0
    if donor is not None and donor_landmarks is not None:
        dp = np.asarray(donor_landmarks)[:, :2]
        dx0, dy0 = dp.min(axis=0)
        dx1, dy1 = dp.max(axis=0)
        dw, dh = dx1 - dx0, dy1 - dy0
        sx0, sx1 = int(max(0, dx0 + 0.12 * dw)), int(min(donor.shape[1], dx1 - 0.12 * dw))
        sy0, sy1 = int(max(0, dy0 + 0.15 * dh)), int(min(donor.shape[0], dy1))
        source = donor[sy0:sy1, sx0:sx1]
    else:
        source = frame[by0:by1, bx0:bx1]
        if rng.random() < 0.7:
            source = source[:, ::-1]
        grow = rng.uniform(1.05, 1.15)
        big = cv2.resize(source, (max(2, round(bw * grow)), max(2, round(bh * grow))), interpolation=cv2.INTER_CUBIC)
        oy, ox = (big.shape[0] - bh) // 2, (big.shape[1] - bw) // 2
        source = big[oy:oy + bh, ox:ox + bw]
    patch = cv2.resize(np.ascontiguousarray(source), (bw, bh), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    patch = patch * rng.uniform(0.85, 1.2, 3).astype(np.float32) + np.float32(rng.uniform(-10, 15))
    out = frame.copy()
    out[by0:by1, bx0:bx1] = np.clip(patch, 0, 255).astype(np.uint8)
    return out
