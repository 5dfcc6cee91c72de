"""Synthetic-speech (TTS / voice-clone) detection: window statistics and a logistic model.

The model is deliberately small: standardised window statistics and a logistic regression. With a few
hundred synthetic utterances, anything larger learns the voices or the codec. Two kinds of weights load:

- "windowed" (feature id `WINDOW_FEATURE_PREFIX` + a feature set of dflab.audio.voice_features, what ships):
  every clip goes through the common front end (dflab.audio.voice_frontend.harmonise: 16 kHz, silence
  trimmed, one loudness, one MP3 round trip at 32 kbit/s) and is cut into equal 4 s windows, so neither the
  file's codec, nor its duration, nor its silences tell real from synthetic (bench/synthetic_voice.py measures
  those confounds). Fitted on the classic TTS set and the cloned voices, leave-one-speaker-out;
- "classic" (feature id `FEATURE_ID`): 120 LFCC statistics of loudness-normalised 6 s chunks, fitted on the
  classic TTS set only (every training utterance also seen through MP3 and AAC).

Weights are a JSON file (feature, mean, scale, coefficients, bias, decision threshold, meta) written by
`dflab train synthetic-speech` and read with `SpoofModel.load`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.audio import SAMPLE_RATE
from dflab.audio.lfcc import utterance_statistics
from dflab.audio.signal import normalise_loudness
from dflab.errors import NotFound, UsageError

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "synthetic_speech.json"
FEATURE_ID = "lfcc20-dd-meanstd-v1"
WINDOW_FEATURE_PREFIX = "mp3-32k-front-end/4s-windows/"
CODECS = ("mp3", "aac")
CHUNK_S = 6.0


@dataclass(frozen=True)
class SpoofModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    threshold: float = 0.5  # probability at which a clip is called synthetic
    meta: dict = field(default_factory=dict)
    feature: str = FEATURE_ID

    @property
    def feature_set(self) -> str | None:
        """The dflab.audio.voice_features set of windowed weights; None for classic weights."""
        return self.feature.removeprefix(WINDOW_FEATURE_PREFIX) if self.feature != FEATURE_ID else None

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(features) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.coef + self.bias)))

    def window_scores(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> "WindowScores":
        """Per window (or 6 s chunk, classic weights): where it lies in the clip and P(synthetic).
        Raises BadMedia when the clip is silent."""
        if self.feature_set is None:
            chunks = split_chunks(normalise_loudness(samples, sample_rate), sample_rate)
            starts = np.cumsum([0] + [len(c) for c in chunks[:-1]]) / sample_rate
            ends = starts + np.array([len(c) for c in chunks]) / sample_rate
            probs = self.probability(np.stack([utterance_statistics(c, sample_rate) for c in chunks]))
            return WindowScores(starts, ends, probs)
        from dflab.audio import voice_features as vf
        from dflab.audio.voice_frontend import harmonise

        clip = harmonise(samples, sample_rate)
        core = vf.speech_core(clip.samples)
        offset = clip.offset_s + (len(clip.samples) - len(core)) / 2 / vf.SAMPLE_RATE
        spans = np.array(vf.windows(core), dtype=np.float64) / vf.SAMPLE_RATE + offset
        probs = self.probability(vf.window_features(clip.samples, self.feature_set))
        return WindowScores(spans[:, 0], spans[:, 1], probs)

    def score_audio(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
        """Probability that the speech is synthetic (mean over the windows of a long clip)."""
        return float(np.mean(self.window_scores(samples, sample_rate).probs))

    def to_json(self) -> dict:
        return {
            "feature": self.feature, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "bias": self.bias, "threshold": self.threshold, "meta": self.meta,
        }  # fmt: skip

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> "SpoofModel":
        path = Path(path)
        if not path.exists():
            raise NotFound(f"synthetic-speech weights not found at {path} (run `dflab train synthetic-speech`)")
        data = json.loads(path.read_text())
        feature = str(data.get("feature"))
        from dflab.audio.voice_features import FEATURE_SETS

        if feature != FEATURE_ID and feature.removeprefix(WINDOW_FEATURE_PREFIX) not in FEATURE_SETS:
            raise UsageError(f"{path}: weights are for features {feature!r}, expected {FEATURE_ID!r} or "
                             f"{WINDOW_FEATURE_PREFIX}<{'|'.join(FEATURE_SETS)}>")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]), float(data["bias"]),
                   float(data.get("threshold", 0.5)), data.get("meta", {}), feature)  # fmt: skip


@dataclass(frozen=True)
class WindowScores:
    starts_s: np.ndarray
    ends_s: np.ndarray
    probs: np.ndarray


def split_chunks(samples: np.ndarray, sample_rate: int, chunk_s: float = CHUNK_S) -> list[np.ndarray]:
    """Pieces of about chunk_s (the last one absorbs the remainder; short clips stay whole)."""
    size = int(chunk_s * sample_rate)
    n = max(1, len(samples) // size)
    return [samples[i * size : (i + 1) * size if i < n - 1 else len(samples)] for i in range(n)]


def codec_roundtrip(samples: np.ndarray, codec: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip encoded with MP3 (48 kb/s) or AAC (64 kb/s) and decoded again, through ffmpeg pipes."""
    encode = {"mp3": ["-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3"],
              "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"]}[codec]  # fmt: skip
    raw = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]
    base = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    enc = subprocess.run([*base, *raw, "-i", "pipe:0", *encode, "pipe:1"], input=samples.astype("<f4").tobytes(),
                         capture_output=True, check=True)  # fmt: skip
    dec = subprocess.run([*base, "-i", "pipe:0", *raw, "pipe:1"], input=enc.stdout, capture_output=True, check=True)
    out = np.frombuffer(dec.stdout, dtype="<f4").astype(np.float32)
    return out[: len(samples)] if len(out) >= len(samples) else np.pad(out, (0, len(samples) - len(out)))


