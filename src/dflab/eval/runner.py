"""Run a scanner (and optional baselines) over a manifest, then compute the metrics overall and per method.

The scanner is passed in (`scan(path) -> result with .score/.verdict, or a float`), so the runner is tested
with a fake scorer and the CLI plugs in `dflab.detect.scan.scan_file`. A row that cannot be scored is
recorded with its error and left out of the metrics; it never stops the run.

Per-method figures. Manifests group rows by a `method` column in two ways: cnndetection has reals and fakes
inside each method (then the method is evaluated on its own rows, comparison "within"), while ffpp and the
speech set give every fake its method and file all reals under one method such as "original" (then a
fake-only method is evaluated as its fakes vs ALL real rows, "vs_all_real", and a real-only method as its reals
vs ALL fake rows, "vs_all_fake"). Each per-method entry says which comparison it used.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from dflab.errors import DflabError
from dflab.eval import metrics
from dflab.eval.baselines import get_baseline
from dflab.eval.manifest import Manifest, ManifestRow

ScanFn = Callable[[Path], Any]

COMPARISON_NOTES = {
    "within": "the method's own real rows vs its own fake rows",
    "vs_all_real": "the method has only fakes: its fakes vs all real rows of the manifest",
    "vs_all_fake": "the method has only reals: its reals vs all fake rows of the manifest",
    "unscored": "no row of the method could be scored",
}


@dataclass
class RowResult:
    row: ManifestRow
    score: float | None = None
    verdict: str | None = None
    error: str | None = None
    seconds: float = 0.0
    baseline_scores: dict[str, float | None] = field(default_factory=dict)
    baseline_errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "path": self.row.path,
            "label": self.row.label_name,
            "method": self.row.method,
            "score": None if self.score is None else round(self.score, 6),
            "verdict": self.verdict,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }
        if self.baseline_scores:
            out["baselines"] = {
                name: {"score": None if s is None else round(s, 6), "error": self.baseline_errors.get(name)}
                for name, s in self.baseline_scores.items()
            }
        return out


@dataclass(frozen=True)
class MetricSet:
    """The figures for one scorer on one set of rows."""

    n: int
    n_real: int
    n_fake: int
    auc: float
    auc_ci: tuple[float, float]
    eer: float
    eer_threshold: float
    ap: float
    accuracy: float
    ece: float
    comparison: str | None = None  # per-method only: a key of COMPARISON_NOTES
    n_method: int | None = None  # per-method only: scored rows carrying this method

    def to_json(self) -> dict:
        out = {
            "n": self.n,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "auc": _num(self.auc),
            "auc_ci": [_num(self.auc_ci[0]), _num(self.auc_ci[1])],
            "eer": _num(self.eer),
            "eer_threshold": _num(self.eer_threshold),
            "ap": _num(self.ap),
            "accuracy": _num(self.accuracy),
            "ece": _num(self.ece),
        }
        if self.comparison is not None:
            out["comparison"] = self.comparison
            out["n_method"] = self.n_method
        return out


@dataclass(frozen=True)
class ScorerMetrics:
    overall: MetricSet
    per_method: dict[str, MetricSet]

    def to_json(self) -> dict:
        return {**self.overall.to_json(), "per_method": {m: s.to_json() for m, s in self.per_method.items()}}


@dataclass
class EvalResult:
    manifest: Path
    threshold: float
    rows: list[RowResult]
    ours: ScorerMetrics
    baselines: dict[str, ScorerMetrics]

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.error is not None]

    def scored(self, baseline: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(labels, scores, methods) of the rows that `baseline` (None = ours) managed to score."""
        pairs = [
            (r, r.score if baseline is None else r.baseline_scores.get(baseline))
            for r in self.rows
        ]
        pairs = [(r, s) for r, s in pairs if s is not None]
        labels = np.array([r.row.label for r, _ in pairs], dtype=np.int64)
        scores = np.array([s for _, s in pairs], dtype=np.float64)
        return labels, scores, [r.row.method or "(none)" for r, _ in pairs]

    def to_json(self) -> dict:
        """One JSON object: the overall figures at top level (`auc`, ...), then per method, baselines, rows."""
        out = {"manifest": str(self.manifest), "threshold": self.threshold}
        out.update(self.ours.to_json())
        out["n_rows"] = len(self.rows)
        out["n_errors"] = len(self.errors)
        out["per_method_note"] = COMPARISON_NOTES
        out["baselines"] = {name: m.to_json() for name, m in self.baselines.items()}
        out["rows"] = [r.to_json() for r in self.rows]
        out["errors"] = [{"path": r.row.path, "line": r.row.line, "error": r.error} for r in self.errors]
        return out


def _num(value: float) -> float | None:
    """NaN -> None (JSON null); everything else rounded for readable output."""
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def compute_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0
) -> MetricSet:
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    e, e_thr = metrics.eer(labels, scores)
    return MetricSet(
        n=int(labels.size),
        n_real=int((labels == 0).sum()),
        n_fake=int((labels == 1).sum()),
        auc=metrics.roc_auc(labels, scores),
        auc_ci=metrics.bootstrap_auc_ci(labels, scores, n_boot=n_boot, seed=seed),
        eer=e,
        eer_threshold=e_thr,
        ap=metrics.average_precision(labels, scores),
        accuracy=metrics.accuracy_at(labels, scores, threshold),
        ece=metrics.expected_calibration_error(labels, scores),
    )


