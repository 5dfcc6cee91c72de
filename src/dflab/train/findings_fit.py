"""Fit one finding's combiner on scan records, judged by grouped cross-validation.

    dflab train findings MANIFEST.csv --finding face_manipulated --media-type video \
        --out src/dflab/detect/findings/face_manipulated.video.json

A record is one scanned development file (dflab.eval.scan_records): its label, its group (one source footage
or identity; a group is always left out whole), its face tracks and every detector's score, confidence and
per-track scores. Two kinds of candidate are cross-validated, leave-one-group-out:

  fused    an L2 logistic regression over every member's confidence * logit(score), weights >= 0;
  member   each member alone, Platt-scaled (one weight and a bias).

The fused combiner ships only if, held out, it ranks at least as well as the best single member (AUC) and is
better calibrated (lower Brier score, ECE no more than 0.02 worse); otherwise the best member ships alone. A per-face finding scores every face track and
takes the most suspicious one, exactly as the scanner does. The operating points come from the held-out
probabilities of the real files (their quantiles ship in the table, so any false-alarm rate can be asked for).
"""

from __future__ import annotations

import numpy as np

from dflab.detect.findings import KIND_BY_NAME, LOGIT_CLIP, OperatingPoint
from dflab.errors import UsageError
from dflab.train.logistic import fit_logistic, fit_nonnegative

N_QUANTILES = 201
DEFAULT_L2 = 1.0


def _feature(score: float, confidence: float) -> float:
    p = min(max(float(score), 1e-6), 1 - 1e-6)
    return float(confidence) * float(np.clip(np.log(p / (1 - p)), -LOGIT_CLIP, LOGIT_CLIP))


def design(records: list[dict], members: list[str], per_track: bool) -> tuple[np.ndarray, np.ndarray]:
    """(features per row, index of the record each row came from): one row per face track for a per-face
    finding (a file without faces gets one file-level row), else one row per file."""
    rows, owner = [], []
    for i, rec in enumerate(records):
        by_name = {e["name"]: e for e in rec["evidence"]}
        for track in (rec.get("tracks") or [None]) if per_track else [None]:
            x = np.zeros(len(members))
            for j, name in enumerate(members):
                e = by_name.get(name)
                if e is None or float(e["confidence"]) <= 0:
                    continue
                scores = {int(k): v for k, v in (e.get("track_scores") or {}).items()}
                x[j] = _feature(scores.get(track, e["score"]) if track is not None else e["score"], e["confidence"])
            rows.append(x)
            owner.append(i)
    return np.array(rows), np.array(owner)


def _file_max(p_rows: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, owner, p_rows)
    return out


def _fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    return fit_nonnegative(x, y, l2) if x.shape[1] > 1 else fit_logistic(x, y, l2)


def out_of_fold(records: list[dict], x: np.ndarray, owner: np.ndarray, l2: float) -> np.ndarray:
    """Per file: the probability from a combiner fitted without the file's group."""
    y_rows = np.array([records[i]["label"] for i in owner], dtype=float)
    groups = np.array([records[i]["group"] for i in owner])
    p_rows = np.zeros(len(owner))
    for group in sorted(set(groups)):
        train = groups != group
        if len(set(y_rows[train])) < 2:
            raise UsageError(f"leaving out group {group!r} leaves only one class to fit on")
        w, b = _fit(x[train], y_rows[train], l2)
        p_rows[~train] = 1 / (1 + np.exp(-(x[~train] @ w + b)))
    return _file_max(p_rows, owner, len(records))


def figures(labels: np.ndarray, scores: np.ndarray) -> dict:
    from dflab.eval import metrics

    eer, _ = metrics.eer(labels, scores)
    return {"auc": round(float(metrics.roc_auc(labels, scores)), 4), "eer": round(float(eer), 4),
            "ece": round(float(metrics.expected_calibration_error(labels, scores)), 4),
            "brier": round(float(np.mean((scores - labels) ** 2)), 4)}


def fit_finding(records: list[dict], finding: str, l2: float = DEFAULT_L2, media_type: str | None = None) -> dict:
    """The finding's table (findings/<name>.json format) with its held-out figures."""
    kind = KIND_BY_NAME[finding]
    if media_type:
        records = [r for r in records if r.get("media_type") == media_type]
    present = {e["name"] for r in records for e in r["evidence"] if float(e["confidence"]) > 0}
    members = [m for m in kind.members if m in present]
    if not members:
        raise UsageError(f"no member of {finding} ({', '.join(kind.members)}) ran on these records")
    labels = np.array([int(r["label"]) for r in records], dtype=float)
    if len(set(labels.tolist())) < 2:
        raise UsageError("fitting a finding needs both real and fake files")
    per_track = finding == "face_manipulated"
    x, owner = design(records, members, per_track)
    candidates = {"fused": (members, out_of_fold(records, x, owner, l2))}
    for j, name in enumerate(members):
        candidates[name] = ([name], out_of_fold(records, x[:, [j]], owner, l2))
    held = {name: figures(labels, oof) for name, (_, oof) in candidates.items()}
    best = max(members, key=lambda m: (held[m]["auc"], -held[m]["ece"]))
    # "Better calibrated" is judged by the Brier score, a proper scoring rule (its calibration term is what ECE
    # estimates, without ECE's binning noise: a near-perfect ranker can lose on 10-bin ECE by chance), with the
    # ECE allowed no more than 0.02 worse.
    fused, lead = held["fused"], held[best]
    fused_wins = (len(members) > 1 and fused["auc"] >= lead["auc"] and fused["brier"] < lead["brier"]
                  and fused["ece"] <= lead["ece"] + 0.02)
    chosen = "fused" if fused_wins else best
    chosen_members, oof = candidates[chosen]
    cols = [members.index(m) for m in chosen_members]
    y_rows = np.array([records[i]["label"] for i in owner], dtype=float)
    weights, bias = _fit(x[:, cols], y_rows, l2)
    real_oof = np.sort(oof[labels == 0])
    quantiles = np.quantile(real_oof, np.linspace(0, 1, N_QUANTILES))
    point = OperatingPoint()
    thresholds = {"manipulated": float(np.quantile(real_oof, 1 - point.manipulated_fpr)),
                  "suspicious": float(np.quantile(real_oof, 1 - point.suspicious_fpr))}
    flagged = {name: round(float(np.mean(oof[labels == 1] >= max(t, 0.5))), 4) for name, t in thresholds.items()}
    return {
        "finding": finding,
        **({"media_types": [media_type]} if media_type else {}),
        "combine": "logistic",
        "members": {m: round(float(w), 5) for m, w in zip(chosen_members, weights)},
        "bias": round(float(bias), 5),
        "operating_points": {k: round(v, 5) for k, v in thresholds.items()},
        "real_quantiles": [round(float(q), 5) for q in quantiles],
        "held_out": {
            "groups": "leave-one-group-out", "n_groups": len({r["group"] for r in records}),
            "n_real": int((labels == 0).sum()), "n_fake": int(labels.sum()),
            "chosen": chosen, **held[chosen],
            "best_member": best, **{f"best_member_{k}": v for k, v in held[best].items()},
            "fused": held["fused"], "members": {m: held[m] for m in members},
            "fakes_flagged_at_operating_points": flagged,
        },
        "oof": [{"path": r["path"], "label": int(r["label"]), "group": r["group"], "method": r.get("method", ""),
                 "p": round(float(p), 5)} for r, p in zip(records, oof)],
    }
