"""Per-window time-frequency maps and speaker embeddings of the synthetic-speech development corpus, cached.

The logistic model sees 120 statistics per 4 s window. The experiments beside it (dflab.train.voice_map_cnn,
dflab.train.voice_window_extra) need what those statistics summarise: for exactly the same windows (front end,
edge cut, 4 s windows with a 2 s hop: dflab.audio.voice_features), every 10 ms frame's

- "lfcc": 20 LFCCs with deltas and delta-deltas (dflab.audio.lfcc.lfcc, as the statistics use them),
- "fbank": the log energies of 60 triangular filters on a linear frequency axis (the log-linear spectrogram the
  ASVspoof LCNN baseline reads, at a resolution a small network can afford),
- "active": the speech frames (the statistics' own rule: within 35 dB of the 95th percentile level),

and for each window the GE2E speaker embedding of resemblyzer's pretrained encoder ("ge2e": the mean of its
1.6 s partials, 256 numbers; "ge2e_spread": the partials' standard deviation per dimension, averaged, i.e. how
much the voice moves within the window). Cached per file and codec version (deterministic), float16 maps.

    python -m dflab.train.voice_window_maps [--data ../shared/data] [--cache /tmp/dflab-voice-maps]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from dflab.train.voice_clone_data import VoiceFile

DEFAULT_MAP_CACHE = Path("/tmp/dflab-voice-maps")
MAP_VERSION = "m1"
N_FBANK = 60
_ENCODER = None


def _encoder():
    global _ENCODER
    if _ENCODER is None:
        from resemblyzer import VoiceEncoder

        _ENCODER = VoiceEncoder("cpu", verbose=False)
    return _ENCODER


def log_fbank(samples: np.ndarray, sample_rate: int = 16_000, n_filters: int = N_FBANK) -> np.ndarray:
    """Frames x n_filters log energies of linear triangular filters, framed as dflab.audio.lfcc frames."""
    from dflab.audio.lfcc import HOP, N_FFT, WIN, linear_filterbank

    x = np.asarray(samples, dtype=np.float64)
    x = np.append(x[0], x[1:] - 0.97 * x[:-1])
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hamming(WIN), n=N_FFT, axis=1)) ** 2
    return np.log(power @ linear_filterbank(sample_rate, N_FFT, n_filters).T + 1e-10)


def window_maps(samples: np.ndarray, sample_rate: int = 16_000, with_embedding: bool = True) -> dict[str, list]:
    """The maps (and embeddings) of every window of a harmonised clip, in the order of voice_features' rows."""
    from dflab.audio.lfcc import lfcc
    from dflab.audio.voice_features import speech_core, windows

    core = speech_core(samples, sample_rate)
    out: dict[str, list] = {"lfcc": [], "fbank": [], "active": [], "ge2e": [], "ge2e_spread": []}
    for a, b in windows(core, sample_rate):
        piece = core[a:b]
        feats, level = lfcc(piece, sample_rate)
        active = level > np.percentile(level, 95) - 35
        if active.sum() < 10:
            active = np.ones(len(level), dtype=bool)
        out["lfcc"].append(feats.astype(np.float16))
        out["fbank"].append(log_fbank(piece, sample_rate).astype(np.float16))
        out["active"].append(active)
        if with_embedding:
            embed, partials, _ = _encoder().embed_utterance(piece.astype(np.float32), return_partials=True)
            out["ge2e"].append(embed.astype(np.float32))
            out["ge2e_spread"].append(np.float32(partials.std(axis=0).mean()))
    return out


def _path(cache: Path, item: VoiceFile, version: str) -> Path:
    key = hashlib.sha256(f"{MAP_VERSION}|{version}|{item.path.resolve()}".encode()).hexdigest()[:20]
    return cache / f"{item.path.stem}-{version}-{key}.npz"


