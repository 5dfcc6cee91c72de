"""Landmark constants and the pure EAR / mouth functions: known answers, MediaPipe's own topology, a real face."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dflab.faces import landmarks as L


def _blank() -> np.ndarray:
    return np.zeros((L.NUM_LANDMARKS, 3), np.float64)


def test_eye_aspect_ratio_known_answer():
    pts = _blank()
    # p1..p6 of the image-left eye: corners 4 px apart, lids 1 px and 2 px apart -> (1 + 2) / (2 * 4)
    for idx, xy in zip(L.LEFT_EYE_EAR, [(0, 0), (1, -0.5), (3, -1), (4, 0), (3, 1), (1, 0.5)]):
        pts[idx, :2] = xy
    assert L.eye_aspect_ratio(pts, "left") == pytest.approx(3 / 8)
    assert L.eye_aspect_ratio(pts, L.LEFT_EYE_EAR) == pytest.approx(3 / 8)
    assert math.isnan(L.eye_aspect_ratio(pts, "right"))  # all right-eye points coincide: not measurable
    with pytest.raises(ValueError):
        L.eye_aspect_ratio(pts, (1, 2, 3))


def test_mouth_aspect_ratio_known_answer():
    pts = _blank()
    pts[L.MOUTH_INNER_LEFT, :2] = (10, 50)
    pts[L.MOUTH_INNER_RIGHT, :2] = (50, 50)
    pts[L.UPPER_LIP_INNER, :2] = (30, 45)
    pts[L.LOWER_LIP_INNER, :2] = (30, 55)
    assert L.mouth_aspect_ratio(pts) == pytest.approx(10 / 40)


def _cycle_edges(order: tuple[int, ...]) -> set[frozenset[int]]:
    return {frozenset((a, b)) for a, b in zip(order, order[1:] + order[:1])}


def test_contours_follow_mediapipe_topology():
    from mediapipe.python.solutions import face_mesh_connections as C

    def edges(conn):
        return {frozenset(e) for e in conn}

    assert _cycle_edges(L.FACE_OVAL) == edges(C.FACEMESH_FACE_OVAL)
    assert _cycle_edges(L.LIPS_OUTER) | _cycle_edges(L.LIPS_INNER) == edges(C.FACEMESH_LIPS)
    # MediaPipe names eyes by the subject's side; ours are by image side, hence the swap.
    assert _cycle_edges(L.LEFT_EYE_CONTOUR) == edges(C.FACEMESH_RIGHT_EYE)
    assert _cycle_edges(L.RIGHT_EYE_CONTOUR) == edges(C.FACEMESH_LEFT_EYE)
    assert set(L.LEFT_EYE_EAR) <= set(L.LEFT_EYE_CONTOUR) and set(L.RIGHT_EYE_EAR) <= set(L.RIGHT_EYE_CONTOUR)
    assert set(L.LEFT_IRIS) == {i for e in C.FACEMESH_RIGHT_IRIS for i in e}
    assert len(L.CANONICAL_POSE_MODEL_3D) == len(L.POSE_POINTS)


def test_constants_on_a_real_face(obama_face):
    import cv2

    _, lm = obama_face
    xy = lm[:, :2]
    # image-left eye really is on the image left, iris centres sit inside their eye contours
    assert xy[L.LEFT_EYE_OUTER, 0] < xy[L.LEFT_EYE_INNER, 0] < xy[L.RIGHT_EYE_INNER, 0] < xy[L.RIGHT_EYE_OUTER, 0]
    for iris, contour in ((L.LEFT_IRIS_CENTER, L.LEFT_EYE_CONTOUR), (L.RIGHT_IRIS_CENTER, L.RIGHT_EYE_CONTOUR)):
        poly = xy[list(contour)].astype(np.float32)
        assert cv2.pointPolygonTest(poly, tuple(map(float, xy[iris])), False) > 0
    # EAR pairs: p2 above p6 and p3 above p5, roughly vertical; open eyes in a portrait
    for eye in (L.LEFT_EYE_EAR, L.RIGHT_EYE_EAR):
        p = xy[list(eye)]
        width = abs(p[3, 0] - p[0, 0])
        assert p[1, 1] < p[5, 1] and p[2, 1] < p[4, 1]
        assert abs(p[1, 0] - p[5, 0]) < 0.25 * width and abs(p[2, 0] - p[4, 0]) < 0.25 * width
    for side in ("left", "right"):
        assert 0.15 < L.eye_aspect_ratio(lm, side) < 0.45
    assert L.mouth_aspect_ratio(lm) < 0.3  # closed or nearly closed mouth in the official portrait
    # lips: inner midpoints between the outer corners, mouth below the nose, chin lowest
    assert xy[L.MOUTH_LEFT, 0] < xy[L.UPPER_LIP_INNER, 0] < xy[L.MOUTH_RIGHT, 0]
    assert xy[L.NOSE_TIP, 1] < xy[L.UPPER_LIP_INNER, 1] < xy[L.LOWER_LIP_INNER, 1] < xy[L.CHIN, 1]


def test_generic_pose_model_gives_frontal_pose_for_a_portrait(obama_face):
    import cv2

    rgb, lm = obama_face
    h, w = rgb.shape[:2]
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)
    image_pts = lm[list(L.POSE_POINTS), :2].astype(np.float64)
    ok, rvec, _ = cv2.solvePnP(L.CANONICAL_POSE_MODEL_3D, image_pts, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    assert ok
    angle_deg = np.degrees(np.linalg.norm(rvec))  # total rotation away from "looking at the camera"
    assert angle_deg < 12, angle_deg  # 5.3 degrees measured


def test_inter_ocular_distance_matches_corners(obama_face):
    _, lm = obama_face
    d = L.inter_ocular_distance(lm)
    assert d == pytest.approx(float(np.linalg.norm(lm[33, :2] - lm[263, :2])))
    assert 0.25 < d / (lm[:, 0].max() - lm[:, 0].min()) < 0.8
