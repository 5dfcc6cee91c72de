"""The recording's band edge, measured at the clip's own sample rate.

Tape-style speed changes (resampling) multiply every frequency by the factor, so a slowed clip written at its
source's rate has no content above factor x Nyquist: a 16 kHz recording slowed to 0.75x stops at 6 kHz. The
resampler's anti-alias filter makes that edge a cliff of tens of dB within ~100 Hz, far steeper than the
natural fall of speech spectra. Lossy codecs cut too (MP3 at 64 kbit/s mono near 7.3 kHz at 16 kHz, AAC near
16 kHz at 44.1 kHz), so the edge is a feature for a calibrated model, not a verdict on its own.
"""

from __future__ import annotations

import numpy as np

EDGE_NAMES = ("band_edge_fraction", "band_edge_drop_db")
EDGE_RESOLUTION_HZ = 20.0
EDGE_SIDE_HZ = (60.0, 400.0)  # compare the level from 60 to 400 Hz below a candidate edge with that above it
DROP_CAP_DB = 60.0  # beyond this a cliff is as clear as it gets (MP3's reaches 90 dB): keeps models from extrapolating
EDGE_SEARCH = (0.3, 0.97)  # candidate edges as fractions of Nyquist (the top 3 % is every decimator's own edge)


def _ltas_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, long-term average spectrum in dB) with Welch averaging at ~EDGE_RESOLUTION_HZ."""
    from dflab.lazy_modules import scipy_signal

    welch = scipy_signal().welch

    nperseg = 1 << int(np.ceil(np.log2(sample_rate / EDGE_RESOLUTION_HZ)))
    nperseg = min(nperseg, 1 << int(np.floor(np.log2(max(len(samples), 2)))))
    freqs, power = welch(np.asarray(samples, dtype=np.float64), fs=sample_rate, nperseg=nperseg)
    return freqs, 10.0 * np.log10(power + 1e-20)


def band_edge(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Where the spectrum falls off a cliff below Nyquist, and how far (dB).

    band_edge_fraction: the steepest edge's frequency / Nyquist (1.0 when no edge stands out);
    band_edge_drop_db: median level just below it minus median level just above it, capped at DROP_CAP_DB."""
    if len(samples) < 256:
        return dict.fromkeys(EDGE_NAMES, np.nan)
    freqs, level = _ltas_db(samples, sample_rate)
    nyquist = sample_rate / 2.0
    step = freqs[1] - freqs[0]
    near, far = (max(1, round(s / step)) for s in EDGE_SIDE_HZ)
    lo, hi = (int(np.searchsorted(freqs, f * nyquist)) for f in EDGE_SEARCH)
    lo, hi = max(lo, far), min(hi, len(freqs) - far)
    if hi <= lo:
        return dict.fromkeys(EDGE_NAMES, np.nan)
    # medians over the side bands: robust to harmonics and to MP3's empty scale-factor bands
    below, above = _side_medians(level, lo, hi, near, far)
    drop = below - above
    best = int(np.argmax(drop))
    return {"band_edge_fraction": float(freqs[lo + best] / nyquist), "band_edge_drop_db": float(min(drop[best], DROP_CAP_DB))}


def _side_medians(level: np.ndarray, lo: int, hi: int, near: int, far: int) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate edge i in [lo, hi): the median of level[i - far : i - near] and of level[i + near :
    i + far]. One median along an axis of windows instead of one call per window (over a thousand at 44.1 kHz):
    each window is partitioned and its middle values averaged as np.median does for it alone, the same numbers."""
    if far <= near:  # empty side bands (a very short recording's coarse spectrum): np.median's NaN, as before
        return (np.array([np.median(level[i - far : i - near]) for i in range(lo, hi)]),
                np.array([np.median(level[i + near : i + far]) for i in range(lo, hi)]))  # fmt: skip
    windows = np.lib.stride_tricks.sliding_window_view(level, far - near)
    return np.median(windows[lo - far : hi - far], axis=1), np.median(windows[lo + near : hi + near], axis=1)
