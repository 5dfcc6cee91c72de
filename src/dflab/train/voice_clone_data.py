"""The synthetic-speech development corpus: cloned voices plus the classic-TTS and real-speech sets, featurised
through the same front end as a scan, one cached entry per file and codec version.

- cloned_voices (manifests/cloned_voices.csv): 64 real recordings of 21 speakers and 67 renderings (55 Tortoise
  zero-shot clones of the same speakers, Tortoise / Tacotron2 / NaturalSpeech comparison renderings). The clone
  "grace_train" imitates the speaker "train_grace", and the "lj_like*" renderings are LJSpeech-style voices,
  so they share the "lj" group;
- ljspeech_tts: 85 renderings by 7 TTS systems and LJSpeech's own 5 recordings (group "lj": the same voice as
  cloned_voices' "lj");
- librispeech: 100 utterances of 10 speakers (one group each); LivePortrait driving clips with a voice (one
  group each; d20 trains, the others are only ever scored).

Every file is decoded, resampled to 16 kHz and put through dflab.audio.voice_frontend.harmonise (trim, loudness,
one MP3 round trip at 32 kbit/s), exactly as at scan time. The classic-TTS and real-speech files keep their
codec augmentation (each also through MP3 48k and AAC 64k before the front end); cloned voices, whose reals are
WAV and fakes MP3, are seen only once, through the front end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.errors import NotFound

SAME_VOICE = {"grace_train": "train_grace"}
CACHE_VERSION = "v3"
DEFAULT_CACHE = Path("/tmp/dflab-voice-features")
FALSE_ALARM_CLIPS = ("d0", "d3", "d6", "d9", "d10", "d11", "d13", "d14", "d18", "d19", "d20")


@dataclass(frozen=True)
class VoiceFile:
    path: Path
    label: int  # 1 = synthetic
    method: str  # reference_recording, tortoise_clone, ... / TTS system / corpus name
    group: str  # one voice: the cross-validation fold never splits it
    dataset: str  # cloned_voices, ljspeech_tts, librispeech, liveportrait
    trains: bool = True  # False: only ever scored (false-alarm check)


def voice_group(speaker: str) -> str:
    if speaker.startswith("lj_like"):
        return "lj"
    return SAME_VOICE.get(speaker, speaker)


def corpus(data: str | Path) -> list[VoiceFile]:
    """Every development file the detector would judge (see `judged`)."""
    return judged(_all_files(data))


def _all_files(data: str | Path) -> list[VoiceFile]:
    from dflab.eval.manifest import read_manifest
    from dflab.train.speed_testset import LIVEPORTRAIT_WITH_SPEECH

    data = Path(data)
    manifest = data / "manifests" / "cloned_voices.csv"
    if not manifest.exists() or not (data / "ljspeech_tts").is_dir():
        raise NotFound(f"{manifest} or {data / 'ljspeech_tts'} not found (point --data at the shared data folder)")
    files = [VoiceFile(row.file, row.label, row.method or "", voice_group(row.extra["speaker"]), "cloned_voices")
             for row in read_manifest(manifest).rows]  # fmt: skip
    for wav in sorted((data / "ljspeech_tts").glob("*/wav*/*.wav")):
        system = wav.parts[-3]
        real = system == "ground_truth"
        files.append(VoiceFile(wav, 0 if real else 1, "ljspeech" if real else system, "lj", "ljspeech_tts"))
    for flac in sorted((data / "librispeech").glob("*/*.flac")):
        files.append(VoiceFile(flac, 0, "librispeech", f"libri_{flac.parent.name}", "librispeech"))
    for name in FALSE_ALARM_CLIPS:
        clip = data / "liveportrait/assets/examples/driving" / f"{name}.mp4"
        if clip.exists() and _has_audio(clip):
            files.append(VoiceFile(clip, 0, "liveportrait", f"lp_{name}", "liveportrait",
                                   trains=name in LIVEPORTRAIT_WITH_SPEECH))
    return files


def text_of(item: VoiceFile) -> str:
    """What is said: the Tortoise clones share a few texts across voices (one folder per text); every other file
    says its own."""
    if item.dataset == "cloned_voices" and item.path.parent.parent.name == "tortoise" and item.path.parent.name != "favorites":
        return item.path.parent.name
    return str(item.path)


def judged(items: list[VoiceFile]) -> list[VoiceFile]:
    """The files the detector judges: a LivePortrait clip whose sound is silent or not speech (music, a beat)
    makes it abstain, so it is neither trained on nor scored."""
    from dflab.audio.presence import sounds_like_speech
    from dflab.audio.signal import normalise_loudness
    from dflab.errors import BadMedia
    from dflab.media import load_audio

    out = []
    for item in items:
        if item.dataset == "liveportrait":
            audio = load_audio(item.path)
            try:
                if not sounds_like_speech(normalise_loudness(audio.samples, audio.sample_rate), audio.sample_rate):
                    continue
            except BadMedia:
                continue
        out.append(item)
    return out


def _has_audio(path: Path) -> bool:
    import av

    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def versions_of(item: VoiceFile) -> tuple[str, ...]:
    """The codec histories a file is seen with before the front end."""
    return ("original",) if item.dataset == "cloned_voices" else ("original", "mp3", "aac")


def raw_statistics(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Trivial properties a model must not be able to use: duration, loudness, silence at either end, roll-off."""
    from dflab.audio.signal import HOP_S, active_mask, frame_rms_db

    level = frame_rms_db(samples, sample_rate)
    mask = active_mask(level, below_peak_db=40.0)
    active = np.flatnonzero(mask) if mask.any() else np.array([0, len(level) - 1])
    spectrum = np.abs(np.fft.rfft(samples[: sample_rate * 30].astype(np.float64))) ** 2
    cumulative = np.cumsum(spectrum) / (spectrum.sum() + 1e-20)
    freqs = np.fft.rfftfreq(min(len(samples), sample_rate * 30), 1.0 / sample_rate)
    return {"duration_s": len(samples) / sample_rate,
            "loudness_db": float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-20)),
            "leading_silence_s": float(active[0] * HOP_S), "trailing_silence_s": float((len(level) - 1 - active[-1]) * HOP_S),
            "rolloff_99_hz": float(freqs[min(len(freqs) - 1, np.searchsorted(cumulative, 0.99))]),
            "noise_floor_db": float(np.percentile(level, 5) - np.percentile(level, 95))}  # fmt: skip


