"""The development voices for the synthetic_voice finding, and their AASIST window outputs (cached).

cloned_voices: real reference recordings of 21 speakers and Tortoise clones of the same speakers (plus a few
Tacotron2 / NaturalSpeech renderings), manifest manifests/cloned_voices.csv. Folds are speakers. Two names
in the manifest are one voice: the clone file "grace_train" imitates the reference speaker "train_grace",
and the "lj_like*" comparison renderings are LJSpeech-style voices, so they share the "lj" group.

TTS sets for reference (never fitted on): ljspeech_tts (7 TTS systems x vocoders against LJSpeech's own
recordings and 100 LibriSpeech utterances) and wavefake (vocoder re-syntheses against their LJSpeech sources).

Every file goes through dflab.audio.voice_frontend.harmonise before AASIST, exactly as at scan time; the
outputs are cached per file under --cache so that calibration, the finding fit and the benchmark share one
pass of the network over the data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.errors import NotFound

SAME_VOICE = {"grace_train": "train_grace"}
CACHE_VERSION = "v1"


@dataclass(frozen=True)
class VoiceItem:
    path: Path
    label: int  # 1 = synthetic
    method: str  # reference_recording, tortoise_clone, tacotron2, ... or the TTS system / corpus
    speaker: str  # as in the manifest
    group: str  # the fold: one voice
    dataset: str  # cloned_voices, ljspeech_tts, wavefake


def voice_group(speaker: str) -> str:
    if speaker.startswith("lj_like"):
        return "lj"
    return SAME_VOICE.get(speaker, speaker)


def cloned_voices(data: str | Path) -> list[VoiceItem]:
    from dflab.eval.manifest import read_manifest

    manifest = Path(data) / "manifests" / "cloned_voices.csv"
    if not manifest.exists():
        raise NotFound(f"{manifest} not found (point --data at the shared data folder)")
    return [VoiceItem(row.file, row.label, row.method or "", row.extra["speaker"], voice_group(row.extra["speaker"]),
                      "cloned_voices") for row in read_manifest(manifest).rows]  # fmt: skip


def tts_sets(data: str | Path) -> list[VoiceItem]:
    """ljspeech_tts (+ LibriSpeech reals) and wavefake, grouped by sentence / speaker."""
    data = Path(data)
    items = []
    for wav in sorted((data / "ljspeech_tts").glob("*/wav*/*.wav")):
        system = wav.parts[-3]
        real = system == "ground_truth"
        items.append(VoiceItem(wav, 0 if real else 1, "ljspeech" if real else f"{system}/{wav.parts[-2]}", "lj",
                               wav.stem.removesuffix("_gen"), "ljspeech_tts"))  # fmt: skip
    for flac in sorted((data / "librispeech").glob("*/*.flac")):
        items.append(VoiceItem(flac, 0, "librispeech", flac.parent.name, flac.parent.name, "ljspeech_tts"))
    for wav in sorted((data / "wavefake").rglob("*.wav")):
        fake = wav.parent.name == "generated"
        items.append(VoiceItem(wav, int(fake), "wavefake_vocoder" if fake else "ljspeech", "lj",
                               wav.stem.removesuffix("_gen"), "wavefake"))  # fmt: skip
    return items


@dataclass(frozen=True)
class CachedOutputs:
    offset_s: float  # leading silence cut by the front end
    duration_s: float  # of the harmonised clip
    starts_s: np.ndarray
    ends_s: np.ndarray
    embeddings: np.ndarray
    published_log_odds: np.ndarray


def _cache_file(cache: Path, item: VoiceItem, variant: str) -> Path:
    key = hashlib.sha256(f"{CACHE_VERSION}|{variant}|{item.path.resolve()}".encode()).hexdigest()[:20]
    return cache / f"{item.path.stem}-{key}.npz"


def aasist_outputs(item: VoiceItem, cache: str | Path, variant: str = "AASIST-L") -> CachedOutputs:
    """The harmonised clip's AASIST window outputs, computed once and kept under `cache`."""
    from dflab.audio.aasist_scoring import SAMPLE_RATE, window_outputs
    from dflab.audio.voice_frontend import harmonise
    from dflab.media import load_audio

    cache = Path(cache)
    path = _cache_file(cache, item, variant)
    if not path.exists():
        clip = harmonise(load_audio(item.path).samples, SAMPLE_RATE)
        out = window_outputs(clip.samples, variant)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, offset_s=clip.offset_s, duration_s=len(clip.samples) / SAMPLE_RATE, starts_s=out.starts_s,
                 ends_s=out.ends_s, embeddings=out.embeddings, published_log_odds=out.published_log_odds)  # fmt: skip
        tmp.replace(path)
    with np.load(path) as z:
        return CachedOutputs(float(z["offset_s"]), float(z["duration_s"]), z["starts_s"], z["ends_s"],
                             z["embeddings"], z["published_log_odds"])  # fmt: skip


def encoder_maps(item: VoiceItem, cache: str | Path, variant: str = "AASIST-L") -> np.ndarray:
    """The convolutional encoder's output for each of the clip's windows, (windows, channels, 23, steps), cached.

    What the graph-attention back end reads: fine-tuning that back end needs only these, not the waveform."""
    import torch

    from dflab.audio.aasist import load_model
    from dflab.audio.aasist_scoring import SAMPLE_RATE, crops
    from dflab.audio.voice_frontend import harmonise
    from dflab.media import load_audio

    cache = Path(cache)
    path = _cache_file(cache, item, variant).with_suffix(".encoder.npy")
    if not path.exists():
        clip = harmonise(load_audio(item.path).samples, SAMPLE_RATE)
        _, batch = crops(clip.samples)
        model = load_model(variant)
        with torch.inference_mode():
            maps = np.concatenate([model.encode(torch.from_numpy(batch[i : i + 2])).numpy() for i in range(0, len(batch), 2)])
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, maps.astype(np.float32))
        tmp.replace(path)
    return np.load(path)
