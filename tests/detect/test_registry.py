"""Conformance: every registered detector gets the same checks for free (shape, range, determinism,
no-face input), on a real photo, a real clip and an image without a face."""

import numpy as np
import pytest

from dflab.config import SamplingPolicy
from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence
from dflab.detect.registry import create_detector, list_detectors, register_detector
from dflab.errors import UsageError
from dflab.faces import analyse
from dflab.media import load, write_image

EXPECTED = {"blink", "boundary", "skin_tone", "head_pose", "spectrum", "identity_drift"}


@pytest.fixture(scope="module")
def subjects(shared_data, tmp_path_factory, analyse_file):
    out = tmp_path_factory.mktemp("conformance")
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    write_image(out / "no_face.png", np.dstack([gradient] * 3))
    clip = load(shared_data / "ffpp/original_sequences/youtube/c23/videos/634.mp4", policy=SamplingPolicy(all_frames_up_to_s=0, rate_fps=5))
    return {
        "photo": analyse_file(shared_data / "face_recognition/examples/obama.jpg"),
        "clip": AnalysedMedia(clip, analyse(clip)),
        "no_face": analyse_file(out / "no_face.png"),
    }


def test_builtin_detectors_are_registered():
    assert EXPECTED <= set(list_detectors())


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError):
        register_detector("blink")(object)


def test_unknown_detector_is_a_usage_error():
    with pytest.raises(UsageError):
        create_detector("no-such-detector")


@pytest.mark.parametrize("name", list_detectors())
@pytest.mark.parametrize("kind", ["photo", "clip", "no_face"])
def test_detector_contract(name, kind, subjects):
    detector = create_detector(name)
    subject = subjects[kind]
    if subject.media_type not in detector.media_types:
        pytest.skip(f"{name} does not apply to {subject.media_type}")
    if detector.needs_faces and not subject.tracks:
        assert kind == "no_face"
        return  # the scanner reports these as not applicable without calling the detector
    first, second = detector.detect(subject), detector.detect(subject)
    assert isinstance(first, Evidence) and first.name == name
    assert 0.0 <= first.score <= 1.0 and 0.0 <= first.confidence <= 1.0
    assert first.summary and first.summary[-1] == "."
    assert first.score == second.score  # deterministic
    for key, series in first.series.items():
        assert first.times is not None and len(series) == len(first.times), key
    for start, end in first.time_ranges:
        assert 0.0 <= start <= end <= subject.media.duration_s + 1.0
    for value in first.track_scores.values():
        assert 0.0 <= value <= 1.0
    if first.heatmap is not None:
        assert first.heatmap.shape == subject.media.frames[first.heatmap_frame].rgb.shape[:2]
        assert np.isfinite(first.heatmap).all()
