"""The AASIST-L port: the published state dict loads key for key, the network behaves as published on TTS, and
its outputs line up with the synthetic-speech detector's windows."""

import hashlib

import numpy as np
import pytest
import torch

from dflab.audio.aasist import CROP_SAMPLES, VARIANTS, Aasist, load_state, spoof_log_odds, weights_path
from dflab.audio.aasist_windows import EVERY, FEATURE_DIMS, crop_at, sampled, spread, window_outputs
from dflab.audio.voice_features import speech_core, windows
from dflab.audio.voice_frontend import harmonise
from dflab.eval.metrics import roc_auc
from dflab.media import load_audio


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_published_weights_load_with_every_key_matched(shared_data, variant):
    published = shared_data / "aasist" / "models" / "weights" / f"{variant}.pth"
    model, missing, unexpected = load_state(variant, published)
    assert missing == [] and unexpected == []
    state = torch.load(published, map_location="cpu", weights_only=True)
    for key, tensor in state.items():
        assert torch.equal(model.state_dict()[key], tensor), key


def test_shipped_weights_are_the_published_file_with_its_notice(shared_data):
    shipped = weights_path("AASIST-L").read_bytes()
    published = (shared_data / "aasist/models/weights/AASIST-L.pth").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == hashlib.sha256(published).hexdigest()
    assert (weights_path("AASIST-L").parent / "AASIST_LICENSE").read_text().count("NAVER Corp.") == 1


def test_network_shapes():
    model = Aasist(VARIANTS["AASIST-L"]).eval()
    with torch.inference_mode():
        x = 0.05 * torch.randn(2, CROP_SAMPLES)
        assert model.encode(x).shape[1:3] == (24, 23)  # 23 spectral nodes: what pos_S expects
        assert model.embed(x).shape == (2, 160) and model(x).shape == (2, 2)
        assert spoof_log_odds(model(x)).shape == (2,)


def test_crops_repeat_short_windows_and_rows_spread_to_every_window():
    short = np.arange(1000, dtype=np.float32)
    crop = crop_at(short, 0, CROP_SAMPLES)
    assert crop.shape == (CROP_SAMPLES,) and crop[1000] == 0 and crop[1999] == 999
    spans = [(s, s + 64_000) for s in range(0, 10 * 32_000, 32_000)]  # 10 windows, hop 2 s
    assert sampled(spans) == spans[::EVERY] and len(sampled(spans)) == 3
    block = np.arange(3)[:, None] * np.ones((1, FEATURE_DIMS))
    assert spread(block, 10)[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def _published_score(path) -> float:
    core = speech_core(harmonise(load_audio(path).samples).samples)
    return float(np.mean(window_outputs(core, sampled(windows(core)))[:, -1]))


@pytest.mark.slow
def test_published_model_ranks_griffin_lim_tts_above_real_speech(shared_data):
    """The port behaves as the published spoofing detector: Griffin-Lim renderings of four TTS systems score
    above LJSpeech's and LibriSpeech's recordings, with the untuned network after the voice front end
    (neural-vocoder renderings and zero-shot clones it does not catch: docs/models/synthetic_speech.md)."""
    torch.set_num_threads(1)
    tts = shared_data / "ljspeech_tts"
    fakes = [sorted((tts / system / "wav_GL").glob("*.wav"))[0]
             for system in ("fastspeech.v1", "tacotron2.v1", "transformer.v1", "transformer.v2")]  # fmt: skip
    speakers = sorted(p for p in (shared_data / "librispeech").iterdir() if p.is_dir())[:2]
    reals = sorted((tts / "ground_truth/wav").glob("*.wav"))[:2] + [sorted(p.glob("*.flac"))[0] for p in speakers]
    scores = [_published_score(f) for f in fakes + reals]
    assert roc_auc([1] * 4 + [0] * 4, scores) >= 0.9
