"""Playback speed of a long recording in bounded memory: the whole-recording features from blocks, and the
recording at its own sample rate read as a stream.

Up to WHOLE_MAX_S a recording is measured at once (dflab.audio.speed.estimate_speed). Every whole-recording
feature holds arrays the length of the recording at its own rate (the filtered high band and its envelope,
Welch segments, the spectrogram: about 63 MB each per 3 minutes at 44.1 kHz), so a 10-minute clip would need
several hundred MB more than a 3-minute one. Past WHOLE_MAX_S the recording is cut into equal consecutive
blocks of at most BLOCK_S, each measured like a clip of its own, and each feature of the whole is the median
of its blocks' values (a silent block is left out): the features are medians, rates and spectra over the
recording, which a median over minute-long blocks of the same speech follows closely. The 10 s windows are
the same as speed_windows', and the audio at its own rate is decoded once, in order, holding one block of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dflab.audio.rolling import RollingSamples
from dflab.audio.speed import (
    SpeedEstimate,
    SpeedModel,
    WINDOW_S,
    SpeedWindow,
    estimate_from_features,
    judge_window,
    window_starts,
)
from dflab.audio.speed_features import FEATURE_NAMES, feature_vector, speed_features
from dflab.errors import BadMedia
from dflab.heap import release_free_heap

WHOLE_MAX_S = 90.0  # up to this, the whole recording is measured at once (every short clip as before)
BLOCK_S = 60.0


def block_ranges(duration_s: float, block_s: float = BLOCK_S) -> list[tuple[float, float]]:
    """Equal consecutive (start, end) blocks of at most block_s covering the recording."""
    count = max(1, math.ceil(duration_s / block_s - 1e-9))
    step = duration_s / count
    return [(i * step, duration_s if i == count - 1 else (i + 1) * step) for i in range(count)]


def combine_blocks(block_features: list[dict[str, float]]) -> dict[str, float]:
    """Each feature's median over the blocks that measured it (NaN where none did)."""
    values = np.array([feature_vector(f) for f in block_features])
    with np.errstate(all="ignore"):
        finite = np.isfinite(values)
        out = {}
        for col, name in enumerate(FEATURE_NAMES):
            column = values[finite[:, col], col]
            out[name] = float(np.median(column)) if len(column) else float("nan")
    return out


def long_recording_speed(samples: np.ndarray, sample_rate: int, model: SpeedModel,
                         native_chunks: Iterable[np.ndarray] | None = None,
                         native_rate: int = 0) -> tuple[SpeedEstimate, list[SpeedWindow]]:  # fmt: skip
    """(whole-recording estimate from blocks, 10 s windows) of a recording longer than WHOLE_MAX_S.

    `samples` at 16 kHz; `native_chunks` the same recording at `native_rate` as consecutive chunks (decoded on
    demand), or None to measure the artefacts on the 16 kHz samples. BadMedia when no block can be measured
    (all silent), like estimate_speed on a silent clip."""
    duration = len(samples) / sample_rate
    blocks = block_ranges(duration)
    windows_at = window_starts(duration)
    # Blocks and windows in order of start (a block before a window starting at the same time): the stream at
    # the native rate only moves forward.
    requests = sorted([(start, 0, end) for start, end in blocks]
                      + [(start, 1, start + WINDOW_S) for start in windows_at])
    native = RollingSamples(native_chunks) if native_chunks is not None else None
    block_features: list[dict[str, float]] = []
    windows: list[SpeedWindow] = []
    for i, (start, kind, end) in enumerate(requests):
        piece = samples[round(start * sample_rate) : round(end * sample_rate)]
        piece_native = None
        if native is not None:
            piece_native = (native.take(round(start * native_rate), round(end * native_rate)), native_rate)
            if i + 1 < len(requests):
                native.release_before(round(requests[i + 1][0] * native_rate))
            if len(piece_native[0]) == 0:
                piece_native = None  # the native stream ended early (a damaged tail): judge on 16 kHz
        if kind == 1:
            windows.append(judge_window(piece, sample_rate, model, start, end - start, piece_native))
            continue
        try:
            block_features.append(speed_features(piece, sample_rate, piece_native))
        except BadMedia:
            continue  # a silent block (or one too short): the others speak for the recording
        finally:
            # A block's temporaries (a minute at the source's rate) are free now: hand their pages back, so
            # that what the other thread allocates meanwhile does not come on top of them.
            release_free_heap()
    if not block_features:
        raise BadMedia("the audio is silent: nothing to analyse")
    # how speech-like the recording is comes from the whole 16 kHz track (its envelope, in blocks of rows)
    return estimate_from_features(samples, sample_rate, model, combine_blocks(block_features)), windows
