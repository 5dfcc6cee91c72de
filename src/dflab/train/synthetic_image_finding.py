"""Fit the synthetic_image finding's table: its members combined, judged leave-one-generator-out.

    python -m dflab.train.synthetic_image_finding --probe-oof bench/results/synthetic_image_probe_oof.json \
        --out src/dflab/detect/findings/synthetic_image.image.json

Members: `synthetic_image_probe` (its out-of-fold scores from dflab.train.synthetic_image_probe),
`synthetic_image_cnn` (its out-of-fold scores from dflab.train.synthetic_image_cnn, `--oof`; not shipped, so
optional), `synthetic_image` and `spectrum` (their out-of-fold evidence from dflab.train.synthetic_image_members).
The table is fitted on pictures only and ships as the picture table (`synthetic_image.image.json`): on video the
finding keeps its hand-set default. Each member enters as
confidence * clip(logit(score), -6, 6), as the scan computes it. Candidates, each cross-validated by generator
fold (the combiner that scores a fold never saw it):

  fused    a logistic regression over every member, weights >= 0 (a member that says "generated" may count
           for little, never as evidence of a camera picture);
  member   each member alone, Platt-scaled (one weight and a bias).

The fused combiner ships only if, held out, it ranks at least as well as the best single member (AUC) and is
better calibrated (ECE); otherwise the best member ships alone. The operating points are the out-of-fold
probabilities reached by 1 % and 5 % of the real development pictures. The CIPLAB splices (face edits, not
generated pictures) are never fitted on; how the table rates them is reported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dflab.errors import UsageError
from dflab.train.synthetic_image_data import Picture, development_set, evaluation_mask, generator_folds

FINDING = "synthetic_image"
MEMBERS = ("synthetic_image_probe", "synthetic_image_cnn", "synthetic_image", "spectrum")
LOGIT_CLIP = 6.0
L2_C = 1.0  # inverse L2 strength of the combiner (a handful of weights on thousands of pictures)
FALSE_ALARMS = {"manipulated": 0.01, "suspicious": 0.05}
N_QUANTILES = 201
COMMAND = ("python -m dflab.train.synthetic_image_finding --probe-oof bench/results/synthetic_image_probe_oof.json "
           "--out src/dflab/detect/findings/synthetic_image.image.json")


def member_feature(score: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(score, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(confidence, dtype=np.float64) * np.clip(np.log(p / (1 - p)), -LOGIT_CLIP, LOGIT_CLIP)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def fit_combiner(x: np.ndarray, y: np.ndarray, nonnegative: bool) -> tuple[np.ndarray, float]:
    """(weights, bias) of an L2 logistic regression; with `nonnegative`, a feature whose weight comes out
    negative is dropped (most negative first) and the rest refitted."""
    from dflab.detect.learned.synthetic_model import fit_logistic

    active = list(range(x.shape[1]))
    weights = np.zeros(x.shape[1])
    while active:
        w, bias = fit_logistic(x[:, active], y, c=L2_C)
        if not nonnegative or w.min() >= 0:
            weights[active] = w
            return weights, float(bias)
        active.pop(int(np.argmin(w)))
    return weights, float(np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)))


def grouped_out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, fit_mask: np.ndarray,
                        nonnegative: bool) -> np.ndarray:
    """Per row: the probability from a combiner fitted on the `fit_mask` rows of the other groups."""
    out = np.zeros(len(y))
    for group in sorted(set(groups.tolist())):
        train = fit_mask & (groups != group)
        w, b = fit_combiner(x[train], y[train], nonnegative)
        held = groups == group
        out[held] = _sigmoid(x[held] @ w + b)
    return out


def figures(labels: np.ndarray, scores: np.ndarray) -> dict:
    from dflab.eval import metrics

    rate, _ = metrics.eer(labels, scores)
    return {"auc": round(float(metrics.roc_auc(labels, scores)), 4), "eer": round(float(rate), 4),
            "ece": round(float(metrics.expected_calibration_error(labels, scores)), 4),
            "brier": round(float(np.mean((scores - labels) ** 2)), 4)}


def design(pictures: list[Picture], evidence: dict[str, list[dict]]) -> np.ndarray:
    """(n, members) features; a member missing from `evidence` is a column of zeros (it did not run)."""
    cols = []
    for name in MEMBERS:
        rows = evidence.get(name)
        if rows is None:
            cols.append(np.zeros(len(pictures)))
            continue
        if len(rows) != len(pictures):
            raise UsageError(f"{name}: {len(rows)} scores for {len(pictures)} pictures")
        cols.append(member_feature(np.array([r["score"] for r in rows]), np.array([r["confidence"] for r in rows])))
    return np.stack(cols, axis=1)


def cnn_evidence(pictures: list[Picture], oof_file: Path, shared: Path) -> list[dict]:
    """The CNN's out-of-fold scores, in the order of `pictures`, with the detector's confidence on a picture."""
    from dflab.detect.learned.synthetic_image_cnn import CONFIDENCE

    return oof_evidence(pictures, oof_file, shared, CONFIDENCE["image"])


def probe_evidence(pictures: list[Picture], oof_file: Path, shared: Path) -> list[dict]:
    """The probe's out-of-fold scores, in the order of `pictures`, with the detector's confidence."""
    from dflab.detect.learned.synthetic_image_probe import CONFIDENCE

    return oof_evidence(pictures, oof_file, shared, CONFIDENCE)


def oof_evidence(pictures: list[Picture], oof_file: Path, shared: Path, confidence: float) -> list[dict]:
    """Out-of-fold scores stored as {"records": [{"path", "score"}]} (paths relative to `shared`)."""
    data = json.loads(oof_file.read_text())
    by_path = {str((shared / r["path"]).resolve()): r for r in data["records"]}
    out = []
    for p in pictures:
        record = by_path.get(str(p.path.resolve()))
        if record is None or record.get("score") is None:
            raise UsageError(f"{oof_file} has no out-of-fold score for {p.path}")
        out.append({"score": float(record["score"]), "confidence": confidence})
    return out


def operating_points(real_p: np.ndarray) -> dict[str, float]:
    return {name: round(float(np.quantile(real_p, 1 - rate)), 5) for name, rate in FALSE_ALARMS.items()}


def per_generator(pictures: list[Picture], labels: np.ndarray, columns: dict[str, np.ndarray],
                  points: dict[str, float]) -> dict[str, dict]:
    """Per held-out generator: every candidate's AUC on its fakes against its paired reals, the fused
    EER/ECE, and the share of its fakes and paired reals at or above each operating point."""
    from dflab.eval.metrics import roc_auc

    chosen = columns["chosen"]
    table = {}
    for generator in generator_folds(pictures):
        mask = np.array(evaluation_mask(pictures, generator))
        y, p = labels[mask], chosen[mask]
        row = {f"{name}_auc": round(float(roc_auc(y, s[mask])), 4) for name, s in columns.items() if name != "chosen"}
        row.update({f"chosen_{k}": v for k, v in figures(y, p).items()})
        for name, t in points.items():
            row[f"fakes_flagged_{name}"] = round(float(np.mean(p[y == 1] >= t)), 4)
            row[f"reals_flagged_{name}"] = round(float(np.mean(p[y == 0] >= t)), 4)
        row["n_fake"], row["n_real"] = int(y.sum()), int((y == 0).sum())
        table[generator] = row
    return table


def fit_table(pictures: list[Picture], evidence: dict[str, list[dict]]) -> tuple[dict, dict]:
    """(the finding's table, the detailed held-out report for the benchmark)."""
    labels = np.array([p.label for p in pictures], dtype=np.float64)
    trainable = np.array([p.trainable for p in pictures])
    groups = np.array([p.fold for p in pictures])
    x = design(pictures, evidence)
    present = [j for j, name in enumerate(MEMBERS) if name in evidence]
    candidates = {"fused": (present, grouped_out_of_fold(x[:, present], labels, groups, trainable, True))}
    for j in present:
        candidates[MEMBERS[j]] = ([j], grouped_out_of_fold(x[:, [j]], labels, groups, trainable, False))
    held = {name: figures(labels[trainable], oof[trainable]) for name, (_, oof) in candidates.items()}
    members_only = [MEMBERS[j] for j in present]
    best = max(members_only, key=lambda m: (held[m]["auc"], -held[m]["ece"]))
    fused_wins = len(present) > 1 and held["fused"]["auc"] >= held[best]["auc"] and held["fused"]["ece"] < held[best]["ece"]
    chosen = "fused" if fused_wins else best
    cols, oof = candidates[chosen]
    weights, bias = fit_combiner(x[trainable][:, cols], labels[trainable], nonnegative=chosen == "fused")
    real_oof = oof[trainable & (labels == 0)]
    points = operating_points(real_oof)
    splices = np.array([not p.trainable for p in pictures])
    splice_rating = {"n": int(splices.sum()), "mean_p": round(float(oof[splices].mean()), 4) if splices.any() else None,
                     **{f"flagged_{k}": round(float(np.mean(oof[splices] >= t)), 4) for k, t in points.items()}}
    table = {
        "finding": FINDING,
        "combine": "logistic",
        "members": {MEMBERS[j]: round(float(w), 5) for j, w in zip(cols, weights)},
        "bias": round(float(bias), 5),
        "operating_points": points,
        "real_quantiles": [round(float(q), 5) for q in np.quantile(real_oof, np.linspace(0, 1, N_QUANTILES))],
        "held_out": {
            "groups": "generator", "n_groups": len(generator_folds(pictures)),
            "n_real": int((labels[trainable] == 0).sum()), "n_fake": int(labels[trainable].sum()),
            "chosen": chosen, **{k: held[chosen][k] for k in ("auc", "eer", "ece", "brier")},
            "best_member": best, **{f"best_member_{k}": held[best][k] for k in ("auc", "eer", "ece", "brier")},
            "candidates": held,
            "ciplab_splices": splice_rating,
        },
        "fitted_on": "../shared/data faces (StyleGAN2 + Unsplash reals, Stable Diffusion 2.1, UTKFace, RMFD, CIPLAB "
                     "reals) and cnndetection (8 generators, 20 real + 20 fake each); grouped cross-validation, one "
                     "group per generator with its paired reals (UTKFace reals dealt over the groups); CIPLAB "
                     "splices never fitted on; every member's score out of fold",
        "command": COMMAND,
    }
    columns = {name: oof for name, (_, oof) in candidates.items()}
    columns["chosen"] = oof
    report = {"per_generator": per_generator(pictures, labels, columns, points),
              "per_real_source": real_source_rates(pictures, oof, points), "chosen_oof": oof}
    return table, report


def real_source_rates(pictures: list[Picture], p: np.ndarray, points: dict[str, float]) -> dict[str, dict]:
    """Mean probability and false-alarm rates at the operating points, per real source: the check that the
    finding does not flag one kind of camera picture (a format or resolution it learned to distrust)."""
    out = {}
    for source in sorted({pic.source for pic in pictures if pic.label == 0}):
        mask = np.array([pic.source == source for pic in pictures])
        out[source] = {"n": int(mask.sum()), "mean_p": round(float(p[mask].mean()), 4),
                       **{f"flagged_{k}": round(float(np.mean(p[mask] >= t)), 4) for k, t in points.items()}}
    return out


def main(argv: list[str] | None = None) -> int:
    from dflab.train.synthetic_image_cnn import default_shared
    from dflab.train.synthetic_image_members import member_evidence

    parser = argparse.ArgumentParser(prog="python -m dflab.train.synthetic_image_finding",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--oof", type=Path, help="the CNN's out-of-fold scores (JSON; the CNN is not shipped)")
    parser.add_argument("--probe-oof", type=Path, help="the probe's out-of-fold scores (JSON)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dflab" / "synthetic_image_members.json",
                        help="where the older members' out-of-fold evidence is cached")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--report", type=Path, help="also write the held-out report (per generator, per real source)")
    args = parser.parse_args(argv)
    try:
        if args.out.exists() and not args.overwrite:
            raise UsageError(f"{args.out} already exists (use --overwrite)")
        for given, command in ((args.oof, "synthetic_image_cnn"), (args.probe_oof, "synthetic_image_probe")):
            if given is not None and not given.is_file():
                raise UsageError(f"{given} does not exist (run python -m dflab.train.{command} first)")
        pictures = development_set(args.shared)
        evidence = dict(member_evidence(pictures, args.shared, args.cache))
        if args.oof is not None:
            evidence["synthetic_image_cnn"] = cnn_evidence(pictures, args.oof, args.shared)
        if args.probe_oof is not None:
            evidence["synthetic_image_probe"] = probe_evidence(pictures, args.probe_oof, args.shared)
        table, report = fit_table(pictures, evidence)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from dflab.atomic import write_text_atomic

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(table, indent=1) + "\n")
    print(json.dumps(table["held_out"], indent=1))
    if args.report is not None:
        report.pop("chosen_oof")
        write_text_atomic(args.report, json.dumps({"command": COMMAND, "members": table["members"],
                                                   "operating_points": table["operating_points"],
                                                   "held_out": table["held_out"], **report}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
