"""Calibrated fusion: fit FusionModel's weight table by logistic regression on development scans.

FusionModel scores a face track as sigmoid(bias + sum_d w_d * confidence_d * logit(score_d)), so a
logistic regression over the features x_d = confidence_d * logit(score_d) (per detector d, using the
detector's score for that track) fits exactly its table: the coefficients are the weights, the intercept
the bias. We fit per face track (every track labelled with its file's label) and read the file score as
the highest track score, as the scanner does. The fit is L2-regularised, keeps every weight >= 0, and is
judged by leave-one-group-out cross-validation (files of the same footage are one group) against the
hand-set table: AUC, expected calibration error and Brier score of the held-out predictions. A Platt
rescaling of the hand-set table (one scale) is the alternative that keeps its ranking. The development
set (dflab.eval.devset) is half fakes, so the fitted probabilities assume a 50 % prior.

    records: [{"path", "label" (0/1), "group", "evidence": [{"name", "score", "confidence",
               "track_scores": {track_id: score}}], "tracks": [track_id, ...]}]
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

import numpy as np

from dflab.detect.fusion import FusionModel
from dflab.detect.timeline import logit, sigmoid

CLIP = FusionModel()  # the log-odds range every fused cue is held to
from dflab.errors import UsageError

PACKAGED_NAME = "fusion_fitted.json"
DEFAULT_L2 = 1.0
# The bias stays 0: Evidence at 0.5 means "no information", and a file on which no cue has anything to
# say must stay at 0.5 rather than inherit the development set's share of fakes.
FIT_BIAS = False
# Cues for manipulations the development set does not contain (its files are never cut, re-timed, given
# another voice): the fit cannot learn what their findings are worth, only their false alarms, so they
# keep their hand-set weights and enter the fit as a fixed offset, exactly as they will be fused.
HAND_SET_CUES = ("cuts", "speed", "synthetic_speech", "speaker_match")
# The image development set (dflab.eval.devset_images) is face edits of real photos: no wholly generated
# picture, so synthetic_image (the GAN detector) keeps its hand-set weight there too. Fitted freely it fell
# to 0.06 and the held-out GAN set (cnndetection) lost ranking (AUC 0.832 -> 0.769).
HAND_SET_CUES_BY_MEDIA = {"image": (*HAND_SET_CUES, "synthetic_image")}


@lru_cache(maxsize=1)
def packaged_table() -> dict | None:
    """The fitted table shipped with dflab, or None when the package has none (hand-set fallback)."""
    ref = resources.files("dflab.detect").joinpath(PACKAGED_NAME)
    if not ref.is_file():
        return None
    table = json.loads(ref.read_text())
    # Per-media slots (e.g. the image table beside the video one) count only if they beat hand-set too.
    slots = {m: t for m, t in (table.get("tables") or {}).items() if usable(t)}
    if usable(table):
        return {**table, "tables": slots}
    return {"tables": slots} if slots else None


def usable(table: dict) -> bool:
    """A fitted table marked for default use (it beat the hand-set table in cross-validation) whose
    weights are all finite numbers."""
    if not table.get("meta", {}).get("use_by_default", True):
        return False  # fitted, but it did not beat the hand-set table in cross-validation
    weights = table.get("weights")
    return isinstance(weights, dict) and all(isinstance(v, (int, float)) and math.isfinite(v) for v in weights.values())


def merge_table(existing: dict, table: dict) -> dict:
    """`existing` (a shipped fusion_fitted.json) with `table` (fitted for one media type) in that type's
    slot: it replaces the top-level table when that one is for the same type, else it goes under
    "tables"; the other types' tables are kept as they are."""
    media_types = table.get("media_types")
    if not media_types or len(media_types) != 1:
        raise UsageError("only a table fitted for one media type can be merged into another")
    if existing.get("media_types") == media_types:
        return {**table, "tables": existing.get("tables") or {}}
    return {**existing, "tables": {**(existing.get("tables") or {}), media_types[0]: table}}


def track_features(evidence: list[dict], names: list[str], track: int | None) -> np.ndarray:
    """x_d = confidence * logit(score) for each detector name (0 when the detector did not run), with the
    logit clipped exactly as FusionModel clips it, so a fitted weight means the same thing there."""
    by_name = {e["name"]: e for e in evidence}
    x = np.zeros(len(names))
    for j, name in enumerate(names):
        e = by_name.get(name)
        if e is None or e.get("decisive"):
            continue
        scores = {int(k): v for k, v in (e.get("track_scores") or {}).items()}
        score = scores.get(track, e["score"]) if track is not None else e["score"]
        x[j] = float(e["confidence"]) * float(np.clip(logit(score), CLIP.min_log_odds, CLIP.max_log_odds))
    return x


