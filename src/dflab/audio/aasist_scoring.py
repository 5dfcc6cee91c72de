"""Scoring a clip with AASIST: the voice front end, 4 s windows, the published network and a calibrated head.

A clip is harmonised (dflab.audio.voice_frontend), cut into windows of AASIST's crop length that cover it
(evenly spread and at most MAX_WINDOWS, so a long file costs a bounded amount), and each window is run through
the network once. A clip shorter than one crop is repeated to fill it, as upstream AASIST does in training and
evaluation. Each window yields the published spoof log-odds and the network's 160-d graph embedding; the head
(weights/aasist_head.json, fitted by `python -m dflab.train.aasist_calibrate`) turns the embedding into
log-odds of "synthetic voice" and the clip's log-odds is the mean over its windows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.errors import NotFound, UsageError

CROP_SAMPLES = 64_600  # = dflab.audio.aasist.CROP_SAMPLES (kept here so importing this module needs no torch)
SAMPLE_RATE = 16_000
MAX_WINDOWS = 8  # about 32 s of a long file: enough to see a spliced-in stretch, bounded cost
BATCH = 2  # crops per forward pass: the first encoder block holds ~60 MB of activations per crop
HEAD_WEIGHTS = Path(__file__).with_name("weights") / "aasist_head.json"
HEAD_FEATURE = "aasist-l-embedding160-v1"


def crop_starts(n_samples: int, crop: int = CROP_SAMPLES, max_windows: int = MAX_WINDOWS) -> np.ndarray:
    """First sample of each window: enough windows to cover the clip, evenly spread, at most max_windows."""
    if n_samples <= crop:
        return np.zeros(1, dtype=np.int64)
    n = min(max_windows, int(np.ceil(n_samples / crop)))
    return np.linspace(0, n_samples - crop, n).round().astype(np.int64)


def crops(samples: np.ndarray, crop: int = CROP_SAMPLES, max_windows: int = MAX_WINDOWS) -> tuple[np.ndarray, np.ndarray]:
    """(starts, array of shape (windows, crop)); a clip shorter than one crop is repeated to fill it."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) == 0:
        raise ValueError("no samples to crop")
    if len(samples) < crop:
        samples = np.tile(samples, int(np.ceil(crop / len(samples))))[:crop]
    starts = crop_starts(len(samples), crop, max_windows)
    return starts, np.stack([samples[s : s + crop] for s in starts])


@dataclass(frozen=True)
class WindowOutputs:
    starts_s: np.ndarray  # window start in the harmonised clip, seconds
    ends_s: np.ndarray
    embeddings: np.ndarray  # (windows, 160): the vector AASIST's output layer reads
    published_log_odds: np.ndarray  # (windows,): log P(spoof) - log P(bona fide) of the published output layer


def window_outputs(samples: np.ndarray, variant: str = "AASIST-L") -> WindowOutputs:
    """Run the published network over the windows of an already harmonised 16 kHz clip."""
    import torch

    from dflab.audio.aasist import load_model, spoof_log_odds

    model = load_model(variant)
    starts, batch = crops(samples)
    embeddings, log_odds = [], []
    with torch.inference_mode():
        for i in range(0, len(batch), BATCH):
            embedding = model.embed(torch.from_numpy(batch[i : i + BATCH]))
            embeddings.append(embedding.numpy().astype(np.float64))
            log_odds.append(spoof_log_odds(model.out_layer(embedding)))
    ends = np.minimum(starts + CROP_SAMPLES, max(len(samples), 1))
    return WindowOutputs(starts / SAMPLE_RATE, ends / SAMPLE_RATE, np.concatenate(embeddings), np.concatenate(log_odds))


@dataclass(frozen=True)
class VoiceHead:
    """Logistic head on standardised AASIST embeddings: log-odds = ((e - mean) / scale) . coef + bias."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    meta: dict = field(default_factory=dict)

    def log_odds(self, embeddings: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(embeddings) - self.mean) / self.scale) @ self.coef + self.bias

    def to_json(self) -> dict:
        return {"feature": HEAD_FEATURE, "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
                "coef": self.coef.round(6).tolist(), "bias": round(self.bias, 6), "meta": self.meta}  # fmt: skip

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path = HEAD_WEIGHTS) -> "VoiceHead":
        path = Path(path)
        if not path.exists():
            raise NotFound(f"AASIST head weights not found at {path} (run `python -m dflab.train.aasist_calibrate`)")
        data = json.loads(path.read_text())
        if data.get("feature") != HEAD_FEATURE:
            raise UsageError(f"{path}: head is for features {data.get('feature')!r}, expected {HEAD_FEATURE!r}")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]), float(data["bias"]),
                   data.get("meta", {}))  # fmt: skip


@lru_cache(maxsize=4)
def load_head(path: str | None = None) -> VoiceHead:
    return VoiceHead.load(path or HEAD_WEIGHTS)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def clip_log_odds(window_log_odds: np.ndarray) -> float:
    """One clip's log-odds from its windows' (their mean: every window is an equal look at the voice)."""
    return float(np.mean(window_log_odds))
