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
    assert model.coef.shape == model.mean.shape == model.scale.shape
    assert model.meta["command"].startswith("dflab train synthetic-speech")
    speech = load_audio(shared_data / "librispeech/533/533-1066-0000.flac").samples
    assert 0.0 <= model.score_audio(speech) <= 1.0


def test_windowed_weights_round_trip_and_classic_weights_still_load(tmp_path):
    """Both kinds of weights load by their feature id; an unknown id is a clear UsageError."""
    import json

    from dflab.audio.antispoof import FEATURE_ID, WINDOW_FEATURE_PREFIX
    from dflab.audio.voice_features import window_features
    from dflab.errors import UsageError

    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(6 * SR) * np.sin(np.linspace(0, 60, 6 * SR)) ** 2).astype(np.float32)
    dims = window_features(speech, "lfcc+band").shape[1]
    windowed = SpoofModel(np.zeros(dims), np.ones(dims), rng.standard_normal(dims) * 0.01, 0.0,
                          feature=WINDOW_FEATURE_PREFIX + "lfcc+band")
    path = windowed.save(tmp_path / "w.json")
    again = SpoofModel.load(path)
    assert again.feature_set == "lfcc+band"
    scored = again.window_scores(speech, SR)
    assert len(scored.probs) == len(scored.starts_s) >= 1 and (scored.ends_s > scored.starts_s).all()
    classic = SpoofModel(np.zeros(120), np.ones(120), np.zeros(120), 0.0)
    assert SpoofModel.load(classic.save(tmp_path / "c.json")).feature == FEATURE_ID
    (tmp_path / "bad.json").write_text(json.dumps({**classic.to_json(), "feature": "mfcc-v9"}))
    with pytest.raises(UsageError):
        SpoofModel.load(tmp_path / "bad.json")
