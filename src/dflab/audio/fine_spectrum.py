"""A fine log-frequency spectrum of 16 kHz speech: 1/96-octave bands from 90 Hz to 7.95 kHz, 10 ms frames.

On a log-frequency axis a pitch shift by a factor f is a shift by log2(f) octaves, which on this grid is an
index shift with under 0.4 % error. Two users: the audio-only comparison of a copy with its original
(dflab.shallow.audio_align) and the registry's speed- and pitch-invariant audio fingerprint
(dflab.provenance.registry.audio_trace); it lives here, below both, so neither imports the other.
"""

from __future__ import annotations

import numpy as np

from dflab.audio import SAMPLE_RATE
from dflab.audio.spectral import HOP, power_spectrogram
from dflab.errors import UsageError
from dflab.media.types import Audio

HOP_S = HOP / SAMPLE_RATE  # 10 ms frames (dflab.audio.spectral)
FINE_PER_OCTAVE = 96  # fine log-frequency grid: a pitch shift becomes an index shift with < 0.4 % error
FINE_LO_HZ, FINE_HI_HZ = 90.0, 7950.0
FLOOR_DB = 45.0  # energies more than this below the file's loudest band-frame are floored (codec noise, silence)


def fine_log_spectrum(audio: Audio) -> np.ndarray:
    """(fine bands, frames) log power on the 1/96-octave grid, floored FLOOR_DB under the file's peak."""
    if audio.sample_rate != SAMPLE_RATE:
        raise UsageError(f"audio alignment works at {SAMPLE_RATE} Hz, got {audio.sample_rate} Hz")
    spec = power_spectrogram(audio.samples, SAMPLE_RATE)
    centres = FINE_LO_HZ * 2.0 ** (np.arange(int(np.log2(FINE_HI_HZ / FINE_LO_HZ) * FINE_PER_OCTAVE)) / FINE_PER_OCTAVE)
    # Triangular weights at least two FFT bins wide: at low frequency the fine bands are narrower than a bin,
    # and interpolating between bins keeps a shifted grid smooth rather than stepped.
    bin_hz = spec.freqs[1]
    half = np.maximum(centres * (2.0 ** (1.0 / FINE_PER_OCTAVE) - 1.0), bin_hz)
    weights = np.clip(1.0 - np.abs(spec.freqs[None, :] - centres[:, None]) / half[:, None], 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    db = 10.0 * np.log10(weights @ spec.power + 1e-12)
    return np.maximum(db, db.max() - FLOOR_DB)
