"""The frozen-feature probe for generated pictures (not shipped: see docs/models/synthetic_image_probe.md): the
one normalisation every picture gets, the feature vector, the confound check of the leave-one-generator-out
harness on real pictures, and the detector's evidence with a probe fitted here."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.learned import probe_features
from dflab.detect.learned.synthetic_image_probe import SyntheticImageProbeDetector, probe_vector
from dflab.detect.learned.synthetic_model import fit_model
from dflab.errors import BadMedia
from dflab.media import load, load_image_rgb
from dflab.train.synthetic_image_data import development_set
from dflab.train.synthetic_image_logo import TRIVIAL, confounds, trivial_properties

PER_SOURCE = 8  # pictures per source in the confound check: enough for an AUC of 1.0 to mean something


def test_normalisation_gives_one_size_and_format_whatever_the_source():
    rng = np.random.default_rng(0)
    for shape in ((200, 200, 3), (300, 400, 3), (768, 768, 3)):
        out = probe_features.normalise(rng.integers(0, 256, shape, dtype=np.uint8))
        assert out.shape == (probe_features.SIDE, probe_features.SIDE, 3) and out.dtype == np.uint8
    with pytest.raises(BadMedia):
        probe_features.normalise(np.zeros((8, 8, 3), np.uint8))


def test_feature_vector_matches_its_names_and_is_deterministic(shared_data):
    rgb = load_image_rgb(shared_data / "face_recognition/examples/obama.jpg")
    first, second = probe_features.features(rgb), probe_features.features(rgb)
    assert first.shape == (len(probe_features.feature_names()),) and np.isfinite(first).all()
    assert np.array_equal(first, second)
    names = ["image.head.mean.0", "residual.b2.std.3", "spectral.psd_slope"]
    assert probe_vector(rgb, names).shape == (3,)


@pytest.fixture(scope="module")
def face_sample(shared_data):
    """The first PER_SOURCE Stable Diffusion portraits and RMFD/CIPLAB photos (their matched reals)."""
    pictures = development_set(shared_data)
    picked = []
    for source in ("sd21", "rmfd", "ciplab_real"):
        picked += [p for p in pictures if p.source == source][:PER_SOURCE]
    return picked


def test_confound_check_finds_the_file_format_and_the_normalisation_removes_it(face_sample):
    """Stable Diffusion portraits are 768 px PNGs, their matched camera photos smaller JPEGs: size alone would
    separate them. The check reports it; after the normalisation every picture has the same size."""
    rows, shapes = [], set()
    for picture in face_sample:
        rgb = load_image_rgb(picture.path)
        normalised = probe_features.normalise(rgb)
        shapes.add(normalised.shape)
        rows.append(trivial_properties(picture.path, rgb, normalised))
    found = confounds(face_sample, np.array(rows))["sd21"]
    assert {"width", "height"} <= set(found["separating_as_stored"])
    assert set(found["separating_as_stored"]) | set(found["separating_after_normalisation"]) <= set(TRIVIAL)
    assert shapes == {(probe_features.SIDE, probe_features.SIDE, 3)}


def test_detector_evidence_with_a_probe_fitted_here(tmp_path, face_sample, shared_data):
    """A probe over two features, fitted on the sample, written as the detector reads it: the evidence has
    the detector's name, a probability and a summary, and it equals the model applied to the picture."""
    names = ["image.b2.std.0", "image.b4.std.1"]
    x = np.stack([probe_vector(load_image_rgb(p.path), names) for p in face_sample])
    y = np.array([p.label for p in face_sample])
    path = fit_model(x, y, names, meta={"variant": "test"}).save(tmp_path / "probe.json")
    detector = SyntheticImageProbeDetector(weights=str(path))
    media = AnalysedMedia(load(shared_data / "face_recognition/examples/obama.jpg", with_audio=False))
    evidence = detector.detect(media)
    assert evidence.name == "synthetic_image_probe" and 0.0 <= evidence.score <= 1.0
    assert evidence.summary.endswith(".") and evidence.details["model"] == "test"
    expected = 1.0 / (1.0 + np.exp(-np.asarray(fit_model(x, y, names).decision(probe_vector(media.media.frames[0].rgb, names)))))
    assert evidence.score == pytest.approx(float(expected[0]))