def _cache_path(cache: Path, item: VoiceFile, version: str) -> Path:
    key = hashlib.sha256(f"{CACHE_VERSION}|{version}|{item.path.resolve()}".encode()).hexdigest()[:20]
    return cache / f"{item.path.stem}-{version}-{key}.npz"


def featurised(item: VoiceFile, version: str, cache: str | Path = DEFAULT_CACHE) -> dict:
    """The file's window blocks (lfcc, band, modulation) after the front end, and its raw and harmonised
    statistics; cached (deterministic)."""
    from dflab.audio.antispoof import codec_roundtrip
    from dflab.audio.voice_features import SAMPLE_RATE, all_blocks, speech_core
    from dflab.audio.voice_frontend import harmonise
    from dflab.media import load_audio
    from dflab.media.load import NATIVE_RATE

    path = _cache_path(Path(cache), item, version)
    if not path.exists():
        native = load_audio(item.path, sample_rate=NATIVE_RATE)
        raw = raw_statistics(native.samples, native.sample_rate)
        samples = load_audio(item.path).samples  # 16 kHz
        if version != "original":
            samples = codec_roundtrip(samples, version)
        samples = harmonise(samples, SAMPLE_RATE).samples
        blocks = all_blocks(samples)
        after = raw_statistics(speech_core(samples), SAMPLE_RATE)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **blocks, **{f"raw_{k}": v for k, v in raw.items()},
                 **{f"after_{k}": v for k, v in after.items()}, source_rate=native.sample_rate)  # fmt: skip
        tmp.replace(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
