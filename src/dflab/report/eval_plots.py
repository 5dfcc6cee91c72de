"""Evaluation figures (ROC, reliability diagram, score histograms) as inline PNG data URIs.

Every function takes plain arrays (labels 1 = fake) and returns a `data:image/png;base64,...` string, so the
HTML report stays one self-contained file. Curves come from dflab.eval.metrics, so the pictures show exactly
the numbers in the tables.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dflab.eval import metrics
from dflab.report.figures import figure_to_data_uri, new_figure

RocSeries = tuple[str, np.ndarray, np.ndarray]  # (legend label, labels, scores)


def roc_plot(series: Sequence[RocSeries], title: str = "ROC curve") -> str:
    """One ROC line per series (first one drawn thick: the overall curve); series lacking a class are skipped."""
    fig = new_figure(5.2, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1, label="chance")
    drawn = 0
    for i, (name, labels, scores) in enumerate(series):
        auc = metrics.roc_auc(labels, scores)
        if not np.isfinite(auc):
            continue
        fpr, tpr, _ = metrics.roc_curve(labels, scores)
        style = {"linewidth": 2.4, "color": "black"} if i == 0 else {"linewidth": 1.3}
        if name.startswith("baseline"):
            style["linestyle"] = "--"
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", **style)
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "needs both real and fake rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false positive rate (reals called fake)")
    ax.set_ylabel("true positive rate (fakes caught)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return figure_to_data_uri(fig)


def reliability_plot(labels: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> str:
    """Reliability diagram: fraction fake per score bin against the diagonal of perfect calibration."""
    curve = metrics.reliability_curve(labels, scores, n_bins)
    ece = metrics.expected_calibration_error(labels, scores, n_bins)
    fig = new_figure(5.2, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="perfect calibration")
    filled = curve.counts > 0
    width = 1.0 / n_bins
    ax.bar(
        curve.centers[filled],
        curve.fraction_positive[filled],
        width=width * 0.9,
        color="tab:blue",
        alpha=0.6,
        label="fraction fake",
    )
    ax.plot(curve.mean_predicted[filled], curve.fraction_positive[filled], "o-", color="tab:red", label="observed")
    for x, n in zip(curve.centers[filled], curve.counts[filled]):
        ax.text(x, 0.02, str(int(n)), ha="center", fontsize=7, color="0.3")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted probability of manipulation")
    ax.set_ylabel("fraction actually fake")
    ece_text = f"{ece:.3f}" if np.isfinite(ece) else "n/a"
    ax.set_title(f"Reliability (ECE {ece_text}; numbers = rows per bin)")
    ax.legend(loc="upper left", fontsize=7)
    return figure_to_data_uri(fig)


def score_histogram(labels: np.ndarray, scores: np.ndarray, threshold: float, n_bins: int = 20) -> str:
    """Score distribution per class, with the decision threshold marked."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    fig = new_figure(6.4, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for value, name, colour in ((0, "real", "tab:green"), (1, "fake", "tab:red")):
        part = scores[labels == value]
        ax.hist(part, bins=edges, alpha=0.55, color=colour, label=f"{name} (n={part.size})")
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (probability of manipulation)")
    ax.set_ylabel("rows")
    ax.set_title("Scores per class")
    ax.legend(loc="upper center", fontsize=7)
    return figure_to_data_uri(fig)
