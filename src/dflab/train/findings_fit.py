"""Fit one finding's combiner on scan records, judged by grouped cross-validation.

    dflab train findings MANIFEST.csv --finding face_manipulated --media-type video \
        --out src/dflab/detect/findings/face_manipulated.video.json

A record is one scanned development file (dflab.eval.scan_records): its label, its group (one source footage
or identity; a group is always left out whole), its face tracks and every detector's score, confidence and
per-track scores. Candidates, cross-validated leave-one-group-out:

  fused    an L2 logistic regression over every member's confidence * logit(score), weights >= 0;
  member   each member alone, Platt-scaled (one weight and a bias), for the held-out figures;
  any      each member calibrated on its own (isotonic, dflab.train.isotonic) and the finding the highest of
           their probabilities; members are added greedily, best first, while the held-out share of fakes
           flagged at the suspicious line grows, so a member that only adds false alarms stays out.

What a user gets decides: the candidate that flags the most held-out fakes at the suspicious line (5 % of the
real files' held-out probabilities reach it; a file is flagged from there on), then at the manipulated line
(1 %), ships; "any" wins ties, as it never averages a member that is sure on its own away. A per-face finding scores every face track and takes the most
suspicious one, exactly as the scanner does. The real files' held-out quantiles ship in the table, so any
false-alarm rate can be asked for.
"""

from __future__ import annotations

import numpy as np

from dflab.detect.findings import KIND_BY_NAME, LOGIT_CLIP, OperatingPoint, threshold_at
from dflab.errors import UsageError
from dflab.train.isotonic import fit_isotonic, predict_isotonic
from dflab.train.logistic import fit_logistic, fit_nonnegative

N_QUANTILES = 201
DEFAULT_L2 = 1.0
MIN_GAIN = 0.005  # a member joins an "any" combiner only if it adds this share of fakes flagged, held out


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


def _rows_by_group(records: list[dict], owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([records[i]["label"] for i in owner], dtype=float),
            np.array([records[i]["group"] for i in owner]))


