"""Linear-frequency cepstral coefficients (LFCC), the ASVspoof baseline front end.

Unlike MFCCs, LFCCs keep the resolution of the high band, where vocoders (Griffin-Lim phase
reconstruction, WaveNet's quantisation noise) leave most of their traces.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

N_FFT = 512
WIN = 320  # 20 ms at 16 kHz
HOP = 160
N_FILTERS = 20
N_CEPS = 20


def linear_filterbank(sample_rate: int, n_fft: int = N_FFT, n_filters: int = N_FILTERS) -> np.ndarray:
    """Triangular filters equally spaced on a linear frequency axis (n_filters x n_fft//2+1)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    centres = np.linspace(0, sample_rate / 2, n_filters + 2)
    bank = np.zeros((n_filters, len(freqs)))
    for i in range(n_filters):
        lo, mid, hi = centres[i], centres[i + 1], centres[i + 2]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank


def deltas(feat: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over +-width frames (frames x dims)."""
    padded = np.pad(feat, ((width, width), (0, 0)), mode="edge")
    num = sum(k * (padded[width + k : len(feat) + width + k] - padded[width - k : len(feat) + width - k])
              for k in range(1, width + 1))  # fmt: skip
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def lfcc(samples: np.ndarray, sample_rate: int = 16_000) -> tuple[np.ndarray, np.ndarray]:
    """(frames x 60 LFCC+delta+delta-delta, per-frame log energy in dB)."""
    x = np.asarray(samples, dtype=np.float64)
    x = np.append(x[0], x[1:] - 0.97 * x[:-1])  # pre-emphasis
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hamming(WIN), n=N_FFT, axis=1)) ** 2
    energies = power @ linear_filterbank(sample_rate).T
    ceps = dct(np.log(energies + 1e-10), type=2, axis=1, norm="ortho")[:, :N_CEPS]
    d1 = deltas(ceps)
    d2 = deltas(d1)
    level = 10 * np.log10(power.sum(axis=1) + 1e-10)
    return np.concatenate([ceps, d1, d2], axis=1), level


def utterance_statistics(samples: np.ndarray, sample_rate: int = 16_000) -> np.ndarray:
    """Mean and standard deviation of the LFCCs over the speech frames (120 numbers)."""
    feats, level = lfcc(samples, sample_rate)
    active = level > np.percentile(level, 95) - 35
    if active.sum() < 10:
        active = np.ones(len(level), dtype=bool)
    speech = feats[active]
    return np.concatenate([speech.mean(axis=0), speech.std(axis=0)])
