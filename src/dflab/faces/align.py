"""Face alignment: a similarity transform from five key points to one fixed canonical template.

The template (TEMPLATE_5PT, unit square) is the ArcFace/InsightFace 112x112 five-point template divided
by 112 and made exactly left/right symmetric. Its points, in this order:
    0 eye centre on the image left   (0.3427, 0.4607)
    1 eye centre on the image right  (0.6573, 0.4607)
    2 nose tip                       (0.5000, 0.6405)
    3 mouth corner on the image left (0.3697, 0.8240)
    4 mouth corner on the image right(0.6303, 0.8240)
With `padding` p the unit square is shrunk into the middle of the output: a template point t lands at
(t + p) / (1 + 2p) * size, so padding=0 is the tight ArcFace crop and padding=0.25 (default) leaves a
quarter of the face size of context on each side (forehead, jaw line and some background, which the
swap blender and the learned detector need). Changing these numbers changes every aligned dataset:
do not, without bumping the dataset versions that depend on them.

Eye centres are the means of the eye corners (see landmarks.eye_centers), not the iris, so gaze does not
move the crop.
"""

from __future__ import annotations

import numpy as np

from dflab.errors import BadMedia, NoFace
from dflab.faces import landmarks as L

TEMPLATE_5PT: np.ndarray = np.array(
    [
        [0.3427, 0.4607],
        [0.6573, 0.4607],
        [0.5000, 0.6405],
        [0.3697, 0.8240],
        [0.6303, 0.8240],
    ],
    dtype=np.float64,
)


def template_points(size: int = 256, padding: float = 0.25) -> np.ndarray:
    """The five template points in pixels of a size x size aligned image."""
    if size < 16 or padding < 0:
        raise ValueError("size must be >= 16 and padding >= 0")
    return (TEMPLATE_5PT + padding) / (1.0 + 2.0 * padding) * float(size)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2) key points from 478 FaceMesh landmarks in template order."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] < 2:
        raise NoFace(f"alignment needs FaceMesh landmarks (478, 3), got shape {pts.shape}")
    left, right = L.eye_centers(pts)
    return np.stack([left, right, pts[L.NOSE_TIP, :2], pts[L.MOUTH_LEFT, :2], pts[L.MOUTH_RIGHT, :2]])


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking src to dst: a 2x3 matrix.

    Umeyama's closed form, so the result is deterministic (no RANSAC) and exact for exact data.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise NoFace("the face key points coincide; cannot align")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def alignment_matrix(landmarks: np.ndarray, size: int = 256, padding: float = 0.25) -> np.ndarray:
    """The 2x3 matrix mapping frame pixels to aligned-crop pixels."""
    return similarity_matrix(five_points(landmarks), template_points(size, padding))


def align(rgb: np.ndarray, landmarks: np.ndarray, size: int = 256, padding: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face to the canonical template: (size x size x 3 aligned RGB, 2x3 matrix frame -> crop).

    Warp back with cv2.invertAffineTransform(M) and cv2.warpAffine onto the frame.
    """
    import cv2  # noqa: PLC0415

    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise BadMedia(f"expected an HxWx3 RGB image, got {getattr(rgb, 'shape', type(rgb).__name__)}")
    matrix = alignment_matrix(landmarks, size, padding)
    aligned = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return aligned, matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2+) points (extra columns are ignored)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    return pts @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]