def isotonic_out_of_fold(records: list[dict], x: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per row and member: the member's own isotonic probability, calibrated without the row's group."""
    y_rows, groups = _rows_by_group(records, owner)
    out = np.zeros(x.shape)
    for group in sorted(set(groups)):
        train = groups != group
        for j in range(x.shape[1]):
            out[~train, j] = predict_isotonic(fit_isotonic(x[train, j], y_rows[train]), x[~train, j])
    return out


def flagged_at(labels: np.ndarray, scores: np.ndarray, point: OperatingPoint | None = None) -> dict:
    """Shares of fakes and of reals flagged at the operating points, thresholds read from these reals' scores
    exactly as the scanner reads them from the shipped quantiles (never below even odds)."""
    point = point or OperatingPoint()
    quantiles = np.quantile(scores[labels == 0], np.linspace(0, 1, N_QUANTILES))
    out = {}
    for name, fpr in (("manipulated", point.manipulated_fpr), ("suspicious", point.suspicious_fpr)):
        t = max(threshold_at(quantiles, fpr), 0.5)
        out[name] = {"fakes": round(float(np.mean(scores[labels == 1] >= t)), 4),
                     "reals": round(float(np.mean(scores[labels == 0] >= t)), 4)}
    return out


def flagged_by_group(labels: np.ndarray, groups: np.ndarray, scores: np.ndarray,
                     point: OperatingPoint | None = None) -> dict:
    """flagged_at with the thresholds held out too: each group's files judged at thresholds read from the other
    groups' real files only (what a user of a table fitted without them would see)."""
    point = point or OperatingPoint()
    out = {}
    for name, fpr in (("manipulated", point.manipulated_fpr), ("suspicious", point.suspicious_fpr)):
        hit = np.zeros(len(scores), dtype=bool)
        for group in sorted(set(groups)):
            reals = scores[(labels == 0) & (groups != group)]
            t = max(threshold_at(np.quantile(reals, np.linspace(0, 1, N_QUANTILES)), fpr), 0.5)
            hit[groups == group] = scores[groups == group] >= t
        out[name] = {"fakes": round(float(hit[labels == 1].mean()), 4), "reals": round(float(hit[labels == 0].mean()), 4)}
    return out


def _user_value(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(fakes flagged at the suspicious line, at the manipulated line): a file is flagged from the suspicious
    line on, so that share comes first."""
    got = flagged_at(labels, scores)
    return got["suspicious"]["fakes"], got["manipulated"]["fakes"]


def select_any(labels: np.ndarray, member_rows: np.ndarray, owner: np.ndarray, members: list[str]) -> list[str]:
    """Members of the "any" combiner: the best alone, then greedily whichever adds most fakes flagged, held out."""
    n = len(labels)

    def value(cols: list[int]) -> tuple[float, float]:
        return _user_value(labels, _file_max(member_rows[:, cols].max(axis=1), owner, n))

    chosen = [max(range(len(members)), key=lambda j: (value([j]), -j))]
    while len(chosen) < len(members):
        base = value(chosen)[0]
        gains = {j: value(chosen + [j])[0] - base for j in range(len(members)) if j not in chosen}
        best = max(gains, key=lambda j: (gains[j], -j))
        if gains[best] < MIN_GAIN:
            break
        chosen.append(best)
    return [members[j] for j in chosen]


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
    member_rows = isotonic_out_of_fold(records, x, owner)
    selected = select_any(labels, member_rows, owner, members)
    any_cols = [members.index(m) for m in selected]
    candidates["any"] = (selected, _file_max(member_rows[:, any_cols].max(axis=1), owner, len(records)))
    held = {name: figures(labels, oof) for name, (_, oof) in candidates.items()}
    file_groups = np.array([r["group"] for r in records])
    for name, (_, oof) in candidates.items():
        held[name]["flagged_at_operating_points"] = flagged_at(labels, oof)
        held[name]["flagged_thresholds_held_out"] = flagged_by_group(labels, file_groups, oof)
    best = max(members, key=lambda m: (held[m]["auc"], -held[m]["ece"]))
    value = {name: _user_value(labels, oof) for name, (_, oof) in candidates.items()}
    chosen = "fused" if len(members) > 1 and value["fused"] > value["any"] else "any"
    chosen_members, oof = candidates[chosen]
    y_rows = np.array([records[i]["label"] for i in owner], dtype=float)
    calibration = {}
    if chosen == "any":
        weights, bias = np.ones(len(chosen_members)), 0.0
        for m in chosen_members:
            knots = fit_isotonic(x[:, members.index(m)], y_rows)
            calibration[m] = {"x": [round(float(v), 5) for v in knots[0]], "p": [round(float(v), 5) for v in knots[1]]}
    else:
        cols = [members.index(m) for m in chosen_members]
        weights, bias = _fit(x[:, cols], y_rows, l2)
    real_oof = np.sort(oof[labels == 0])
    quantiles = np.quantile(real_oof, np.linspace(0, 1, N_QUANTILES))
    point = OperatingPoint()
    thresholds = {"manipulated": threshold_at(quantiles, point.manipulated_fpr),
                  "suspicious": threshold_at(quantiles, point.suspicious_fpr)}
    got = held[chosen]["flagged_at_operating_points"]
    flagged = {name: got[name]["fakes"] for name in thresholds}
    return {
        "finding": finding,
        **({"media_types": [media_type]} if media_type else {}),
        "combine": "any" if chosen == "any" else "logistic",
        "members": {m: round(float(w), 5) for m, w in zip(chosen_members, weights)},
        **({"calibration": calibration} if calibration else {}),
        "bias": round(float(bias), 5),
        "operating_points": {k: round(v, 5) for k, v in thresholds.items()},
        "real_quantiles": [round(float(q), 5) for q in quantiles],
        "held_out": {
            "groups": "leave-one-group-out", "n_groups": len({r["group"] for r in records}),
            "n_real": int((labels == 0).sum()), "n_fake": int(labels.sum()),
            "chosen": chosen, **held[chosen],
            "best_member": best, **{f"best_member_{k}": v for k, v in held[best].items()},
            "fused": held["fused"], "any": {"members": selected, **held["any"]},
            "members": {m: held[m] for m in members},
            "fakes_flagged_at_operating_points": flagged,
            "reals_flagged_at_operating_points": {name: got[name]["reals"] for name in thresholds},
        },
        "oof": [{"path": r["path"], "label": int(r["label"]), "group": r["group"], "method": r.get("method", ""),
                 "p": round(float(p), 5)} for r, p in zip(records, oof)],
    }
