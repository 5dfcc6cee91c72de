"""LFCC front end, codec round trip, and a held-out check of the synthetic-speech learner."""

import numpy as np
import pytest

from dflab.audio.antispoof import SpoofModel, codec_roundtrip, fit
from dflab.audio.lfcc import linear_filterbank, lfcc, utterance_statistics
from dflab.audio.signal import normalise_loudness
from dflab.eval.metrics import eer
from dflab.media import load_audio

SR = 16_000


def test_lfcc_shapes_and_filterbank():
    bank = linear_filterbank(SR)
    assert bank.shape == (20, 257) and (bank.sum(axis=1) > 0).all()
    feats, level = lfcc(np.random.default_rng(0).standard_normal(SR).astype(np.float32))
    assert feats.shape == (len(level), 60) and np.isfinite(feats).all()


def test_codec_roundtrip_is_lossy_but_faithful(speaker_audio):
    speech = normalise_loudness(speaker_audio("1688", 4), SR)
    for codec in ("mp3", "aac"):
        out = codec_roundtrip(speech, codec)
        assert len(out) == len(speech)
        assert not np.allclose(out, speech)
        # codec delay aside, the spectrum envelope is preserved: LFCC means stay close
        a, b = utterance_statistics(speech)[:20], utterance_statistics(out)[:20]
        assert np.corrcoef(a, b)[0, 1] > 0.9


def _stats(paths):
    return np.stack([utterance_statistics(normalise_loudness(load_audio(p).samples, SR)) for p in paths])


def test_learner_generalises_to_an_unseen_tts_system(shared_data):
    """Train on FastSpeech and Tacotron 2 renderings, test on the Transformer-TTS ones (never seen),
    against LJSpeech's own recordings and LibriSpeech speakers that were not trained on."""
    tts = shared_data / "ljspeech_tts"
    libri = sorted((shared_data / "librispeech").iterdir())
    libri = [p for p in libri if p.is_dir()]
    train_fake = sorted(tts.glob("fastspeech.*/wav*/*.wav")) + sorted(tts.glob("tacotron2.*/wav*/*.wav"))
    test_fake = sorted(tts.glob("transformer.*/wav*/*.wav"))
    lj_real = sorted((tts / "ground_truth/wav").glob("*.wav"))
    train_real = [f for d in libri[:7] for f in sorted(d.glob("*.flac"))] + lj_real[:3]
    test_real = [f for d in libri[7:] for f in sorted(d.glob("*.flac"))] + lj_real[3:]
    x = np.concatenate([_stats(train_fake), _stats(train_real)])
    y = np.r_[np.ones(len(train_fake)), np.zeros(len(train_real))]
    model = fit(x, y)
    scores = np.r_[model.probability(_stats(test_fake)), model.probability(_stats(test_real))]
    labels = np.r_[np.ones(len(test_fake)), np.zeros(len(test_real))]
    rate, _ = eer(labels, scores)
    assert rate < 0.1


def test_shipped_weights_load_and_score(shared_data):
    model = SpoofModel.load()
    assert model.coef.shape == (120,) and model.meta["command"].startswith("dflab train synthetic-speech")
    speech = load_audio(shared_data / "librispeech/533/533-1066-0000.flac").samples
    assert 0.0 <= model.score_audio(speech) <= 1.0
