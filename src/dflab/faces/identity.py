"""Identity embeddings: dlib's 128-d ResNet face descriptor (~58 ms per face on one core).

The descriptor is computed on dlib's own aligned 150x150 chip, placed by dlib's 5-point shape
predictor run inside the face box we give it. The predictor lands on the same points from a
MediaPipe landmark box as from dlib's HOG detector box (checked on the face_recognition photos),
so no box conversion is needed. Two photos of one person are usually closer than 0.6.
"""

from __future__ import annotations

import numpy as np

from dflab.errors import BadMedia, NoFace
from dflab.faces import models

SAME_PERSON_THRESHOLD = 0.6  # dlib's published operating point (99.38% on LFW)
EMBEDDING_DIM = 128


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise BadMedia(f"expected an HxWx3 RGB image, got {getattr(rgb, 'shape', type(rgb).__name__)}")
    if rgb.dtype != np.uint8:
        raise BadMedia(f"expected 8-bit RGB pixels, got dtype {rgb.dtype}")
    return np.ascontiguousarray(rgb)


def _face_rect(image: np.ndarray, box: tuple[float, float, float, float]):
    import dlib  # noqa: PLC0415

    h, w = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(np.isfinite([x0, y0, x1, y1])) or x1 - x0 < 4 or y1 - y0 < 4:
        raise NoFace(f"face box {box} is empty or invalid")
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise NoFace(f"face box {box} lies outside the {w}x{h} image")
    return dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))


def embed(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """128-d float32 identity descriptor of the face inside box (x0, y0, x1, y1) of an RGB image."""
    image = _check_rgb(rgb)
    rect = _face_rect(image, box)
    with models.MODEL_LOCK:
        shape = models.model("dlib_shape5")(image, rect)
        descriptor = models.model("dlib_encoder").compute_face_descriptor(image, shape)
    return np.asarray(descriptor, dtype=np.float32)


def face_chip(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The aligned 150x150 RGB chip `embed` describes (dlib's 5 points placed inside the box, padding 0.25): its
    descriptor, `dlib_encoder.compute_face_descriptor(chip)`, is `embed(rgb, box)` bit for bit. A few ms, where
    the descriptor takes 60-90 ms with the GIL held, so the chip can be described in another process."""
    import dlib  # noqa: PLC0415

    image = _check_rgb(rgb)
    rect = _face_rect(image, box)
    with models.MODEL_LOCK:
        shape = models.model("dlib_shape5")(image, rect)
    return dlib.get_face_chip(image, shape, size=150, padding=0.25)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors; below SAME_PERSON_THRESHOLD (0.6) = same person."""
    va, vb = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if va.shape != vb.shape:
        raise ValueError(f"descriptor sizes differ: {va.shape} vs {vb.shape}")
    return float(np.linalg.norm(va - vb))
