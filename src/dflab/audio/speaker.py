"""Speaker verification with the GE2E speaker encoder that ships inside the resemblyzer wheel
(Wan et al. 2018; 256-d unit embeddings of 1.6 s partials, averaged over the utterance).

Same speaker or not is a cosine similarity against a threshold. The threshold is the equal-error point
measured on LibriSpeech (10 speakers, all utterance pairs) by `python -m dflab.train.speaker_eer`, and
stored in weights/speaker_verification.json with that command.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.audio import SAMPLE_RATE
from dflab.errors import BadMedia

THRESHOLD_FILE = Path(__file__).with_name("weights") / "speaker_verification.json"
MIN_SPEECH_S = 1.0


@lru_cache(maxsize=1)
def _encoder():
    """The pretrained encoder, loaded once per process (about 0.1 s; weights are inside the wheel)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resemblyzer imports a deprecated scipy.ndimage path
        from resemblyzer import VoiceEncoder

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    return VoiceEncoder(device="cpu", verbose=False)


def embed(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """256-d unit speaker embedding of a speech clip (silences trimmed by resemblyzer's WebRTC VAD)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(np.asarray(samples, dtype=np.float32), source_sr=sample_rate)
    if len(wav) < MIN_SPEECH_S * 16_000:
        raise BadMedia(f"only {len(wav) / 16_000:.2f} s of speech found; speaker comparison needs {MIN_SPEECH_S:g} s")
    return _encoder().embed_utterance(wav)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


@lru_cache(maxsize=1)
def calibrated_threshold() -> float:
    """Cosine similarity at the LibriSpeech equal-error point (0.75 if the calibration file is missing)."""
    if THRESHOLD_FILE.exists():
        return float(json.loads(THRESHOLD_FILE.read_text())["threshold"])
    return 0.75


@dataclass(frozen=True)
class SpeakerMatch:
    similarity: float
    threshold: float

    @property
    def same_speaker(self) -> bool:
        return self.similarity >= self.threshold


def compare(samples: np.ndarray, reference: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeakerMatch:
    return SpeakerMatch(cosine(embed(samples, sample_rate), embed(reference, sample_rate)), calibrated_threshold())
