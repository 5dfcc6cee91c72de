"""Alignment to the canonical template and the face masks, on a real face."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.errors import BadMedia, NoFace
from dflab.faces import landmarks as L
from dflab.faces.align import TEMPLATE_5PT, align, five_points, similarity_matrix, template_points, transform_points
from dflab.faces.masks import boundary_band, face_mask, face_width, inner_face_mask, surrounding_skin_mask


def test_similarity_matrix_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.random((5, 2)) * 100
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = similarity_matrix(src, dst)
    assert np.allclose(m[:, :2], scale * rot) and np.allclose(m[:, 2], shift)
    with pytest.raises(NoFace):
        similarity_matrix(np.ones((5, 2)), dst)


def test_template_is_symmetric_and_padding_maps_the_unit_square():
    assert np.allclose(TEMPLATE_5PT[0, 0] + TEMPLATE_5PT[1, 0], 1.0) and TEMPLATE_5PT[0, 1] == TEMPLATE_5PT[1, 1]
    assert np.allclose(template_points(112, 0.0), TEMPLATE_5PT * 112)
    padded = template_points(256, 0.25)
    assert np.allclose(padded, (TEMPLATE_5PT + 0.25) / 1.5 * 256)


def test_align_puts_the_key_points_on_the_template(obama_face):
    import cv2

    rgb, lm = obama_face
    aligned, m = align(rgb, lm, size=256, padding=0.25)
    assert aligned.shape == (256, 256, 3) and aligned.dtype == np.uint8 and m.shape == (2, 3)
    moved = transform_points(five_points(lm), m)
    target = template_points(256, 0.25)
    assert np.abs(moved[:2] - target[:2]).max() < 0.02 * 256  # eyes within 2% of the size (3.2 px measured)
    assert np.abs(moved - target).max() < 12.0  # nose and mouth follow the face's own proportions
    # the matrix can be inverted to warp back: frame -> crop -> frame is the identity
    back = transform_points(moved, cv2.invertAffineTransform(m))
    assert np.allclose(back, five_points(lm), atol=1e-6)
    # and the aligned crop shows the face: its centre is not a flat border fill
    assert aligned[96:160, 96:160].std() > 10
    with pytest.raises(BadMedia):
        align(np.zeros((10, 10)), lm)
    with pytest.raises(NoFace):
        align(rgb, lm[:5])


def test_masks_have_sensible_areas(obama_face):
    import cv2

    rgb, lm = obama_face
    shape = rgb.shape
    full = face_mask(lm, shape)
    assert full.dtype == np.float32 and full.shape == shape[:2] and set(np.unique(full)) <= {0.0, 1.0}
    hull_area = cv2.contourArea(cv2.convexHull(lm[list(L.FACE_OVAL), :2].astype(np.float32)))
    assert full.sum() == pytest.approx(hull_area, rel=0.03)
    assert full[int(lm[L.NOSE_TIP, 1]), int(lm[L.NOSE_TIP, 0])] == 1.0 and full[0, 0] == 0.0

    inner = inner_face_mask(lm, shape)
    assert np.all(inner <= full) and 0.5 * full.sum() < inner.sum() < 0.9 * full.sum()

    width = 20
    band = boundary_band(lm, shape, width)
    perimeter = cv2.arcLength(cv2.convexHull(lm[list(L.FACE_OVAL), :2].astype(np.float32)), True)
    assert band.sum() == pytest.approx(perimeter * width, rel=0.2)
    assert (band * full).sum() > 0.3 * band.sum() and (band * (1 - full)).sum() > 0.3 * band.sum()

    ring = surrounding_skin_mask(lm, shape)
    assert (ring * full).sum() == 0 and ring.sum() > 0.3 * full.sum()
    fw = face_width(lm)
    ys, xs = np.nonzero(ring)
    assert xs.min() >= lm[:, 0].min() - 0.3 * fw and xs.max() <= lm[:, 0].max() + 0.3 * fw

    soft = face_mask(lm, shape, feather_px=15)
    assert 0 < np.count_nonzero((soft > 0.05) & (soft < 0.95)) and soft.max() <= 1.0 and soft.min() >= 0.0
    assert soft.sum() == pytest.approx(full.sum(), rel=0.03)
    with pytest.raises(ValueError):
        boundary_band(lm, shape, 0)
