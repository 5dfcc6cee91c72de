"""Lip sync: does the mouth open when the voice is loud?

In natural speech the opening of the lips and the energy of the voice in the speech band (300-3000 Hz) rise and
fall together, with the mouth leading the sound by up to ~200 ms (Chandrasekaran et al. 2009, "The natural
statistics of audiovisual speech"). A dub, a re-voiced or lip-synced face, or a soundtrack shifted against the
picture breaks that link. We resample the mouth aspect ratio of the main face and the speech-band log energy onto
one time grid, and take the largest normalised cross-correlation within +-200 ms of lag over sliding 4 s windows;
the median over the windows is the clip's number (a window of laughter, music or a turned head does not sink a
whole clip, as it does for one correlation over the clip, which is kept too). All maths here is pure numpy on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.faces.types import FaceTrack
from dflab.media.types import Audio

MAX_LAG_S = 0.2
BAND_HZ = (300.0, 3000.0)
GRID_FPS = 25.0  # common time grid for mouth and voice
WINDOW_S = 4.0
WINDOW_HOP_S = 1.0
SMOOTH_S = 0.08  # both series are smoothed a little: landmark jitter and syllable-level audio detail


@dataclass(frozen=True)
class SyncResult:
    correlation: float  # median over the sliding windows of the max NCC within +-MAX_LAG_S (the main number)
    clip_correlation: float  # max NCC within +-MAX_LAG_S over the whole clip at once
    lag_s: float  # the lag of that maximum; positive: the voice comes after the mouth
    correlation_at_zero: float  # whole clip, no lag
    window_times: np.ndarray  # centres of the sliding windows
    window_correlation: np.ndarray  # max NCC within +-MAX_LAG_S per window
    grid_times: np.ndarray
    mouth: np.ndarray  # mouth aspect ratio on the grid
    voice: np.ndarray  # speech-band log energy on the grid
    mouth_activity: float  # std of the mouth series: a closed, still mouth says nothing about sync
    voiced_fraction: float  # share of grid points with voice energy clearly above the noise floor


def mouth_series(track: FaceTrack) -> tuple[np.ndarray, np.ndarray]:
    from dflab.faces.landmarks import mouth_aspect_ratio

    times = np.array([o.time_s for o in track.observations], dtype=np.float64)
    mar = np.array([mouth_aspect_ratio(o.landmarks) for o in track.observations], dtype=np.float64)
    return times, mar


def speech_band_energy(audio: Audio, hop_s: float = 0.01, win_s: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """(times, log energy in BAND_HZ) every hop_s seconds."""
    from dflab.audio.stft_blocks import stft_reduced

    sr = audio.sample_rate
    nperseg = max(16, int(round(win_s * sr)))
    hop = max(1, int(round(hop_s * sr)))
    samples = np.asarray(audio.samples, dtype=np.float32)
    if len(samples) < nperseg:
        return np.zeros(0), np.zeros(0)

    def band_energy(freqs: np.ndarray, spec: np.ndarray) -> np.ndarray:
        band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
        return np.log10((np.abs(spec[band]) ** 2).sum(axis=0) + 1e-10)

    # a long track a minute at a time: the same frames, never its whole complex spectrogram
    return stft_reduced(samples, sr, nperseg, hop, band_energy)


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    kernel = np.ones(width) / width
    return np.convolve(np.pad(values, width // 2, mode="edge"), kernel, mode="valid")[: len(values)]


def lagged_ncc(mouth: np.ndarray, voice: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(lags in grid steps, NCC per lag). Lag k compares mouth[t] with voice[t + k] over the overlap."""
    lags = np.arange(-max_lag, max_lag + 1)
    out = np.full(len(lags), np.nan)
    n = len(mouth)
    for i, k in enumerate(lags):
        a = mouth[max(0, -k) : n - max(0, k)]
        b = voice[max(0, k) : n - max(0, -k)]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 8:
            continue
        a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
        denom = float(np.sqrt((a @ a) * (b @ b)))
        out[i] = float(a @ b) / denom if denom > 1e-12 else np.nan
    return lags, out


def _best(lags: np.ndarray, ncc: np.ndarray) -> tuple[float, int]:
    if not np.isfinite(ncc).any():
        return float("nan"), 0
    i = int(np.nanargmax(ncc))
    return float(ncc[i]), int(lags[i])


def lip_sync(track: FaceTrack, audio: Audio, grid_fps: float = GRID_FPS) -> SyncResult | None:
    """Agreement of the track's mouth with the voice; None when the track is too short (< 2 s)."""
    times, mar = mouth_series(track)
    valid = np.isfinite(mar)
    if valid.sum() < 8 or times[-1] - times[0] < 2.0:
        return None
    grid = np.arange(times[0], times[-1], 1.0 / grid_fps)
    mouth = np.interp(grid, times[valid], mar[valid])
    # Frames where the face was lost for more than 0.2 s are not interpolated across.
    nearest = np.abs(grid[:, None] - times[valid][None, :]).min(axis=1) if len(grid) * valid.sum() < 4e6 else 0
    mouth = np.where(nearest <= 0.2, mouth, np.nan)
    a_times, energy = speech_band_energy(audio)
    if len(a_times) < 2:
        return None
    voice = np.interp(grid, a_times, energy, left=np.nan, right=np.nan)
    width = max(1, int(round(SMOOTH_S * grid_fps)))
    mouth_s = _smooth(np.nan_to_num(mouth, nan=np.nanmedian(mouth)), width)
    mouth_s[~np.isfinite(mouth)] = np.nan
    voice_s = _smooth(np.nan_to_num(voice, nan=np.nanmin(energy)), width)
    voice_s[~np.isfinite(voice)] = np.nan
    max_lag = int(round(MAX_LAG_S * grid_fps))
    lags, ncc = lagged_ncc(mouth_s, voice_s, max_lag)
    best, lag = _best(lags, ncc)
    zero = float(ncc[max_lag]) if np.isfinite(ncc[max_lag]) else float("nan")
    win = int(round(WINDOW_S * grid_fps))
    hop = int(round(WINDOW_HOP_S * grid_fps))
    w_times, w_corr = [], []
    for start in range(0, max(1, len(grid) - win + 1), hop):
        seg = slice(start, start + win)
        corr, _ = _best(*lagged_ncc(mouth_s[seg], voice_s[seg], max_lag))
        w_times.append(float(grid[min(len(grid) - 1, start + win // 2)]))
        w_corr.append(corr)
    w_corr_arr = np.array(w_corr, dtype=np.float64)
    main = float(np.nanmedian(w_corr_arr)) if np.isfinite(w_corr_arr).any() else best
    floor = np.nanpercentile(energy, 10)
    voiced = float(np.nanmean(voice_s > floor + 1.0)) if np.isfinite(voice_s).any() else 0.0
    return SyncResult(
        correlation=main, clip_correlation=best, lag_s=lag / grid_fps, correlation_at_zero=zero,
        window_times=np.array(w_times), window_correlation=w_corr_arr, grid_times=grid, mouth=mouth_s, voice=voice_s,
        mouth_activity=float(np.nanstd(mouth_s)), voiced_fraction=voiced,
    )  # fmt: skip
