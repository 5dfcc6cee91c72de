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

- WSOLA builds its output on a fixed grid of output samples: ffmpeg atempo overlaps windows of W = the
  power of two >= sr/24 every W/2 samples. Crossfading two unrelated noise segments halves their power
  mid-way, so the high-band envelope carries a spectral line at that hop; `grid_lines` measures it (on the
  speed test set's 156 natural, re-encoded and cut clips: median 0.7, at most 3.6; above 5 for 62 % of atempo
  clips at 1.1x, 82 % at 2.0x, 90-100 % at the other factors). The grid is a whole number of samples only
  at the clip's own rate, so the grid measures need the NATIVE-rate samples (a 44.1 kHz clip resampled to
  16 kHz moves atempo's 1024-sample hop to 371.5 samples).

All functions take mono float at any rate (the residual measure is tuned for 16 kHz) and return plain floats
(NaN where nothing could be measured).
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
    "repeat_share", "line_wsola_hop", "line_wsola_window", "phase_step_repeat",
)  # fmt: skip
PV_FFT, PV_HOP = 2048, 512  # librosa.effects.time_stretch's STFT, in samples at the clip's own rate
PV_MIN_HZ = 2000.0
LINE_HIGHPASS_HZ = 3000.0  # fricatives and room noise: voiced harmonics below it blur the line
LINE_BLOCK_PERIODS = 16  # envelope block length, in grid periods
LINE_SIDE_BINS = (3, 10)  # background bins on each side of the line, in block FFT bins


BLOCK_FRAMES = 512  # frames per step of the frame-wise measures: memory flat in the clip's duration
LINE_BLOCKS_PER_STEP = 16  # envelope blocks per step of line_strength


def wsola_window(sample_rate: int) -> int:
    """ffmpeg atempo's window: the power of two at or above sample_rate / 24 (1024 at 16-22.05 kHz, 2048 at 44.1/48)."""
    return 1 << int(np.ceil(np.log2(sample_rate / 24)))


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
    energy = np.concatenate([np.mean(frames[i : i + BLOCK_FRAMES] ** 2, axis=1) for i in range(0, len(frames), BLOCK_FRAMES)])
    loud = np.flatnonzero(energy > np.percentile(energy, 50))
    parts = [_residual_shape(frames[loud[i : i + BLOCK_FRAMES]], frame) for i in range(0, len(loud), BLOCK_FRAMES)]
    kurtosis = np.concatenate([k for k, _ in parts])
    crest = np.concatenate([c for _, c in parts])
    return {
        "residual_kurtosis": float(np.median(kurtosis)),
        "residual_kurtosis_p25": float(np.percentile(kurtosis, 25)),
        "residual_crest": float(np.median(crest)),
    }


def _residual_shape(frames: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(kurtosis, crest factor) of each frame's (row's) LPC residual."""
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
    return kurtosis, crest


def highband_repetition(samples: np.ndarray, sample_rate: int, lo_hz: float = 2500.0) -> dict[str, float]:
    """How often 20 ms of the high band (>2.5 kHz) is a near copy of what came 2-50 ms before it.

    Returns the median and 90th percentile of each frame's best normalised correlation, and the share of
    frames above REPEAT_THRESHOLD, over the louder 70 % of frames."""
    from dflab.lazy_modules import scipy_signal

    butter, sosfilt = scipy_signal().butter, scipy_signal().sosfilt

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
    # Each frame's correlations are its own row: a block of rows at a time bounds the memory (about 60 MB at
    # 44.1 kHz instead of 15 MB per second of sound) and gives the same values.
    rows = [_best_repeats(high, starts[i : i + BLOCK_FRAMES], frame, max_lag, min_lag) for i in range(0, n, BLOCK_FRAMES)]
    best = np.concatenate([b for b, _ in rows])
    own = np.concatenate([o for _, o in rows])
    best = best[own > np.percentile(own, 30)]
    return {
        "repeat_corr_median": float(np.median(best)),
        "repeat_corr_p90": float(np.percentile(best, 90)),
        "repeat_share": float(np.mean(best > REPEAT_THRESHOLD)),
    }


def _best_repeats(high: np.ndarray, starts: np.ndarray, frame: int, max_lag: int,
                  min_lag: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(best normalised correlation with the 2-50 ms before, energy) of the frames starting at `starts`."""
    n = len(starts)
    context = high[(starts - max_lag)[:, None] + np.arange(max_lag + frame)[None, :]]
    current = context[:, max_lag:]  # each frame is the end of its own context: no second gather
    size = 1 << int(np.ceil(np.log2(max_lag + 2 * frame)))
    # dots[f, k] = sum_j current[f, j] * context[f, j + k]; lag = max_lag - k. Only lags >= min_lag count, so
    # only k <= max_lag - min_lag is normalised (element by element, the same values as normalising all k).
    last = max_lag - min_lag
    # in place: the same products without two more spectra-sized temporaries (17 MB each at 44.1 kHz)
    spectrum, current_spectrum = np.fft.rfft(context, size), np.fft.rfft(current, size)
    spectrum *= np.conjugate(current_spectrum, out=current_spectrum)
    dots = np.fft.irfft(spectrum, size)[:, : last + 1]
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(context**2, axis=1)], axis=1)
    k = np.arange(last + 1)
    seg_energy = cumulative[:, k + frame] - cumulative[:, k]
    own = np.sum(current**2, axis=1)
    corr = dots / np.sqrt(seg_energy * own[:, None] + 1e-20)
    return corr.max(axis=1), own


