"""dlib identity embeddings: the same person's photos are closer than different people's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dflab.errors import BadMedia, NoFace
from dflab.faces import SAME_PERSON_THRESHOLD, analyse, embed, identity_distance

from .conftest import image_media

PHOTOS = {  # identity = folder / file name in face_recognition/examples
    "obama": ["obama.jpg", "obama2.jpg", "knn_examples/test/obama1.jpg"],
    "biden": ["biden.jpg", "knn_examples/train/biden/biden2.jpg"],
    "kit_harington": ["knn_examples/train/kit_harington/john1.jpeg", "knn_examples/test/johnsnow_test1.jpg"],
    "rose_leslie": ["knn_examples/train/rose_leslie/img1.jpg", "knn_examples/train/rose_leslie/img2.jpg"],
    "alex_lacamoire": ["knn_examples/train/alex_lacamoire/img1.jpg", "knn_examples/test/alex_lacamoire1.jpg"],
}


@pytest.fixture(scope="module")
def embeddings(shared_data):
    out = {}
    for person, files in PHOTOS.items():
        for name in files:
            tracks = analyse(image_media(shared_data / "face_recognition/examples" / name), max_faces=1)
            assert len(tracks) == 1 and len(tracks[0].embeddings) == 1, name
            vector = next(iter(tracks[0].embeddings.values()))
            assert vector.shape == (128,) and np.isfinite(vector).all()
            out[(person, name)] = vector
    return out


def test_same_person_closer_than_different_people(embeddings):
    same, different = [], []
    for a, b in itertools.combinations(embeddings, 2):
        d = identity_distance(embeddings[a], embeddings[b])
        (same if a[0] == b[0] else different).append(d)
    assert len(same) == 7 and len(different) > 30
    # measured: same-person max 0.43, different-people min 0.69
    assert max(same) < SAME_PERSON_THRESHOLD < min(different)


def test_embed_is_deterministic_and_checks_input(obama_face):
    rgb, lm = obama_face
    box = (lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max())
    a, b = embed(rgb, box), embed(rgb, box)
    assert identity_distance(a, b) == 0.0
    with pytest.raises(NoFace):
        embed(rgb, (10, 10, 12, 12))
    with pytest.raises(NoFace):
        embed(rgb, (rgb.shape[1] + 5, 0, rgb.shape[1] + 90, 80))
    with pytest.raises(BadMedia):
        embed(rgb.astype(np.float32), box)
    with pytest.raises(ValueError):
        identity_distance(a, a[:64])
