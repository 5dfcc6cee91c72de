"""The `aasist` detector: it abstains where there is no voice, keeps the detector contract on real speech, and
ranks clones of voices its head never saw above those voices' real recordings."""

from pathlib import Path

import numpy as np
import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.registry import create_detector, list_detectors
from dflab.eval.metrics import roc_auc
from dflab.media import Audio, Media, load

SR = 16_000


def _audio_media(samples: np.ndarray, name: str = "clip.wav") -> AnalysedMedia:
    audio = Audio(np.asarray(samples, dtype=np.float32), SR)
    return AnalysedMedia(Media(path=Path(name), media_type="audio", frames=[], fps=0.0,
                               duration_s=audio.duration_s, width=0, height=0, audio=audio))  # fmt: skip


def _melody(seconds: float = 8.0, step: float = 0.3) -> np.ndarray:
    """Plucked harmonic notes from a C major scale, four a second: rhythmic like syllables, pitch held per note."""
    rng = np.random.default_rng(0)
    t = np.arange(int(step * SR)) / SR
    notes = []
    for _ in range(int(seconds / step)):
        f = rng.choice([262, 294, 330, 349, 392, 440, 494, 523])
        tone = sum(0.6**k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(5))
        notes.append(0.2 * tone * np.exp(-3 * t) * np.minimum(1, t / 0.01))
    return np.concatenate(notes)


def test_registered_for_audio_and_video():
    assert "aasist" in list_detectors()
    assert set(create_detector("aasist").media_types) == {"audio", "video"}


def test_abstains_without_a_voice():
    t = np.arange(6 * SR) / SR
    inputs = {
        "silence": np.zeros(6 * SR),
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "noise": 0.05 * np.random.default_rng(1).standard_normal(6 * SR),
        "melody": _melody(),
        "too short": 0.3 * np.sin(2 * np.pi * 440 * t[: SR]),
    }
    detector = create_detector("aasist")
    for name, samples in inputs.items():
        evidence = detector.detect(_audio_media(samples))
        assert evidence.confidence == 0, (name, evidence.summary)
        assert evidence.summary.endswith("."), name


def test_contract_on_real_speech(shared_data):
    media = load(shared_data / "cloned_voices/real/geralt/2.wav")  # 20.7 s: several windows
    detector = create_detector("aasist")
    first, second = detector.detect(AnalysedMedia(media)), detector.detect(AnalysedMedia(media))
    assert first.name == "aasist" and first.score == second.score
    assert 0 < first.confidence <= 1 and first.summary.endswith(".")
    assert len(first.series["score"]) == len(first.times) == 6
    assert np.all(np.diff(first.times) > 0) and first.times[-1] <= media.duration_s
    for start, end in first.time_ranges:
        assert 0 <= start < end <= media.duration_s
    assert 0 <= first.details["published_spoof_probability"] <= 1


@pytest.mark.slow
def test_ranks_clones_of_unseen_voices_above_their_real_recordings(shared_data):
    """The voices the shipped head was not fitted on (RESERVED_VOICES): two real recordings and two Tortoise
    clones of each. The untuned published network ranks these the wrong way round (AUC 0.28 when this was
    written); the calibrated head ranks them the right way (0.67). A weak detector, honestly: see
    docs/models/aasist.md for the leave-one-speaker-out figures."""
    from dflab.train.aasist_calibrate import RESERVED_VOICES
    from dflab.train.voice_corpus import cloned_voices

    items = [it for it in cloned_voices(shared_data) if it.group in RESERVED_VOICES]
    picked = []
    for voice in RESERVED_VOICES:
        picked += [it for it in items if it.group == voice and it.label == 0][:2]
        picked += [it for it in items if it.group == voice and it.method == "tortoise_clone"][:2]
    detector = create_detector("aasist")
    evidence = [detector.detect(AnalysedMedia(load(it.path))) for it in picked]
    labels = [it.label for it in picked]
    tuned = roc_auc(labels, [e.score for e in evidence])
    published = roc_auc(labels, [e.details["published_spoof_probability"] for e in evidence])
    assert tuned >= 0.6 and tuned - published >= 0.3, (tuned, published)