def method_subsets(labels: np.ndarray, methods: Sequence[str]) -> dict[str, tuple[str, np.ndarray]]:
    """For each method: (comparison kind, boolean mask of the rows its figures are computed on)."""
    labels = np.asarray(labels)
    methods_arr = np.asarray(methods, dtype=object)
    out: dict[str, tuple[str, np.ndarray]] = {}
    for method in sorted(set(methods)):
        own = methods_arr == method
        has_fake = bool((labels[own] == 1).any())
        has_real = bool((labels[own] == 0).any())
        if has_fake and has_real:
            out[method] = ("within", own)
        elif has_fake:
            out[method] = ("vs_all_real", own | (labels == 0))
        else:
            out[method] = ("vs_all_fake", own | (labels == 1))
    return out


def scorer_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    methods: Sequence[str] | None,
    threshold: float,
    n_boot: int = 1000,
    seed: int = 0,
    all_methods: Sequence[str] = (),
) -> ScorerMetrics:
    """Overall figures plus, when `methods` is given, per-method figures (see the module docstring).

    Methods in `all_methods` with no scored row still get an entry (all NaN, comparison "unscored"), so a
    method whose every file failed is visible rather than silently missing.
    """
    overall = compute_metrics(labels, scores, threshold, n_boot, seed)
    per_method: dict[str, MetricSet] = {}
    if methods is not None:
        methods_arr = np.asarray(methods, dtype=object)
        for method, (kind, mask) in method_subsets(labels, methods).items():
            m = compute_metrics(labels[mask], scores[mask], threshold, n_boot, seed)
            per_method[method] = MetricSet(
                **{**m.__dict__, "comparison": kind, "n_method": int((methods_arr == method).sum())}
            )
        empty = compute_metrics(np.zeros(0, np.int64), np.zeros(0), threshold, n_boot, seed)
        for method in all_methods:
            if method not in per_method:
                per_method[method] = MetricSet(**{**empty.__dict__, "comparison": "unscored", "n_method": 0})
        per_method = dict(sorted(per_method.items()))
    return ScorerMetrics(overall, per_method)


def score_of(result: Any) -> tuple[float, str | None]:
    """(score, verdict) from a scanner result: a ScanResult-like object (`.score`, `.verdict`) or a number."""
    if isinstance(result, (int, float, np.floating, np.integer)) and not isinstance(result, bool):
        score, verdict = float(result), None
    else:
        score = getattr(result, "score", None)
        if score is None:
            raise TypeError(f"scanner returned {type(result).__name__} without a score")
        score, verdict = float(score), getattr(result, "verdict", None)
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise ValueError(f"scanner returned score {score} outside [0, 1]")
    return score, verdict


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DflabError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _score_row(row: ManifestRow, scan: ScanFn, baselines: dict[str, ScanFn]) -> RowResult:
    from dflab.detect.verdict import verdict_for

    result = RowResult(row=row)
    if not row.file.is_file():
        result.error = f"file not found: {row.file} (manifest line {row.line})"
        result.baseline_scores = {name: None for name in baselines}
        return result
    start = time.perf_counter()
    try:
        score, verdict = score_of(scan(row.file))
        result.score, result.verdict = score, verdict or verdict_for(score)
    except Exception as exc:  # noqa: BLE001 - one bad file is recorded, never aborts the evaluation
        result.error = _error_text(exc)
    result.seconds = time.perf_counter() - start
    for name, fn in baselines.items():
        try:
            result.baseline_scores[name] = score_of(fn(row.file))[0]
        except Exception as exc:  # noqa: BLE001 - same policy for baselines
            result.baseline_scores[name] = None
            result.baseline_errors[name] = _error_text(exc)
    return result


def _metrics_for(
    rows: list[RowResult], scores: list[float | None], has_method: bool, threshold: float, n_boot: int, seed: int
) -> ScorerMetrics:
    keep = [i for i, s in enumerate(scores) if s is not None]
    labels = np.array([rows[i].row.label for i in keep], dtype=np.int64)
    values = np.array([scores[i] for i in keep], dtype=np.float64)
    methods = [rows[i].row.method or "(none)" for i in keep] if has_method else None
    every_method = sorted({r.row.method or "(none)" for r in rows}) if has_method else []
    return scorer_metrics(labels, values, methods, threshold, n_boot, seed, all_methods=every_method)


def run_eval(
    manifest: Manifest,
    scan: ScanFn,
    baselines: Sequence[str] = (),
    progress: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float | None = None,
) -> EvalResult:
    """Score every row of `manifest` with `scan` (and each named baseline) and compute all figures.

    `threshold` defaults to the verdict module's DECISION_THRESHOLD (fake iff score >= it). Unknown baseline
    names raise UsageError before anything is scanned.
    """
    from tqdm import tqdm

    from dflab.detect.verdict import DECISION_THRESHOLD

    threshold = DECISION_THRESHOLD if threshold is None else float(threshold)
    baseline_fns = {name: get_baseline(name) for name in dict.fromkeys(baselines)}
    rows: list[RowResult] = []
    bar = tqdm(manifest.rows, desc="eval", unit="file", file=sys.stderr, disable=not progress, leave=False)
    for row in bar:
        rows.append(_score_row(row, scan, baseline_fns))
        bar.set_postfix(errors=sum(r.error is not None for r in rows), refresh=False)
    bar.close()
    has_method = manifest.has_method
    ours = _metrics_for(rows, [r.score for r in rows], has_method, threshold, n_boot, seed)
    base = {
        name: _metrics_for(rows, [r.baseline_scores.get(name) for r in rows], has_method, threshold, n_boot, seed)
        for name in baseline_fns
    }
    return EvalResult(manifest=manifest.path, threshold=threshold, rows=rows, ours=ours, baselines=base)
