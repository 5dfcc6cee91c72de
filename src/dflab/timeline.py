"""Helpers for per-frame series: turning flagged frames into time ranges, logit maths.

Pure numpy and below every analysis package, so both detect/ (cues, fusion) and shallow/ (compare) use it
without importing each other. dflab.detect.timeline re-exports these names for the detectors.
"""

from __future__ import annotations

import numpy as np


def logit(p, eps: float = 1e-4):
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def flagged_ranges(
    times: np.ndarray, flags: np.ndarray, min_gap_s: float = 0.5, pad_s: float = 0.0
) -> list[tuple[float, float]]:
    """Spans of consecutive flagged samples; spans closer than `min_gap_s` are merged."""
    times = np.asarray(times, dtype=np.float64)
    flags = np.asarray(flags, dtype=bool)
    ranges: list[tuple[float, float]] = []
    for t, flagged in zip(times, flags):
        if not flagged:
            continue
        if ranges and t - ranges[-1][1] <= min_gap_s:
            ranges[-1] = (ranges[-1][0], float(t))
        else:
            ranges.append((float(t), float(t)))
    return [(max(0.0, a - pad_s), b + pad_s) for a, b in ranges]


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 * MAD): how unusual each sample is within its own series."""
    values = np.asarray(values, dtype=np.float64)
    med = np.nanmedian(values)
    mad = np.nanmedian(np.abs(values - med)) * 1.4826
    return (values - med) / (mad + 1e-9)
