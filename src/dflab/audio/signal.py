"""Loudness normalisation and framing: the common front end of every audio feature."""

from __future__ import annotations

import numpy as np

from dflab.errors import BadMedia

TARGET_RMS_DB = -23.0  # loudness the active speech is brought to before any feature is computed
FRAME_S = 0.025
HOP_S = 0.010


RMS_BLOCK_FRAMES = 2048  # frames per step of frame_rms_db
GAIN_BLOCK_SAMPLES = 1 << 20  # samples per step of normalise_loudness's gain


def frame_rms_db(samples: np.ndarray, sample_rate: int, frame_s: float = FRAME_S, hop_s: float = HOP_S) -> np.ndarray:
    """RMS level in dBFS per frame (hop 10 ms)."""
    frame, hop = int(frame_s * sample_rate), int(hop_s * sample_rate)
    if len(samples) < frame:
        return np.zeros(0)
    n = 1 + (len(samples) - frame) // hop
    power = np.empty(n)
    # Row by row in blocks: the frames overlap, so all of them at once are 2.5 copies of the recording in float64.
    for start in range(0, n, RMS_BLOCK_FRAMES):
        rows = np.arange(start, min(n, start + RMS_BLOCK_FRAMES))
        idx = np.arange(frame)[None, :] + hop * rows[:, None]
        power[start : start + len(rows)] = np.mean(np.square(samples[idx], dtype=np.float64), axis=1)
    return 10.0 * np.log10(power + 1e-12)


def active_mask(level_db: np.ndarray, floor_db: float = -90.0, below_peak_db: float = 35.0) -> np.ndarray:
    """Frames that carry signal: within `below_peak_db` of the loud frames, and above digital silence.

    Relative, so that the same speech recorded 30 dB quieter selects the same frames."""
    if len(level_db) == 0:
        return np.zeros(0, dtype=bool)
    peak = np.percentile(level_db, 95)
    return (level_db > floor_db) & (level_db > peak - below_peak_db)


def normalise_loudness(samples: np.ndarray, sample_rate: int, target_db: float = TARGET_RMS_DB) -> np.ndarray:
    """Scale so the active (non-silent) part sits at `target_db` RMS, clipped to [-1, 1].

    Learned models must not see level differences between corpora (a louder TTS corpus would otherwise
    be easy to tell apart for the wrong reason)."""
    samples = np.asarray(samples, dtype=np.float32)
    level = frame_rms_db(samples, sample_rate)
    mask = active_mask(level)
    if not mask.any():
        raise BadMedia("the audio is silent: nothing to analyse")
    active_db = 10.0 * np.log10(np.mean(10.0 ** (level[mask] / 10.0)))
    gain = 10.0 ** ((target_db - active_db) / 20.0)
    # A block at a time: the product is float64 (the gain is), so the whole recording at once held two float64
    # copies beside the result (150 MB at 10 minutes of 16 kHz). Element-wise, so the same values bit for bit.
    out = np.empty(len(samples), dtype=np.float32)
    for start in range(0, len(samples), GAIN_BLOCK_SAMPLES):
        block = slice(start, start + GAIN_BLOCK_SAMPLES)
        out[block] = np.clip(samples[block] * gain, -1.0, 1.0)
    return out


def require_duration(samples: np.ndarray, sample_rate: int, min_s: float, what: str) -> None:
    if len(samples) < min_s * sample_rate:
        raise BadMedia(f"{what} needs at least {min_s:g} s of audio, got {len(samples) / sample_rate:.2f} s")
