"""Face region masks from FaceMesh landmarks: float32 HxW arrays in [0, 1] (pure numpy/cv2).

face_mask              convex hull of the face oval (brow line/forehead to chin, cheek to cheek)
inner_face_mask        the same, eroded: the part a face swap certainly replaced
boundary_band          a ring along the oval contour, half inside and half outside: where blending seams live
surrounding_skin_mask  a ring just outside the oval (forehead, ear sides, neck): skin the swap did not touch
Sizes that scale with the face are fractions of the face width (the oval's horizontal extent), so the
same call works for a 40 px face and a 600 px one.
"""

from __future__ import annotations

import numpy as np

from dflab.faces.landmarks import FACE_OVAL

_SHIFT = 4  # sub-pixel bits for cv2 polygon filling


def _hw(shape) -> tuple[int, int]:
    if len(shape) < 2 or int(shape[0]) <= 0 or int(shape[1]) <= 0:
        raise ValueError(f"mask shape must be (H, W[, C]) with positive sizes, got {shape}")
    return int(shape[0]), int(shape[1])


def _oval(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] < 2:
        raise ValueError(f"masks need FaceMesh landmarks (478, 3), got shape {pts.shape}")
    return pts[list(FACE_OVAL), :2]


def face_width(landmarks: np.ndarray) -> float:
    oval = _oval(landmarks)
    return float(oval[:, 0].max() - oval[:, 0].min())


def _disc(radius: int) -> np.ndarray:
    import cv2  # noqa: PLC0415

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _binary_face(landmarks: np.ndarray, shape) -> np.ndarray:
    import cv2  # noqa: PLC0415

    h, w = _hw(shape)
    hull = cv2.convexHull(np.round(_oval(landmarks) * (1 << _SHIFT)).astype(np.int32))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def _feather(mask: np.ndarray, feather_px: float) -> np.ndarray:
    out = mask.astype(np.float32)
    if feather_px > 0:
        import cv2  # noqa: PLC0415

        # sigma = feather_px / 2: the edge ramps from ~0 to ~1 over about 2 x feather_px.
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=feather_px / 2.0, borderType=cv2.BORDER_CONSTANT)
    return np.clip(out, 0.0, 1.0)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2  # noqa: PLC0415

    return cv2.dilate(mask, _disc(radius)) if radius > 0 else mask


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2  # noqa: PLC0415

    return cv2.erode(mask, _disc(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0) if radius > 0 else mask


def face_mask(landmarks: np.ndarray, shape, feather_px: float = 0) -> np.ndarray:
    """Convex hull of the face oval, optionally with a soft (Gaussian) edge."""
    return _feather(_binary_face(landmarks, shape), feather_px)


def inner_face_mask(landmarks: np.ndarray, shape, shrink: float = 0.1, feather_px: float = 0) -> np.ndarray:
    """The face mask eroded by `shrink` x face width (default 10%): clear of the swap's blending seam."""
    radius = int(round(shrink * face_width(landmarks)))
    return _feather(_erode(_binary_face(landmarks, shape), radius), feather_px)


def boundary_band(landmarks: np.ndarray, shape, width_px: float) -> np.ndarray:
    """A band of about width_px along the face-oval contour, half inside and half outside."""
    if width_px <= 0:
        raise ValueError("boundary band width must be > 0 pixels")
    mask = _binary_face(landmarks, shape)
    half = max(1, int(round(width_px / 2.0)))
    return (_dilate(mask, half) - _erode(mask, half)).astype(np.float32)


def surrounding_skin_mask(landmarks: np.ndarray, shape, width: float = 0.2, gap: float = 0.03) -> np.ndarray:
    """A ring outside the face oval (forehead, ear sides, neck), `width` x face width wide.

    It starts `gap` x face width away from the contour, so a swap's blended edge is left out.
    """
    mask = _binary_face(landmarks, shape)
    fw = face_width(landmarks)
    outer = _dilate(mask, max(1, int(round((gap + width) * fw))))
    inner = _dilate(mask, max(0, int(round(gap * fw))))
    return (outer & (1 - inner)).astype(np.float32)
