"""Isotonic (monotone non-decreasing) calibration by pooling adjacent violators.

A member detector that fires only on one kind of fake (a straight pasted seam) has a probability of manipulation
that jumps where it fires; a logistic (Platt) map, one slope for the whole range, flattens that jump into the
mass of files where it is silent. The isotonic map follows the jump. Each pooled block is shrunk towards even odds
by one pseudo-file of each class, so a block of six fakes reads 0.88, not a certainty.
"""

from __future__ import annotations

import numpy as np


def fit_isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (feature, probability), features increasing, of the monotone map from x to P(y = 1): one knot per
    pooled block at its mean feature; predict with np.interp (flat beyond the end knots)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)  # equal features are one block from the start
    counts = np.bincount(inverse).astype(np.float64)
    positives = np.bincount(inverse, weights=y)
    means, weights, x_sums, pos_sums = [], [], [], []
    for value, n, k in zip(values, counts, positives):
        means.append(k / n)
        weights.append(n)
        x_sums.append(value * n)
        pos_sums.append(k)
        while len(means) > 1 and means[-2] >= means[-1]:
            n2, s2, k2 = weights.pop(), x_sums.pop(), pos_sums.pop()
            means.pop()
            weights[-1] += n2
            x_sums[-1] += s2
            pos_sums[-1] += k2
            means[-1] = pos_sums[-1] / weights[-1]
    n, k = np.array(weights), np.array(pos_sums)
    probability = np.maximum.accumulate((k + 1.0) / (n + 2.0))
    return np.array(x_sums) / n, probability


def predict_isotonic(knots: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.interp(np.asarray(x, dtype=np.float64), knots[0], knots[1])
