"""Artefacts that time-scale modification leaves in the waveform, one detector per method family.

Speaking-rate norms alone cannot separate a slow talker from a slowed one (speakers differ by +-20 %), but
each way of changing speed damages the signal in its own way:

- phase vocoder (librosa.effects.time_stretch and most "pitch-preserving" editors): every STFT bin gets a
  new phase, so the harmonics of a voiced frame are no longer phase-locked to the glottal pulse. The LPC
  residual of natural voiced speech is a train of sharp pulses (high kurtosis, high crest factor); after a
  phase vocoder it is close to Gaussian noise. `residual_peakiness` measures that ("phasiness").
- WSOLA / ffmpeg atempo: output is built from copied input windows. Slowing down copies some input twice,
  so noise-like high-band content (fricatives, room noise) repeats itself a few to tens of milliseconds
  later, which natural noise never does. `highband_repetition` finds those repeats.
- Resampling (tape-style): the whole spectrum moves, so the residual pulses come at another rate and the
  band limit of the recording moves (dflab.audio.spectral's cutoff); the residual measures see the former.

All functions take mono float at 16 kHz and return plain floats (NaN where nothing could be measured).
"""

from __future__ import annotations

import numpy as np

LPC_ORDER = 16
RESIDUAL_FRAME_S = 0.032
REPEAT_FRAME_S = 0.020
REPEAT_MAX_LAG_S = 0.050
REPEAT_MIN_LAG_S = 0.002
REPEAT_THRESHOLD = 0.6  # normalised correlation above which a high-band frame counts as a copy
ARTEFACT_NAMES = (
    "residual_kurtosis", "residual_kurtosis_p25", "residual_crest", "repeat_corr_median", "repeat_corr_p90",
    "repeat_share",
)  # fmt: skip


def _levinson(autocorr: np.ndarray, order: int) -> np.ndarray:
    """LPC polynomials (frames x order+1, a[0] = 1) from autocorrelations, Levinson-Durbin on all frames at once."""
    n = autocorr.shape[0]
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = autocorr[:, 0].copy() + 1e-12
    for i in range(1, order + 1):
        acc = autocorr[:, i] + np.einsum("fj,fj->f", a[:, 1:i], autocorr[:, i - 1 : 0 : -1]) if i > 1 else autocorr[:, 1].copy()
        k = -acc / err
        a_prev = a.copy()
        a[:, i] = k
        if i > 1:
            a[:, 1:i] = a_prev[:, 1:i] + k[:, None] * a_prev[:, i - 1 : 0 : -1]
        err = err * (1.0 - k**2) + 1e-12
    return a


def residual_peakiness(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Kurtosis and crest factor of the LPC residual in the louder half of the frames (median over frames)."""
    frame = int(RESIDUAL_FRAME_S * sample_rate)
    hop = frame // 2
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 4 * frame:
        return {"residual_kurtosis": np.nan, "residual_crest": np.nan, "residual_kurtosis_p25": np.nan}
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    energy = np.mean(frames**2, axis=1)
    frames = frames[energy > np.percentile(energy, 50)]
    windowed = frames * np.hanning(frame)
    spec = np.fft.rfft(windowed, 2 * frame, axis=1)
    autocorr = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, : LPC_ORDER + 1]
    autocorr[:, 0] *= 1.0 + 1e-9  # white-noise correction keeps the recursion stable
    a = _levinson(autocorr, LPC_ORDER)
    # residual e[n] = sum_k a[k] x[n-k] over the frame (first `order` samples dropped: no history)
    view = np.lib.stride_tricks.sliding_window_view(frames, LPC_ORDER + 1, axis=1)[:, :, ::-1]
    residual = np.einsum("fnk,fk->fn", view, a)
    centred = residual - residual.mean(axis=1, keepdims=True)
    var = np.mean(centred**2, axis=1) + 1e-20
    kurtosis = np.mean(centred**4, axis=1) / var**2 - 3.0
    crest = np.max(np.abs(centred), axis=1) / np.sqrt(var)
    return {
        "residual_kurtosis": float(np.median(kurtosis)),
        "residual_kurtosis_p25": float(np.percentile(kurtosis, 25)),
        "residual_crest": float(np.median(crest)),
    }


def highband_repetition(samples: np.ndarray, sample_rate: int, lo_hz: float = 2500.0) -> dict[str, float]:
    """How often 20 ms of the high band (>2.5 kHz) is a near copy of what came 2-50 ms before it.

    Returns the median and 90th percentile of each frame's best normalised correlation, and the share of
    frames above REPEAT_THRESHOLD, over the louder 70 % of frames."""
    from scipy.signal import butter, sosfilt

    nan = {"repeat_corr_median": np.nan, "repeat_corr_p90": np.nan, "repeat_share": np.nan}
    frame, hop = int(REPEAT_FRAME_S * sample_rate), int(REPEAT_FRAME_S * sample_rate) // 2
    max_lag, min_lag = int(REPEAT_MAX_LAG_S * sample_rate), int(REPEAT_MIN_LAG_S * sample_rate)
    if lo_hz >= 0.45 * sample_rate:
        return nan
    high = sosfilt(butter(6, lo_hz / (sample_rate / 2), btype="highpass", output="sos"), np.asarray(samples, np.float64))
    n = (len(high) - max_lag - frame) // hop
    if n < 20:
        return nan
    starts = max_lag + hop * np.arange(n)
    current = high[starts[:, None] + np.arange(frame)[None, :]]
    context = high[(starts - max_lag)[:, None] + np.arange(max_lag + frame)[None, :]]
    size = 1 << int(np.ceil(np.log2(max_lag + 2 * frame)))
    # dots[f, k] = sum_j current[f, j] * context[f, j + k]; lag = max_lag - k
    dots = np.fft.irfft(np.fft.rfft(context, size) * np.conj(np.fft.rfft(current, size)), size)[:, : max_lag + 1]
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(context**2, axis=1)], axis=1)
    k = np.arange(max_lag + 1)
    seg_energy = cumulative[:, k + frame] - cumulative[:, k]
    own = np.sum(current**2, axis=1)
    corr = dots / np.sqrt(seg_energy * own[:, None] + 1e-20)
    corr = corr[:, (max_lag - k) >= min_lag]
    best = corr.max(axis=1)
    best = best[own > np.percentile(own, 30)]
    return {
        "repeat_corr_median": float(np.median(best)),
        "repeat_corr_p90": float(np.percentile(best, 90)),
        "repeat_share": float(np.mean(best > REPEAT_THRESHOLD)),
    }


def artefact_features(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    out = residual_peakiness(samples, sample_rate)
    out.update(highband_repetition(samples, sample_rate))
    return out
