"""Index constants into the 478-point MediaPipe FaceMesh (468 mesh points + 2 x 5 iris points).

Sides: LEFT / RIGHT here mean the side *as seen in the image* (a frontal face's right eye appears on the
image's left). MediaPipe's own FACEMESH_LEFT_EYE names the subject's side, i.e. the opposite; we follow
the image convention because every consumer (EAR curves, alignment, pose) works in image coordinates.
The contour tuples are ordered around the shape (so they can be drawn or filled as polygons); tests check
them against MediaPipe's connection sets.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

NUM_LANDMARKS = 478

# Eye-aspect-ratio sets (Soukupova & Cech 2016 order): p1 outer/inner corner, p2 & p3 upper lid,
# p4 the other corner, p5 & p6 lower lid, with p2 above p6 and p3 above p5.
LEFT_EYE_EAR: tuple[int, ...] = (33, 160, 158, 133, 153, 144)  # image-left eye (subject's right)
RIGHT_EYE_EAR: tuple[int, ...] = (362, 385, 387, 263, 373, 380)  # image-right eye (subject's left)
EYE_EAR_SETS: dict[str, tuple[int, ...]] = {"left": LEFT_EYE_EAR, "right": RIGHT_EYE_EAR}

# Full eye contours (16 points, ordered: lower lid from the corner, then upper lid back).
LEFT_EYE_CONTOUR: tuple[int, ...] = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
RIGHT_EYE_CONTOUR: tuple[int, ...] = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)

# Eye corners (outer = towards the ear).
LEFT_EYE_OUTER, LEFT_EYE_INNER = 33, 133
RIGHT_EYE_INNER, RIGHT_EYE_OUTER = 362, 263

# Iris centres and rings (present only with refine_landmarks=True).
LEFT_IRIS_CENTER = 468
RIGHT_IRIS_CENTER = 473
LEFT_IRIS: tuple[int, ...] = (469, 470, 471, 472)
RIGHT_IRIS: tuple[int, ...] = (474, 475, 476, 477)

# Face oval (36 points, clockwise in the image from the top of the forehead): the outline for masks.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)

# Lips, ordered from the image-left mouth corner along the lower lip and back along the upper lip.
LIPS_OUTER: tuple[int, ...] = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER: tuple[int, ...] = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)

# Mouth opening: inner-lip midpoints (upper 13, lower 14) and inner corners (78, 308).
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_INNER_LEFT, MOUTH_INNER_RIGHT = 78, 308
MOUTH_LEFT, MOUTH_RIGHT = 61, 291  # outer mouth corners

NOSE_TIP = 1
CHIN = 152
FOREHEAD_TOP = 10

# Head pose: the six points of the classic generic-model solvePnP recipe, in this order ...
POSE_POINTS: tuple[int, ...] = (NOSE_TIP, CHIN, LEFT_EYE_OUTER, RIGHT_EYE_OUTER, MOUTH_LEFT, MOUTH_RIGHT)
# ... and the matching generic 3-D face (arbitrary units, inter-ocular distance 450), in OpenCV camera
# axes: x to the image right, y down, z away from the camera, so a face looking straight at the camera
# gives the identity rotation. It is the widely used generic six-point model with its vertical
# proportions moved to where MediaPipe puts these points (eye corners ~0.47 x inter-ocular distance above
# the nose tip, chin ~0.85 below, mouth half-width ~0.3; measured on frontal portraits); the original
# numbers read frontal MediaPipe faces as pitched up by ~25 degrees. Solve with cv2.SOLVEPNP_SQPNP:
# the default iterative solver can land on the mirrored (180 degree) solution with six points.
CANONICAL_POSE_MODEL_3D: np.ndarray = np.array(
    [
        [0.0, 0.0, 0.0],  # nose tip
        [0.0, 380.0, 65.0],  # chin
        [-225.0, -210.0, 135.0],  # image-left eye outer corner
        [225.0, -210.0, 135.0],  # image-right eye outer corner
        [-135.0, 150.0, 125.0],  # image-left mouth corner
        [135.0, 150.0, 125.0],  # image-right mouth corner
    ],
    dtype=np.float64,
)

# Central face (eyes, brows' inner ends, nose, mouth): the region a face swap replaces. Comparing the
# head pose estimated from these points with the pose from WHOLE_FACE_POINTS (which adds the outline)
# is the "inconsistent head pose" cue (Yang, Li & Lyu 2019).
CENTRAL_FACE_POINTS: tuple[int, ...] = (
    LEFT_EYE_OUTER, LEFT_EYE_INNER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER,
    55, 285,  # inner brow ends
    168, 6, 197, 195, 5, 4, NOSE_TIP,  # nose bridge to tip
    98, 327,  # nostril wings
    MOUTH_LEFT, MOUTH_RIGHT, 0, 17,  # mouth corners, upper and lower lip midpoints
)
WHOLE_FACE_POINTS: tuple[int, ...] = CENTRAL_FACE_POINTS + tuple(i for i in FACE_OVAL if i not in CENTRAL_FACE_POINTS)


def _check(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"landmarks must be an (N, 2|3) array, got shape {pts.shape}")
    return pts


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres in image coordinates: the mean of the two corners of each eye.

    Corners rather than iris centres, because the iris moves with gaze and the corners do not.
    """
    pts = _check(landmarks)[:, :2]
    left = (pts[LEFT_EYE_OUTER] + pts[LEFT_EYE_INNER]) / 2.0
    right = (pts[RIGHT_EYE_OUTER] + pts[RIGHT_EYE_INNER]) / 2.0
    return left, right


def eye_aspect_ratio(landmarks: np.ndarray, eye: str | Sequence[int]) -> float:
    """Eye aspect ratio (|p2-p6| + |p3-p5|) / (2 |p1-p4|) in the image plane.

    `eye` is "left" / "right" (image side) or six indices in p1..p6 order. Open eyes give roughly
    0.25-0.35, closed eyes below ~0.15. Returns NaN when the eye has no width (degenerate landmarks),
    so callers can tell "not measurable" from "closed".
    """
    idx = EYE_EAR_SETS[eye] if isinstance(eye, str) else tuple(eye)
    if len(idx) != 6:
        raise ValueError("an eye needs exactly six landmark indices (p1..p6)")
    p = _check(landmarks)[list(idx), :2]
    width = float(np.linalg.norm(p[0] - p[3]))
    if width <= 1e-9:
        return float("nan")
    vertical = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
    return vertical / (2.0 * width)


def mouth_aspect_ratio(landmarks: np.ndarray) -> float:
    """Inner-lip opening over inner-mouth width (0 when closed, ~0.5+ wide open); NaN if degenerate."""
    p = _check(landmarks)[:, :2]
    width = float(np.linalg.norm(p[MOUTH_INNER_LEFT] - p[MOUTH_INNER_RIGHT]))
    if width <= 1e-9:
        return float("nan")
    return float(np.linalg.norm(p[UPPER_LIP_INNER] - p[LOWER_LIP_INNER])) / width


def inter_ocular_distance(landmarks: np.ndarray) -> float:
    """Distance between the two outer eye corners: the usual normaliser for landmark errors."""
    p = _check(landmarks)[:, :2]
    return float(np.linalg.norm(p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER]))
