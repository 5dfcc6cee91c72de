"""L2-penalised logistic regression by Newton's method, optionally with every weight >= 0."""

from __future__ import annotations

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 100, fit_bias: bool = True,
                 offset: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(weights, bias). The bias is not penalised; fit_bias=False pins it at 0. `offset`: fixed log-odds per row."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    design = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 1e-6 if fit_bias else 1e12
    for _ in range(iters):
        p = _sigmoid(design @ theta + offset)
        grad = design.T @ (p - y) + penalty * theta
        hess = design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta[:-1], float(theta[-1])


def fit_nonnegative(x: np.ndarray, y: np.ndarray, l2: float = 1.0, fit_bias: bool = True,
                    offset: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """fit_logistic with every weight >= 0: a cue that says "fake" may count for little, never against.

    On a development set a cue can anti-correlate with the label by accident of how the fakes were made (a
    negative weight would turn its real finding into evidence of authenticity on other media), so features
    that come out negative are dropped one at a time, most negative first, and the rest refitted."""
    x = np.asarray(x, dtype=np.float64)
    active = list(range(x.shape[1]))
    weights = np.zeros(x.shape[1])
    while active:
        w, bias = fit_logistic(x[:, active], y, l2, fit_bias=fit_bias, offset=offset)
        if w.min() >= 0:
            weights[active] = w
            return weights, bias
        active.pop(int(np.argmin(w)))
    _, bias = fit_logistic(np.zeros((len(y), 1)), y, l2, fit_bias=fit_bias, offset=offset)
    return weights, bias
