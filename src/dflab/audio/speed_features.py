"""One feature vector per clip for playback-speed estimation (rate, pitch, spectrum, smearing)."""

from __future__ import annotations

import numpy as np

from dflab.audio import SAMPLE_RATE
from dflab.audio.artefacts import ARTEFACT_NAMES, artefact_features
from dflab.audio.band_edge import EDGE_NAMES, band_edge
from dflab.audio.pitch import pitch_statistics, yin
from dflab.audio.rate import rate_statistics, speech_band_envelope
from dflab.audio.signal import active_mask, normalise_loudness, require_duration
from dflab.audio.spectral import (
    N_BANDS,
    ltas_bands,
    onset_sharpness,
    power_spectrogram,
    spectral_statistics,
)

MIN_SECONDS = 3.0

SCALAR_NAMES = (
    "syllable_rate", "articulation_rate", "pause_fraction", "pause_mean_s", "nucleus_gap_median_s",
    "modulation_centroid_hz", "modulation_peak_hz",
    "voiced_fraction", "f0_median_st", "f0_iqr_st", "f0_slope_st_per_s", "voiced_run_s", "aperiodicity_median",
    "centroid_log2_hz", "rolloff_log2_hz", "cutoff_log2_hz", "frame_similarity_10ms", "frame_similarity_30ms",
    "frame_similarity_80ms", "flux_median_db", "flux_p95_over_median", "fine_change_db", "flatness_median",
    "onset_slope_db_per_5ms", "onset_slope_p90", "onset_rate",
)  # fmt: skip
FEATURE_NAMES = SCALAR_NAMES + tuple(f"ltas_{i}" for i in range(N_BANDS)) + ARTEFACT_NAMES + EDGE_NAMES


def speed_features(samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
                   native: tuple[np.ndarray, int] | None = None) -> dict[str, float]:
    """Named features of a speech clip at 16 kHz (NaN where a feature could not be measured).

    `native` is the same clip at its own sample rate (samples, rate): the method artefacts are measured on
    it, since time-scale methods work on a grid of whole samples at that rate. Without it they are measured
    on the 16 kHz samples (exact for 16 kHz sources only)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"speed features expect {SAMPLE_RATE} Hz audio, got {sample_rate}")
    require_duration(samples, sample_rate, MIN_SECONDS, "speed estimation")
    samples = normalise_loudness(samples, sample_rate)
    spec = power_spectrogram(samples, sample_rate)
    envelope = speech_band_envelope(spec.power, spec.freqs)
    track = yin(samples, sample_rate)
    # YIN frames are centred 2*max_lag/2 samples in; align to the STFT's 10 ms grid by index (offset < 15 ms)
    voiced = np.zeros(spec.power.shape[1], dtype=bool)
    n = min(len(voiced), len(track.voiced))
    voiced[:n] = track.voiced[:n]
    level = 10 * np.log10(spec.power.sum(axis=0) + 1e-12)
    active = active_mask(level - level.max(), floor_db=-60.0)
    out: dict[str, float] = {}
    out.update(rate_statistics(envelope, voiced))
    out.update(pitch_statistics(track))
    aper = track.aperiodicity[: len(active)][active[: len(track.aperiodicity)]]
    out["aperiodicity_median"] = float(np.median(aper)) if len(aper) else np.nan
    out.update(spectral_statistics(spec, active))
    out.update(onset_sharpness(samples, sample_rate))
    for i, value in enumerate(ltas_bands(spec, active)):
        out[f"ltas_{i}"] = float(value)
    if native is not None:
        native = (normalise_loudness(native[0], native[1]), native[1])
    out.update(artefact_features(samples, sample_rate, native))  # phasiness, WSOLA repeats, grid lines
    out.update(band_edge(*(native or (samples, sample_rate))))  # resampling moves the edge: own rate only
    return out


def feature_vector(features: dict[str, float]) -> np.ndarray:
    return np.array([features.get(name, np.nan) for name in FEATURE_NAMES], dtype=np.float64)
