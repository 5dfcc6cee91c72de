"""Audio discontinuities: where a soundtrack was spliced, the short-time spectrum jumps from one 10 ms frame to
the next by more than speech or music usually does, and the waveform can click.

We measure the log-spectral flux between frames 20 ms apart over 24 log-spaced bands, and compare each value
with its own neighbourhood (robust z-score: median and MAD over +-1 s), because loud music and quiet speech
have very different typical flux. Splices of the same recording (a piece removed) are often inaudible and
then undetectable here too; splices of two recordings (different room, level or music) stand out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.media.types import Audio

HOP_S = 0.010
WIN_S = 0.025
N_BANDS = 24
CONTEXT_S = 1.0  # each flux value is judged against +-1 s around it
EDGE_S = 0.3  # encoder priming, padding and fades make the first/last moments jump: not judged
MIN_RMS = 3e-3  # below this (about -50 dBFS) the track is silence or hiss and says nothing


@dataclass(frozen=True)
class FluxSeries:
    times: np.ndarray  # seconds, centre of the step between the two compared frames
    flux: np.ndarray  # RMS log-spectral change over the bands
    zscore: np.ndarray  # robust z against the local neighbourhood


ROLLING_BLOCK_ROWS = 4096  # values per step of the rolling median (each needs a copy of its 2 s neighbourhood)


def band_log_spectrum(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame centre times, log band energies [bands, frames]) on 25 ms windows every 10 ms; a long track is
    transformed a minute at a time (dflab.audio.stft_blocks), the same frames."""
    from dflab.audio.stft_blocks import stft_reduced

    nperseg = int(round(WIN_S * sample_rate))
    hop = int(round(HOP_S * sample_rate))
    return stft_reduced(samples.astype(np.float32, copy=False), sample_rate, nperseg, hop, _log_bands)


def _log_bands(freqs: np.ndarray, spec: np.ndarray) -> np.ndarray:
    power = np.abs(spec) ** 2
    # Log-spaced band edges from ~100 Hz to Nyquist, as bin indices (each band gets at least one bin).
    lo_bin = max(1, int(round(100.0 / (freqs[1] - freqs[0]))))
    edges = np.unique(np.round(np.geomspace(lo_bin, len(freqs) - 1, N_BANDS + 1)).astype(int))
    bands = np.add.reduceat(power[: edges[-1]], edges[:-1], axis=0) / np.diff(edges)[:, None]
    return np.log(bands + 1e-9)


def _rolling(values: np.ndarray, half: int, fn) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(values, half, mode="reflect") if len(values) > half else np.pad(values, half, mode="edge")
    windows = sliding_window_view(padded, 2 * half + 1)
    # row blocks: each row's result is its own, and a median copies what it reads (201 values per row)
    return np.concatenate([fn(windows[i : i + ROLLING_BLOCK_ROWS], axis=1)
                           for i in range(0, len(windows), ROLLING_BLOCK_ROWS)])  # fmt: skip


def flux_series(audio: Audio) -> FluxSeries | None:
    """Spectral flux and its local z-score; None when the track is too short or silent."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if len(samples) < audio.sample_rate * 3 * WIN_S or float(np.sqrt(np.mean(samples**2))) < MIN_RMS:
        return None
    times, logspec = band_log_spectrum(samples, audio.sample_rate)
    if logspec.shape[1] < 5:
        return None
    step = logspec[:, 2:] - logspec[:, :-2]
    flux = np.sqrt(np.mean(step**2, axis=0))
    mid = times[1:-1]
    half = max(1, int(round(CONTEXT_S / HOP_S)))
    median = _rolling(flux, half, np.median)
    mad = _rolling(np.abs(flux - median), half, np.median) * 1.4826
    scale = np.maximum(mad, 0.05 * np.median(flux) + 1e-6)
    return FluxSeries(mid, flux, (flux - median) / scale)


def audio_discontinuities(audio: Audio | None, z_threshold: float = 20.0, min_gap_s: float = 0.3) -> list[tuple[float, float]]:
    """(time_s, z) of spectral jumps stronger than z_threshold, strongest first within min_gap_s of each other."""
    if audio is None:
        return []
    series = flux_series(audio)
    if series is None:
        return []
    duration = len(audio.samples) / audio.sample_rate
    ok = (series.times >= EDGE_S) & (series.times <= duration - EDGE_S) & (series.zscore >= z_threshold)
    found: list[tuple[float, float]] = []
    for i in np.argsort(-series.zscore):
        if not ok[i]:
            continue
        t = float(series.times[i])
        if all(abs(t - other) >= min_gap_s for other, _ in found):
            found.append((t, float(series.zscore[i])))
    return sorted(found)


def zscore_near(series: FluxSeries | None, time_s: float, radius_s: float = 0.06) -> float:
    """The strongest flux z-score within radius_s of time_s (0 without audio)."""
    if series is None:
        return 0.0
    near = np.abs(series.times - time_s) <= radius_s
    return float(series.zscore[near].max()) if near.any() else 0.0
