"""Speaking rate and pauses from the energy envelope (after de Jong & Wempe 2009, "Praat script to detect
syllable nuclei"): a syllable nucleus is a loudness peak in the speech band that stands out from the dips
around it and is voiced. Rates scale directly with playback speed, so they carry the factor; their spread
across speakers (about +-20 %) is what limits a single-clip estimate.
"""

from __future__ import annotations

import numpy as np

from dflab.lazy_modules import scipy_signal

find_peaks = scipy_signal().find_peaks  # scipy.signal without scipy.stats (dflab/lazy_modules.py)

ENVELOPE_FPS = 100.0  # one value per 10 ms
MIN_PAUSE_S = 0.15
NUCLEUS_PROMINENCE_DB = 3.0
MIN_NUCLEUS_GAP_S = 0.07


def speech_band_envelope(power: np.ndarray, freqs: np.ndarray, lo_hz: float = 300.0, hi_hz: float = 3000.0) -> np.ndarray:
    """Speech-band level in dB per STFT frame (power: bins x frames), smoothed over 50 ms."""
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    level = 10.0 * np.log10(power[band].sum(axis=0) + 1e-10)
    kernel = np.hanning(7)
    kernel /= kernel.sum()
    return np.convolve(level, kernel, mode="same")


def syllable_nuclei(envelope_db: np.ndarray, voiced: np.ndarray | None = None) -> np.ndarray:
    """Frame indices of syllable nuclei: prominent, loud-enough, (voiced) envelope peaks."""
    if len(envelope_db) < 5:
        return np.zeros(0, dtype=int)
    floor = np.percentile(envelope_db, 95) - 25.0
    peaks, _ = find_peaks(
        envelope_db, prominence=NUCLEUS_PROMINENCE_DB, distance=max(1, int(MIN_NUCLEUS_GAP_S * ENVELOPE_FPS))
    )
    peaks = peaks[envelope_db[peaks] > floor]
    if voiced is not None and len(voiced):
        near = np.zeros(len(envelope_db), dtype=bool)
        v = np.flatnonzero(voiced[: len(envelope_db)])
        for d in (-2, -1, 0, 1, 2):  # voicing within +-20 ms of the peak
            near[np.clip(v + d, 0, len(near) - 1)] = True
        peaks = peaks[near[peaks]]
    return peaks


def pause_mask(envelope_db: np.ndarray) -> np.ndarray:
    """Frames that belong to pauses of at least MIN_PAUSE_S (quiet relative to the loud speech)."""
    if len(envelope_db) == 0:
        return np.zeros(0, dtype=bool)
    quiet = envelope_db < np.percentile(envelope_db, 90) - 25.0
    padded = np.concatenate([[False], quiet, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    mask = np.zeros(len(envelope_db), dtype=bool)
    for start, end in zip(edges[::2], edges[1::2]):
        if (end - start) / ENVELOPE_FPS >= MIN_PAUSE_S:
            mask[start:end] = True
    return mask


def modulation_spectrum(envelope_db: np.ndarray, lo_hz: float = 0.5, hi_hz: float = 16.0) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) of the envelope's modulation: syllables make a peak near 4-5 Hz in natural speech."""
    env = envelope_db - np.mean(envelope_db)
    n = max(1024, 1 << int(np.ceil(np.log2(len(env)))))
    power = np.abs(np.fft.rfft(env * np.hanning(len(env)), n=n)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / ENVELOPE_FPS)
    keep = (freqs >= lo_hz) & (freqs <= hi_hz)
    return freqs[keep], power[keep]


def rate_statistics(envelope_db: np.ndarray, voiced: np.ndarray | None = None) -> dict[str, float]:
    """Syllables per second (overall and excluding pauses), pause share and length, modulation centroid."""
    duration = len(envelope_db) / ENVELOPE_FPS
    nuclei = syllable_nuclei(envelope_db, voiced)
    pauses = pause_mask(envelope_db)
    speaking = max(duration - pauses.sum() / ENVELOPE_FPS, 1e-3)
    padded = np.concatenate([[False], pauses, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    pause_lengths = (edges[1::2] - edges[::2]) / ENVELOPE_FPS
    freqs, power = modulation_spectrum(envelope_db)
    log_f = np.log2(freqs)
    centroid = float(2 ** (np.sum(log_f * power) / max(np.sum(power), 1e-12)))
    band = (freqs >= 1.0) & (freqs <= 12.0)
    peak = float(freqs[band][np.argmax(power[band])]) if band.any() else np.nan
    gaps = np.diff(nuclei) / ENVELOPE_FPS
    return {
        "syllable_rate": len(nuclei) / max(duration, 1e-3),
        "articulation_rate": len(nuclei) / speaking,
        "pause_fraction": float(pauses.mean()) if len(pauses) else 0.0,
        "pause_mean_s": float(np.mean(pause_lengths)) if len(pause_lengths) else 0.0,
        "nucleus_gap_median_s": float(np.median(gaps)) if len(gaps) else np.nan,
        "modulation_centroid_hz": centroid,
        "modulation_peak_hz": peak,
    }