@dataclass
class Utterance:
    samples: np.ndarray  # 16 kHz, loudness-normalised
    label: int  # 1 = synthetic
    system: str  # TTS system (e.g. "tacotron2.v3") or "real"
    vocoder: str  # GL / WNV_..., or the real corpus name
    group: str  # sentence id for LJSpeech files, speaker / clip for other real speech


def collect_corpus(data: str | Path) -> list[Utterance]:
    """LJSpeech TTS renderings and ground truth, LibriSpeech utterances and LivePortrait clip audio."""
    from dflab.media import load_audio

    data = Path(data)
    tts = data / "ljspeech_tts"
    if not tts.is_dir():
        raise NotFound(f"{tts} not found (point --data at the shared data folder)")
    items = []
    for wav in sorted(tts.glob("*/wav*/*.wav")):
        system, vocoder = wav.parts[-3], wav.parts[-2].removeprefix("wav_") or "ground_truth"
        label = 0 if system == "ground_truth" else 1
        samples = normalise_loudness(load_audio(wav).samples, SAMPLE_RATE)
        items.append(Utterance(samples, label, "real" if label == 0 else system,
                               "ljspeech" if label == 0 else vocoder, wav.stem))  # fmt: skip
    for flac in sorted((data / "librispeech").glob("*/*.flac")):
        samples = normalise_loudness(load_audio(flac).samples, SAMPLE_RATE)
        items.append(Utterance(samples, 0, "real", "librispeech", f"libri_{flac.parent.name}"))
    from dflab.shallow.speed_testset import LIVEPORTRAIT_WITH_SPEECH

    for name in LIVEPORTRAIT_WITH_SPEECH:
        path = data / "liveportrait/assets/examples/driving" / f"{name}.mp4"
        if path.exists():
            samples = normalise_loudness(load_audio(path).samples, SAMPLE_RATE)
            for chunk in split_chunks(samples, SAMPLE_RATE):
                items.append(Utterance(chunk, 0, "real", "liveportrait", f"lp_{name}"))
    return items


def featurise(items: list[Utterance], augment: bool) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features, labels, index of the source item per row); with augment, each item also via MP3 and AAC."""
    rows, labels, owners = [], [], []
    for i, item in enumerate(items):
        versions = [item.samples] + ([codec_roundtrip(item.samples, c) for c in CODECS] if augment else [])
        for version in versions:
            rows.append(utterance_statistics(version))
            labels.append(item.label)
            owners.append(i)
    return np.array(rows), np.array(labels), owners


def fit(features: np.ndarray, labels: np.ndarray, c: float = 0.05, meta: dict | None = None) -> SpoofModel:
    """Class-balanced L2 logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    clf.fit((features - mean) / scale, labels)
    return SpoofModel(mean, scale, clf.coef_[0].copy(), float(clf.intercept_[0]), 0.5, meta or {})