def maps_of(item: VoiceFile, version: str, cache: str | Path = DEFAULT_MAP_CACHE) -> dict[str, list]:
    """The file's window maps after the front end (computed once, then read from the cache)."""
    path = _path(Path(cache), item, version)
    if not path.exists():
        from dflab.audio.antispoof import codec_roundtrip
        from dflab.audio.voice_frontend import harmonise
        from dflab.media import load_audio

        samples = load_audio(item.path).samples  # 16 kHz
        if version != "original":
            samples = codec_roundtrip(samples, version)
        maps = window_maps(harmonise(samples, 16_000).samples)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        n = len(maps["lfcc"])
        np.savez(tmp, n=n, ge2e=np.stack(maps["ge2e"]), ge2e_spread=np.array(maps["ge2e_spread"]),
                 **{f"{k}_{i}": maps[k][i] for k in ("lfcc", "fbank", "active") for i in range(n)})  # fmt: skip
        tmp.replace(path)
    with np.load(path) as z:
        n = int(z["n"])
        return {"ge2e": list(z["ge2e"]), "ge2e_spread": list(z["ge2e_spread"]),
                **{k: [z[f"{k}_{i}"] for i in range(n)] for k in ("lfcc", "fbank", "active")}}  # fmt: skip


def main(argv=None) -> int:
    import time

    import torch

    from dflab.train.voice_clone_data import corpus, featurised, versions_of

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default=str(DEFAULT_MAP_CACHE))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    items = corpus(args.data)
    start = time.process_time()
    for i, item in enumerate(items):
        for version in versions_of(item):
            maps = maps_of(item, version, args.cache)
            expected = len(featurised(item, version)["lfcc"])
            if len(maps["lfcc"]) != expected:  # the rows must be the logistic model's windows, one for one
                raise SystemExit(f"{item.path}: {len(maps['lfcc'])} windows, the feature cache has {expected}")
        if i % 25 == 0:
            print(f"{i}/{len(items)} files, {time.process_time() - start:.0f} s CPU", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


GD_ALPHA, GD_GAMMA, GD_LIFTER = 0.4, 0.9, 30  # the usual modified-group-delay settings (Hegde, Murthy et al.)


def group_delay_statistics(samples: np.ndarray, n_ceps: int = 20) -> np.ndarray:
    """Modified group delay cepstra of a window (with deltas and delta-deltas), mean and spread over the speech
    frames (120 numbers): the phase spectrum LFCCs throw away, which vocoders reconstruct from magnitudes."""
    from scipy.fft import dct

    from dflab.audio.lfcc import HOP, N_FFT, WIN, deltas

    x = np.asarray(samples, dtype=np.float64)
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP] * np.hamming(WIN)
    spec_x = np.fft.rfft(frames, n=N_FFT, axis=1)
    spec_y = np.fft.rfft(frames * np.arange(WIN), n=N_FFT, axis=1)
    log_mag = np.log(np.abs(spec_x) + 1e-8)
    ceps = np.fft.irfft(log_mag, n=N_FFT, axis=1)
    ceps[:, GD_LIFTER:-GD_LIFTER] = 0.0  # cepstral smoothing: keep the envelope, drop the pitch harmonics
    smooth = np.exp(np.fft.rfft(ceps, n=N_FFT, axis=1).real)
    tau = (spec_x.real * spec_y.real + spec_x.imag * spec_y.imag) / (smooth ** (2 * GD_GAMMA) + 1e-8)
    tau = np.sign(tau) * np.abs(tau) ** GD_ALPHA
    gd = dct(tau, type=2, axis=1, norm="ortho")[:, 1 : n_ceps + 1]
    d1 = deltas(gd)
    feats = np.concatenate([gd, d1, deltas(d1)], axis=1)
    level = 10 * np.log10((np.abs(spec_x) ** 2).sum(axis=1) + 1e-10)
    active = level > np.percentile(level, 95) - 35
    if active.sum() < 10:
        active = np.ones(len(level), dtype=bool)
    return np.concatenate([feats[active].mean(axis=0), feats[active].std(axis=0)])


def group_delay_rows(item: VoiceFile, version: str, cache: str | Path = DEFAULT_MAP_CACHE) -> np.ndarray:
    """The file's windows' group delay statistics after the front end (cached)."""
    path = _path(Path(cache), item, version).with_name(_path(Path(cache), item, version).stem + "-gd.npy")
    if not path.exists():
        from dflab.audio.antispoof import codec_roundtrip
        from dflab.audio.voice_features import speech_core, windows
        from dflab.audio.voice_frontend import harmonise
        from dflab.media import load_audio

        samples = load_audio(item.path).samples
        if version != "original":
            samples = codec_roundtrip(samples, version)
        core = speech_core(harmonise(samples, 16_000).samples)
        rows = np.stack([group_delay_statistics(core[a:b]) for a, b in windows(core)])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rows)
    return np.load(path)
