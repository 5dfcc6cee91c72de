"""A short-time Fourier transform of a long track, a block of frames at a time.

scipy.signal.stft of a whole recording holds its complex spectrogram at once (a 10-minute 16 kHz track with
25-30 ms windows every 10 ms: 100-130 MB complex, and as much again for its power). Most features keep only a
few bands per frame, so the transform can run over blocks of frames and keep just that. Each block's samples
overlap the next by one window less a hop, so the frames are exactly the whole transform's (boundary=None,
padded=False: frame j starts at sample j * hop).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BLOCK_FRAMES = 6000  # 60 s at a 10 ms hop


def frame_count(n_samples: int, nperseg: int, hop: int) -> int:
    return 1 + (n_samples - nperseg) // hop if n_samples >= nperseg else 0


def stft_reduced(samples: np.ndarray, sample_rate: int, nperseg: int, hop: int,
                 reduce: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 block_frames: int = BLOCK_FRAMES) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(frame centre times, reduce(freqs, spec) joined along the frame axis): scipy.signal.stft(samples,
    sample_rate, nperseg=nperseg, noverlap=nperseg - hop, boundary=None, padded=False), reduced per frame.
    A track of up to 1.5 blocks is transformed at once, exactly as before; a longer one block by block."""
    from dflab.lazy_modules import scipy_signal

    signal = scipy_signal()

    def transform(piece: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        freqs, times, spec = signal.stft(piece, sample_rate, nperseg=nperseg, noverlap=nperseg - hop,
                                         boundary=None, padded=False)  # fmt: skip
        return times, reduce(freqs, spec)

    frames = frame_count(len(samples), nperseg, hop)
    if frames <= 1.5 * block_frames:
        return transform(samples)
    times, values = [], []
    for first in range(0, frames, block_frames):
        start = first * hop
        count = min(block_frames, frames - first)
        t, v = transform(samples[start : start + (count - 1) * hop + nperseg])
        times.append(t + start / sample_rate)
        values.append(v)
    return np.concatenate(times), np.concatenate(values, axis=-1)
