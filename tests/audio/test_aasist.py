"""The AASIST port: the published state dicts load key for key, the network behaves as published on TTS, and
the voice front end treats every wrapper alike."""

import hashlib

import numpy as np
import pytest
import torch

from dflab.audio.aasist import CROP_SAMPLES, VARIANTS, Aasist, load_state, spoof_log_odds, weights_path
from dflab.audio.aasist_scoring import crop_starts, crops, window_outputs
from dflab.audio.voice_frontend import harmonise, mp3_roundtrip
from dflab.eval.metrics import roc_auc
from dflab.media import load_audio

SR = 16_000


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_published_weights_load_with_every_key_matched(shared_data, variant):
    published = shared_data / "aasist" / "models" / "weights" / f"{variant}.pth"
    model, missing, unexpected = load_state(variant, published)
    assert missing == [] and unexpected == []
    state = torch.load(published, map_location="cpu", weights_only=True)
    assert set(state) == set(model.state_dict())
    for key, tensor in state.items():
        assert torch.equal(model.state_dict()[key], tensor), key


def test_shipped_weights_are_the_published_file(shared_data):
    shipped = weights_path("AASIST-L").read_bytes()
    published = (shared_data / "aasist/models/weights/AASIST-L.pth").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == hashlib.sha256(published).hexdigest()
    assert (weights_path("AASIST-L").parent / "AASIST_LICENSE").read_text().count("NAVER Corp.") == 1


def test_network_shapes_and_variable_length():
    model = Aasist(VARIANTS["AASIST-L"]).eval()
    with torch.inference_mode():
        x = 0.05 * torch.randn(2, CROP_SAMPLES)
        assert model.encode(x).shape[1:3] == (24, 23)  # 23 spectral nodes: what pos_S expects
        assert model.embed(x).shape == (2, 160) and model(x).shape == (2, 2)
        assert spoof_log_odds(model(x)).shape == (2,)


def test_crops_cover_the_clip_and_repeat_short_ones():
    assert list(crop_starts(CROP_SAMPLES)) == [0]
    starts = crop_starts(3 * CROP_SAMPLES + 10)
    assert len(starts) == 4 and starts[0] == 0 and starts[-1] == 3 * CROP_SAMPLES + 10 - CROP_SAMPLES
    assert len(crop_starts(100 * CROP_SAMPLES)) == 8  # long files: bounded cost
    short = np.arange(1000, dtype=np.float32)
    _, batch = crops(short)
    assert batch.shape == (1, CROP_SAMPLES) and batch[0, 1000] == 0 and batch[0, 1999] == 999


def test_front_end_trims_silence_and_keeps_length_through_mp3(shared_data):
    speech = load_audio(shared_data / "librispeech/533/533-1066-0000.flac").samples[: 3 * SR]
    padded = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(SR // 2, np.float32)])
    clip = harmonise(padded, SR)
    assert 0.9 <= clip.offset_s <= 1.0
    assert abs(len(clip.samples) - len(speech)) < 0.3 * SR
    assert len(mp3_roundtrip(speech)) == len(speech)
    resampled = harmonise(load_audio(shared_data / "librispeech/533/533-1066-0000.flac", sample_rate=22_050).samples, 22_050)
    assert abs(len(resampled.samples) - len(harmonise(load_audio(shared_data / "librispeech/533/533-1066-0000.flac").samples).samples)) < 0.05 * SR


@pytest.mark.slow
def test_published_model_ranks_vocoder_resyntheses_above_their_sources(shared_data):
    """WaveFake: five LJSpeech sentences and their neural-vocoder re-syntheses, scored by the untuned network."""
    folder = shared_data / "wavefake/tests/sample_data"
    files = sorted((folder / "generated").glob("*.wav")) + sorted((folder / "LJSpeech").glob("*.wav"))
    labels = [1] * 5 + [0] * 5
    scores = [np.mean(window_outputs(harmonise(load_audio(f).samples).samples).published_log_odds) for f in files]
    assert roc_auc(labels, scores) >= 0.8
