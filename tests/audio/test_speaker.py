"""Speaker verification with the resemblyzer GE2E encoder on LibriSpeech."""

import numpy as np
import pytest

from dflab.audio.speaker import calibrated_threshold, compare, cosine, embed
from dflab.train.speaker_eer import pair_scores
from dflab.errors import BadMedia
from dflab.media import load_audio


def _utt(shared_data, speaker, index):
    return load_audio(sorted((shared_data / "librispeech" / speaker).glob("*.flac"))[index]).samples


def test_embedding_is_a_unit_vector(shared_data):
    e = embed(_utt(shared_data, "1688", 0))
    assert e.shape == (256,) and np.linalg.norm(e) == pytest.approx(1.0, abs=1e-3)


def test_same_speaker_is_closer_than_other_speakers(shared_data):
    a, b = embed(_utt(shared_data, "1688", 0)), embed(_utt(shared_data, "1688", 5))
    others = [embed(_utt(shared_data, s, 0)) for s in ("2033", "3080", "533")]
    assert all(cosine(a, b) > cosine(a, o) for o in others)


def test_decisions_at_the_calibrated_threshold(shared_data):
    assert 0.5 < calibrated_threshold() < 0.95  # from the LibriSpeech EER (weights/speaker_verification.json)
    assert compare(_utt(shared_data, "3080", 1), _utt(shared_data, "3080", 7)).same_speaker
    assert not compare(_utt(shared_data, "3080", 1), _utt(shared_data, "1688", 2)).same_speaker


def test_pair_scores_enumerate_unordered_pairs():
    emb = np.eye(4)
    same, sims = pair_scores(emb, ["a", "a", "b", "b"])
    assert len(same) == 6 and same.sum() == 2 and np.all(sims == 0)


def test_silence_cannot_be_embedded():
    with pytest.raises(BadMedia):
        embed(np.zeros(16_000 * 3, np.float32))