def line_strength(samples: np.ndarray, sample_rate: int, period: int) -> float:
    """How strongly the high-band log-envelope repeats every `period` samples, in units of its chance level.

    The envelope is cut into half-overlapping blocks of LINE_BLOCK_PERIODS periods; each block's Fourier
    coefficient at 1/period is weighed by the inverse of the power of the neighbouring frequencies in that
    block, and the weighted coefficients add coherently (a time-scale grid keeps one phase over the clip).
    Without a line the result is exponentially distributed with mean 1 (above 5 about once in 150 clips);
    loud syllables, which carry most of the envelope's power, count for less than quiet noisy stretches,
    where a crossfade of two unrelated segments shows most."""
    from dflab.lazy_modules import scipy_signal

    butter, sosfilt = scipy_signal().butter, scipy_signal().sosfilt

    block = LINE_BLOCK_PERIODS * period
    x = np.asarray(samples, np.float64)
    if len(x) < 4 * block or LINE_HIGHPASS_HZ >= 0.45 * sample_rate:
        return np.nan
    high = sosfilt(butter(4, LINE_HIGHPASS_HZ / (sample_rate / 2), btype="highpass", output="sos"), x)
    power = np.convolve(high**2, np.ones(16) / 16, mode="same")
    envelope = np.log(power + 1e-4 * np.mean(power) + 1e-20)
    # block starts are multiples of block/2 = 8 periods, so the line has the same phase in every block
    starts = np.arange(0, len(envelope) - block + 1, block // 2)
    lo, hi = LINE_SIDE_BINS
    side = np.r_[LINE_BLOCK_PERIODS - hi : LINE_BLOCK_PERIODS - lo + 1, LINE_BLOCK_PERIODS + lo : LINE_BLOCK_PERIODS + hi + 1]
    window = np.hanning(block)
    lines, backgrounds = [], []
    for i in range(0, len(starts), LINE_BLOCKS_PER_STEP):  # each block is its own row: bounded memory, same values
        chunk = starts[i : i + LINE_BLOCKS_PER_STEP]
        blocks = envelope[chunk[:, None] + np.arange(block)[None, :]]
        spectrum = np.fft.rfft((blocks - blocks.mean(axis=1, keepdims=True)) * window, axis=1)
        lines.append(spectrum[:, LINE_BLOCK_PERIODS])
        backgrounds.append(np.mean(np.abs(spectrum[:, side]) ** 2, axis=1) + 1e-20)
    line = np.concatenate(lines)
    weights = 1.0 / np.concatenate(backgrounds)
    return float(np.abs(np.sum(line * weights)) ** 2 / np.sum(weights))


def grid_lines(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Spectral lines of the high-band envelope at atempo's hop W/2 and at W (an AAC frame is 1024 samples, so a
    codec's frame line would show at W as well; WSOLA's does not)."""
    window = wsola_window(sample_rate)
    return {"line_wsola_hop": line_strength(samples, sample_rate, window // 2),
            "line_wsola_window": line_strength(samples, sample_rate, window)}  # fmt: skip


def phase_step_repeat(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Mean cosine of the change in per-bin phase advance from one 512-sample frame to the next, above 2 kHz.

    A phase vocoder gives output frame k the phase advance of input frames floor(k*rate) and +1; slowed by
    `rate` < 1, a share 1 - rate of consecutive output frames reuse the same input advance, so noise-like
    bins, whose advances are otherwise unrelated from frame to frame, repeat theirs. The mean grows as the
    clip is slowed (about 0.38 natural, 0.42 at 0.9x, 0.5 at 0.5x on LibriSpeech), a handle on the factor."""
    x = np.asarray(samples, np.float64)
    if len(x) < 8 * PV_FFT or PV_MIN_HZ >= 0.45 * sample_rate:
        return {"phase_step_repeat": np.nan}
    frames = np.lib.stride_tricks.sliding_window_view(x, PV_FFT)[::PV_HOP]
    freqs = np.fft.rfftfreq(PV_FFT, 1.0 / sample_rate)
    band = (freqs > PV_MIN_HZ) & (freqs < 0.45 * sample_rate)
    window = np.hanning(PV_FFT)
    total, count = 0.0, 0
    # Blocks of frames overlapping by two (the second difference spans three frames): memory bounded, same mean.
    for start in range(0, len(frames) - 2, BLOCK_FRAMES):
        phase = np.angle(np.fft.rfft(frames[start : start + BLOCK_FRAMES + 2] * window, axis=1)[:, band])
        step_change = phase[2:] - 2 * phase[1:-1] + phase[:-2]
        total += float(np.sum(np.cos(step_change)))
        count += step_change.size
    return {"phase_step_repeat": total / count if count else np.nan}


def artefact_features(samples: np.ndarray, sample_rate: int, native: tuple[np.ndarray, int] | None = None) -> dict[str, float]:
    """Every artefact measure. The grid measures (repeats, lines) use `native` = (samples, rate) at the clip's own
    rate when given; the residual pulses are judged at `sample_rate` (a 16-pole LPC fits 16 kHz speech)."""
    out = residual_peakiness(samples, sample_rate)
    samples, sample_rate = native if native is not None else (samples, sample_rate)
    out.update(highband_repetition(samples, sample_rate))
    out.update(grid_lines(samples, sample_rate))
    out.update(phase_step_repeat(samples, sample_rate))
    return out