def track_table(records: list[dict], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X per track, y per track, index of the record each track row came from)."""
    rows, labels, owner = [], [], []
    for i, rec in enumerate(records):
        for track in rec.get("tracks") or [None]:
            rows.append(track_features(rec["evidence"], names, track))
            labels.append(int(rec["label"]))
            owner.append(i)
    if not rows:
        raise UsageError("no scan records to fit on")
    return np.array(rows), np.array(labels), np.array(owner)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = DEFAULT_L2, iters: int = 100, fit_bias: bool = True,
    offset: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (the bias is not penalised): (weights, bias).

    fit_bias=False pins the bias at 0 (a huge penalty), so no evidence still means 0.5. `offset` is a
    fixed log-odds per row (the cues that keep their hand-set weights)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    design = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 1e-6 if fit_bias else 1e12
    for _ in range(iters):
        p = sigmoid(design @ theta + offset)
        grad = design.T @ (p - y) + penalty * theta
        hess = design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta[:-1], float(theta[-1])


def fit_nonnegative(x: np.ndarray, y: np.ndarray, l2: float = DEFAULT_L2,
                    fit_bias: bool = True, offset: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """fit_logistic with every weight >= 0: a cue that says "fake" may count for little, never against.

    On a development set a cue can anti-correlate with the label by accident of how the fakes were made
    (a negative weight would turn its real finding into evidence of authenticity on other media), so
    features that come out negative are dropped one at a time, most negative first, and the rest refitted."""
    x = np.asarray(x, dtype=np.float64)
    active = list(range(x.shape[1]))
    weights = np.zeros(x.shape[1])
    bias = 0.0
    while active:
        w, bias = fit_logistic(x[:, active], y, l2, fit_bias=fit_bias, offset=offset)
        if w.min() >= 0:
            weights[active] = w
            return weights, bias
        active.pop(int(np.argmin(w)))
    _, bias = fit_logistic(np.zeros((len(y), 1)), y, l2, fit_bias=fit_bias, offset=offset)
    return weights, bias


def hand_set_offset(records: list[dict], names: list[str]) -> np.ndarray:
    """Per track row (track_table's order): the log-odds the hand-set cues `names` add."""
    from dflab.detect.fusion import DEFAULT_WEIGHTS

    if not names:
        return np.zeros(len(track_table(records, ["_"])[1]))
    x, _, _ = track_table(records, names)
    return x @ np.array([DEFAULT_WEIGHTS.get(n, CLIP.default_weight) for n in names])


def file_scores(x: np.ndarray, owner: np.ndarray, weights: np.ndarray, bias: float, n_files: int,
                offset: np.ndarray | None = None) -> np.ndarray:
    """Per file: the highest fused track score (files without tracks keep their single row)."""
    track_p = sigmoid(x @ weights + bias + (0.0 if offset is None else offset))
    out = np.zeros(n_files)
    for i in range(n_files):
        out[i] = track_p[owner == i].max()
    return out


def cross_validated(records: list[dict], names: list[str], l2: float = DEFAULT_L2,
                    project: np.ndarray | None = None, offset: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-group-out predictions per file: each group scored by a model fitted without it.

    With `project` (one weight per name) the model is Platt scaling of that fixed combination: only a
    scale and a bias are fitted."""
    x, y, owner = track_table(records, names)
    if project is not None:
        x = x @ np.asarray(project, dtype=np.float64)[:, None]
    groups = np.array([records[i]["group"] for i in owner])
    offset = np.zeros(len(y)) if offset is None else offset
    out = np.zeros(len(records))
    for group in sorted(set(groups)):
        train = groups != group
        if len(set(y[train])) < 2:
            raise UsageError(f"leaving out {group!r} leaves only one class to fit on")
        w, b = fit_nonnegative(x[train], y[train], l2, fit_bias=FIT_BIAS, offset=offset[train])
        for i in {int(o) for o in owner[~train]}:
            rows = owner == i
            out[i] = sigmoid(x[rows] @ w + b + offset[rows]).max()
    return out


def hand_set_scores(records: list[dict], names: list[str], weights: dict[str, float]) -> np.ndarray:
    x, _, owner = track_table(records, names)
    return file_scores(x, owner, np.array([weights.get(n, 0.5) for n in names]), 0.0, len(records))


def fit_table(records: list[dict], names: list[str] | None = None, l2: float = DEFAULT_L2,
              media_type: str | None = None) -> dict:
    """The fitted FusionModel table plus its cross-validated figures (and the hand-set table's, to compare).

    With `media_type` only that type's records are used and the table says it is for that type only
    (FusionModel.for_media keeps the hand-set table for the others)."""
    from dflab.detect.fusion import DEFAULT_WEIGHTS
    from dflab.eval import metrics

    if media_type is not None:
        records = [r for r in records if r.get("media_type", media_type) == media_type]
    present = sorted({e["name"] for r in records for e in r["evidence"] if not e.get("decisive")})
    if names is None:
        hand_set_cues = HAND_SET_CUES_BY_MEDIA.get(media_type or "", HAND_SET_CUES)
        names = [n for n in present if n not in hand_set_cues]
    fixed = [n for n in present if n not in names]
    labels = np.array([int(r["label"]) for r in records])
    if len(set(labels.tolist())) < 2:
        raise UsageError("calibration needs both real and fake files")
    x, y, owner = track_table(records, names)
    offset = hand_set_offset(records, fixed)
    # Two candidates. "logistic": one weight >= 0 per detector, the hand_set_cues as a fixed offset.
    # "platt": the whole hand-set table times one fitted scale, a monotone map of the hand-set score, so
    # it ranks files exactly as the hand-set table does and only changes what the numbers mean.
    weights, bias = fit_nonnegative(x, y, l2, fit_bias=FIT_BIAS, offset=offset)
    cv = cross_validated(records, names, l2, offset=offset)
    x_all, _, owner_all = track_table(records, present)
    hand_all = np.array([DEFAULT_WEIGHTS.get(n, CLIP.default_weight) for n in present])
    (scale,), platt_bias = fit_nonnegative(x_all @ hand_all[:, None], y, l2, fit_bias=FIT_BIAS)
    cv_platt = cross_validated(records, present, l2, project=hand_all)
    hand = hand_set_scores(records, present, DEFAULT_WEIGHTS)
    candidates = {
        "logistic": (cv, dict(zip(names, weights)), bias, fixed,
                     file_scores(x, owner, weights, bias, len(records), offset)),
        "platt": (cv_platt, dict(zip(present, scale * hand_all)), platt_bias, [],
                  file_scores(x_all, owner_all, scale * hand_all, platt_bias, len(records))),
    }
    def figures(scores: np.ndarray) -> dict:
        return {"auc": round(metrics.roc_auc(labels, scores), 4),
                "ece": round(metrics.expected_calibration_error(labels, scores), 4),
                "brier": round(float(np.mean((scores - labels) ** 2)), 4)}

    hand_figures = figures(hand)
    cv_figures = {name: figures(c[0]) for name, c in candidates.items()}
    # Shipped as the default only if, held out, it ranks no worse than the hand-set table and its
    # probabilities are better (lower Brier score, a proper scoring rule); among those that qualify, and
    # else among all, the lower cross-validated Brier score wins.
    qualifies = {name: f["auc"] >= hand_figures["auc"] and f["brier"] < hand_figures["brier"]
                 for name, f in cv_figures.items()}
    pool = [n for n in candidates if qualifies[n]] or list(candidates)
    chosen = min(pool, key=lambda n: cv_figures[n]["brier"])
    other = next(n for n in candidates if n != chosen)
    cv, table_weights, bias, kept_hand_set, fitted_in_sample = candidates[chosen]
    return {
        "weights": {n: round(float(w), 4) for n, w in table_weights.items()},
        "bias": round(bias, 4),
        **({"media_types": [media_type]} if media_type is not None else {}),
        "meta": {
            "method": "'logistic': L2 logistic regression over confidence*logit(score) per detector, "
                      "weights >= 0, per face track (file = max over tracks), the hand_set_cues as a fixed "
                      "offset at their hand-set weights; 'platt': the hand-set table times one fitted scale "
                      "(same ranking). Leave-one-group-out cross-validation; a candidate that ranks no worse "
                      "than the hand-set table with a lower Brier score is preferred, then the lower Brier.",
            "hand_set_cues": kept_hand_set,
            "chosen": chosen,
            "use_by_default": bool(qualifies[chosen]),
            "cv_brier": {k: f["brier"] for k, f in cv_figures.items()},
            "cross_validated_other": {"method": other, **cv_figures[other]},
            "platt_scale": round(float(scale), 4),
            "bias_fitted": FIT_BIAS,
            "l2": l2,
            "n_files": len(records),
            "n_fake": int(labels.sum()),
            "n_tracks": len(y),
            "n_groups": len({r["group"] for r in records}),
            "prior_fake": round(float(labels.mean()), 4),
            "cross_validated": cv_figures[chosen],
            "in_sample": figures(fitted_in_sample),
            "hand_set": hand_figures,
            "files": [{"path": r["path"], "label": int(r["label"]), "group": r["group"],
                       "cv_score": round(float(s), 4)} for r, s in zip(records, cv)],
        },
    }
