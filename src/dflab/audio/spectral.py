"""Spectral statistics of speech: long-term spectrum, bandwidth, smearing and onset sharpness.

Two kinds of evidence live here. Playback speed without pitch correction moves the whole spectrum
(formants and F0 together) by the factor, which shows against the norms of natural voices in the
long-term average spectrum and centroid. Pitch-corrected speed changes (phase vocoder, WSOLA) keep the
spectrum but smear it in time: transients lose their attack, neighbouring frames become more alike
when slowed and partials beat ("phasiness"); the smearing and onset-slope measures catch that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FFT = 512
HOP = 160  # 10 ms at 16 kHz
N_BANDS = 16


@dataclass(frozen=True)
class Spectrogram:
    power: np.ndarray  # bins x frames
    freqs: np.ndarray
    sample_rate: int

    @property
    def fps(self) -> float:
        return self.sample_rate / HOP


def power_spectrogram(samples: np.ndarray, sample_rate: int) -> Spectrogram:
    """Hann-window STFT power, 32 ms windows every 10 ms (numpy only, frames centred like librosa)."""
    padded = np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    spec = np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)
    power = (spec.real**2 + spec.imag**2).T.astype(np.float64)
    return Spectrogram(power=power, freqs=np.fft.rfftfreq(N_FFT, 1.0 / sample_rate), sample_rate=sample_rate)


def band_edges(sample_rate: int, n_bands: int = N_BANDS, lo_hz: float = 80.0) -> np.ndarray:
    return np.geomspace(lo_hz, sample_rate / 2, n_bands + 1)


def ltas_bands(spec: Spectrogram, active: np.ndarray) -> np.ndarray:
    """Long-term average spectrum in log-spaced bands (dB, mean removed) over the active frames."""
    edges = band_edges(spec.sample_rate)
    mean_power = spec.power[:, active].mean(axis=1) if active.any() else spec.power.mean(axis=1)
    bands = np.array(
        [mean_power[(spec.freqs >= a) & (spec.freqs < b)].mean() for a, b in zip(edges[:-1], edges[1:])]
    )
    db = 10 * np.log10(bands + 1e-12)
    return db - db.mean()


def spectral_statistics(spec: Spectrogram, active: np.ndarray) -> dict[str, float]:
    power = spec.power[:, active] if active.sum() >= 10 else spec.power
    freqs = spec.freqs
    total = power.sum(axis=0) + 1e-12
    centroid = (freqs[:, None] * power).sum(axis=0) / total
    cumulative = np.cumsum(power, axis=0) / total
    rolloff = freqs[np.minimum((cumulative < 0.95).sum(axis=0), len(freqs) - 1)]
    ltas_db = 10 * np.log10(power.mean(axis=1) + 1e-12)
    top = np.percentile(ltas_db[freqs > 100], 95)
    strong = np.flatnonzero((ltas_db > top - 50) & (freqs > 100))
    cutoff = float(freqs[strong[-1]]) if len(strong) else float(freqs[-1])
    log_power = 10 * np.log10(power + 1e-10)
    centred = log_power - log_power.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=0) + 1e-9

    def lag_similarity(lag: int) -> float:
        if centred.shape[1] <= lag:
            return np.nan
        dots = (centred[:, lag:] * centred[:, :-lag]).sum(axis=0) / (norms[lag:] * norms[:-lag])
        return float(np.median(dots))

    flux = np.sqrt(np.mean(np.square(np.maximum(np.diff(log_power, axis=1), 0.0)), axis=0))
    fine = np.median(np.abs(np.diff(log_power, axis=1)), axis=0)
    geo = np.exp(np.mean(np.log(power + 1e-12), axis=0))
    flatness = geo / (power.mean(axis=0) + 1e-12)
    return {
        "centroid_log2_hz": float(np.log2(np.median(centroid) + 1)),
        "rolloff_log2_hz": float(np.log2(np.median(rolloff) + 1)),
        "cutoff_log2_hz": float(np.log2(cutoff + 1)),
        "frame_similarity_10ms": lag_similarity(1),
        "frame_similarity_30ms": lag_similarity(3),
        "frame_similarity_80ms": lag_similarity(8),
        "flux_median_db": float(np.median(flux)),
        "flux_p95_over_median": float(np.percentile(flux, 95) / (np.median(flux) + 1e-6)),
        "fine_change_db": float(np.median(fine)),
        "flatness_median": float(np.median(flatness)),
    }


def onset_sharpness(samples: np.ndarray, sample_rate: int, band_lo_hz: float = 2000.0) -> dict[str, float]:
    """How steeply high-band energy rises at onsets (dB per 5 ms). Bursts of plosives are near-instant in
    natural speech; a phase vocoder spreads them over its window, the more so the more it slows."""
    from dflab.lazy_modules import scipy_signal

    butter, sosfilt = scipy_signal().butter, scipy_signal().sosfilt

    sos = butter(4, band_lo_hz / (sample_rate / 2), btype="highpass", output="sos")
    high = sosfilt(sos, samples.astype(np.float64))
    hop = int(0.0025 * sample_rate)
    win = 2 * hop
    n = 1 + (len(high) - win) // hop
    if n < 20:
        return {"onset_slope_db_per_5ms": np.nan, "onset_slope_p90": np.nan, "onset_rate": 0.0}
    frames = np.lib.stride_tricks.sliding_window_view(high, win)[::hop][:n]
    env = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    rise = env[2:] - env[:-2]  # change over 5 ms
    from dflab.lazy_modules import scipy_signal

    find_peaks = scipy_signal().find_peaks

    loud = env[2:] > np.percentile(env, 95) - 30
    peaks, _ = find_peaks(np.where(loud, rise, 0.0), height=6.0, distance=int(0.05 / 0.0025))
    if len(peaks) < 3:
        return {"onset_slope_db_per_5ms": np.nan, "onset_slope_p90": np.nan, "onset_rate": len(peaks) / (n * 0.0025)}
    slopes = rise[peaks]
    return {
        "onset_slope_db_per_5ms": float(np.median(slopes)),
        "onset_slope_p90": float(np.percentile(slopes, 90)),
        "onset_rate": len(peaks) / (n * 0.0025),
    }
