"""Detection metrics as pure functions over numpy arrays.

Conventions: `labels` are 1 for fake (the positive class) and 0 for real; `scores` are "probability of
manipulation" (higher = more likely fake). Ranking metrics (ROC, AUC, EER, AP) need both classes; when a
class is missing or the input is empty they return NaN, which the JSON output turns into null. Metrics
that are meaningful for a single class (accuracy, calibration) only return NaN for empty input.

Ties are handled the way the literature (and scikit-learn) does: tied scores form one ROC point, so a block
of ties is a diagonal segment and counts 0.5 per tied real/fake pair in the AUC.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NAN = float("nan")


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert inputs. Bad shapes or values are programming errors (ValueError)."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError("labels and scores must be 1-D")
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y.astype(np.int64), s


def _both_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < y.size


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positive counts at each distinct threshold, highest score first.

    Thresholding at a distinct score value t means "fake iff score >= t", so all tied scores switch together.
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # last index of each run of equal scores
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted)), y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_run]
    fps = (last_of_run + 1) - tps
    return tps.astype(np.float64), fps.astype(np.float64), s_sorted[last_of_run]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): one point per distinct score, starting at (0, 0) with threshold +inf.

    Point i is the operating point "fake iff score >= thresholds[i]". Empty input gives empty arrays;
    a missing class makes the corresponding rate NaN.
    """
    y, s = _check(labels, scores)
    if y.size == 0:
        empty = np.array([], dtype=np.float64)
        return empty, empty.copy(), empty.copy()
    tps, fps, thr = _cumulative_counts(y, s)
    n_pos, n_neg = tps[-1], fps[-1]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tps / n_pos if n_pos > 0 else np.full_like(tps, NAN)
        fpr = fps / n_neg if n_neg > 0 else np.full_like(fps, NAN)
    return fpr, tpr, np.r_[np.inf, thr]


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties count 1/2).

    Equals the probability that a random fake scores above a random real, and equals the trapezoid area under
    `roc_curve`. NaN without both classes.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return NAN
    from scipy.stats import rankdata

    ranks = rankdata(s)  # average ranks: a tie contributes half a win
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def eer(labels, scores) -> tuple[float, float]:
    """(equal error rate, threshold) where the false-positive and false-negative rates cross.

    Walking the ROC points from strict to lenient, FNR - FPR only decreases; the crossing is linearly
    interpolated between the last point with FNR > FPR and the first with FNR <= FPR. The threshold is
    interpolated the same way (or is the score of the crossing point when the other end is the +inf start).
    NaN, NaN without both classes.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return NAN, NAN
    fpr, tpr, thr = roc_curve(y, s)
    gap = (1.0 - tpr) - fpr  # starts at 1 at the (0, 0) point, ends at -1 at (1, 1)
    i = int(np.flatnonzero(gap <= 0)[0])
    if gap[i] == 0:
        return float(fpr[i]), float(thr[i])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    rate = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    if np.isfinite(thr[i - 1]):
        threshold = thr[i - 1] + t * (thr[i] - thr[i - 1])
    else:
        threshold = thr[i]
    return float(rate), float(threshold)


def average_precision(labels, scores) -> float:
    """Step-wise average precision, as scikit-learn defines it: sum_n (R_n - R_{n-1}) * P_n.

    One term per distinct threshold (no interpolation). NaN without both classes.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return NAN
    tps, fps, _ = _cumulative_counts(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def accuracy_at(labels, scores, threshold: float) -> float:
    """Fraction of correct decisions when "fake iff score >= threshold". NaN for empty input only."""
    y, s = _check(labels, scores)
    if y.size == 0:
        return NAN
    return float(np.mean((s >= threshold).astype(np.int64) == y))


class ReliabilityCurve(NamedTuple):
    """Per equal-width bin of predicted score: centre, mean prediction, fraction fake, count (NaN if empty)."""

    centers: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray
    counts: np.ndarray


def _bin_index(s: np.ndarray, n_bins: int) -> np.ndarray:
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    if s.size and (s.min() < 0.0 or s.max() > 1.0):
        raise ValueError("calibration needs scores in [0, 1]")
    # bins are [k/n, (k+1)/n); a score of exactly 1.0 belongs to the last bin
    return np.minimum((s * n_bins).astype(np.int64), n_bins - 1)


def reliability_curve(labels, scores, n_bins: int = 10) -> ReliabilityCurve:
    """The data of a reliability diagram over `n_bins` equal-width bins of [0, 1]."""
    y, s = _check(labels, scores)
    idx = _bin_index(s, n_bins)
    counts = np.bincount(idx, minlength=n_bins).astype(np.int64)
    sum_pred = np.bincount(idx, weights=s, minlength=n_bins)
    sum_pos = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.where(counts > 0, sum_pred / counts, NAN)
        frac_pos = np.where(counts > 0, sum_pos / counts, NAN)
    centers = (np.arange(n_bins) + 0.5) / n_bins
    return ReliabilityCurve(centers, mean_pred, frac_pos, counts)


def expected_calibration_error(labels, scores, n_bins: int = 10) -> float:
    """ECE: |mean prediction - fraction fake| per equal-width bin, weighted by the bin's share of samples.

    NaN for empty input. Scores must lie in [0, 1].
    """
    curve = reliability_curve(labels, scores, n_bins)
    total = int(curve.counts.sum())
    if total == 0:
        return NAN
    filled = curve.counts > 0
    gaps = np.abs(curve.mean_predicted[filled] - curve.fraction_positive[filled])
    return float(np.sum(gaps * curve.counts[filled]) / total)


def _auc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of every row of a (B, n) score matrix sharing one label vector (vectorised Mann-Whitney)."""
    from scipy.stats import rankdata

    ranks = rankdata(s, axis=1)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    u = ranks[:, y == 1].sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def bootstrap_auc_ci(
    labels, scores, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval for the ROC AUC.

    Resampling is stratified (reals and fakes resampled separately, each to its own count) so every replicate
    has both classes and the class balance of the data. Seeded, so the same input gives the same interval.
    NaN, NaN without both classes or with n_boot < 1.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y) or n_boot < 1:
        return NAN, NAN
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    rng = np.random.default_rng(seed)
    pos, neg = s[y == 1], s[y == 0]
    boot_pos = pos[rng.integers(0, pos.size, size=(n_boot, pos.size))]
    boot_neg = neg[rng.integers(0, neg.size, size=(n_boot, neg.size))]
    boot_labels = np.r_[np.ones(pos.size, np.int64), np.zeros(neg.size, np.int64)]
    aucs = _auc_rows(boot_labels, np.hstack([boot_pos, boot_neg]))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(aucs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
