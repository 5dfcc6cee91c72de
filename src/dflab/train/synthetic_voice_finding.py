"""Fit the synthetic_voice finding's table: members aasist, synthetic_speech and speaker_match.

    python -m dflab.train.synthetic_voice_finding --data ../shared/data [--cache DIR]

Every cloned_voices file is scored twice, as a scan would see it without and with `--reference`: without,
speaker_match does not run (its feature is 0); with, the reference is another real recording of the same
voice (for a real file, the first other one; for a clone, the voice's first real recording; the one clone
whose voice has no real recording is left out of that situation). synthetic_speech and speaker_match are
the registered detectors run on the file; aasist's score is its out-of-fold probability from
dflab.train.aasist_calibrate (its head never saw the file's voice) with the detector's own confidence.

The combiner is a logistic regression on the findings layer's member features, fitted on both situations
together (one table serves both) with leave-one-speaker-out folds; every held-out figure is computed on
out-of-fold probabilities. The fused table ships only if, held out, it ranks at least as well as its best
single member (AUC) and is better calibrated (ECE); otherwise that member ships alone, Platt-scaled.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.eval.metrics import eer, expected_calibration_error, roc_auc
from dflab.train.voice_corpus import VoiceItem, aasist_outputs, cloned_voices

MEMBERS = ("aasist", "synthetic_speech", "speaker_match")
SITUATIONS = ("without_reference", "with_reference")
FINDING_FILE = Path(__file__).resolve().parents[1] / "detect" / "findings" / "synthetic_voice.json"
COMMAND = "python -m dflab.train.synthetic_voice_finding --data ../shared/data"
MEMBER_CACHE_VERSION = "v1"
COMBINER_C = 1.0  # mild L2: three features, ~250 rows


def member_feature(score: float, confidence: float) -> float:
    """The findings layer's feature: confidence x clipped logit of the score (0 when the member did not run)."""
    s = float(np.clip(score, 1e-6, 1 - 1e-6))
    return float(confidence * np.clip(np.log(s / (1 - s)), -6.0, 6.0))


def reference_for(index: int, items: list[VoiceItem]) -> Path | None:
    """Another real recording of the same voice (never the file itself), or None."""
    item = items[index]
    reals = sorted(it.path for it in items if it.label == 0 and it.group == item.group and it.path != item.path)
    return reals[0] if reals else None


def detector_evidence(items: list[VoiceItem], cache: str | Path) -> list[dict]:
    """Per file: synthetic_speech (score, confidence), speaker_match with its reference, aasist's gate.

    Cached as JSON beside the AASIST outputs (the detectors are deterministic)."""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.learned.aasist import confidence_for, voice_to_judge
    from dflab.detect.registry import create_detector
    from dflab.media import load

    path = Path(cache) / f"members-{MEMBER_CACHE_VERSION}.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    synthetic_speech = create_detector("synthetic_speech")
    for i, item in enumerate(items):
        key = str(item.path.resolve())
        if key in known:
            continue
        media = load(item.path)
        analysed = AnalysedMedia(media)
        speech = synthetic_speech.detect(analysed)
        clip, _ = voice_to_judge(media.audio.samples, media.audio.sample_rate)
        entry = {"synthetic_speech": [speech.score, speech.confidence],
                 "aasist_confidence": confidence_for(len(clip.samples) / 16_000) if clip is not None else 0.0}  # fmt: skip
        reference = reference_for(i, items) if item.dataset == "cloned_voices" else None
        if reference is not None:
            match = create_detector("speaker_match", reference=reference).detect(analysed)
            entry["speaker_match"] = [match.score, match.confidence]
            entry["reference"] = str(reference)
        known[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(known))
    return [known[str(it.path.resolve())] for it in items]


@dataclass
class Rows:
    features: np.ndarray  # (rows, members)
    labels: np.ndarray
    groups: np.ndarray
    situation: np.ndarray
    method: np.ndarray


def build_rows(items: list[VoiceItem], evidence: list[dict], aasist_probability: np.ndarray) -> Rows:
    features, labels, groups, situation, method = [], [], [], [], []
    for item, ev, p in zip(items, evidence, aasist_probability):
        base = {"aasist": member_feature(p, ev["aasist_confidence"]),
                "synthetic_speech": member_feature(*ev["synthetic_speech"]), "speaker_match": 0.0}  # fmt: skip
        cases = [("without_reference", base)]
        if "speaker_match" in ev:
            cases.append(("with_reference", {**base, "speaker_match": member_feature(*ev["speaker_match"])}))
        for name, values in cases:
            features.append([values[m] for m in MEMBERS])
            labels.append(item.label)
            groups.append(item.group)
            situation.append(name)
            method.append(item.method)
    return Rows(np.array(features), np.array(labels), np.array(groups), np.array(situation), np.array(method))


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = COMBINER_C) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression with non-negative member weights (the bias is free).

    Balanced, so that a fold's bias does not depend on how many clones or reals the held-out voice happens
    to have (with leave-one-speaker-out folds that would rank the held-out voice's files against the
    others for the wrong reason), and so that p is calibrated for even odds. Non-negative, because a
    member may only push towards "synthetic" when it says synthetic: a negative weight would turn a
    detector's blind spot on these clones (synthetic_speech calls them natural) into a rule that misfires
    on the classic TTS it does catch."""
    from scipy.optimize import minimize

    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9)) / len(y)

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        value = np.sum(weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 * (w @ w) / (c * len(y))
        grad_z = weight * (1.0 / (1.0 + np.exp(-z)) - y)
        return value, np.r_[x.T @ grad_z + w / (c * len(y)), grad_z.sum()]

    bounds = [(0.0, None)] * x.shape[1] + [(None, None)]
    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x[:-1].copy(), float(result.x[-1])


def grouped_out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = COMBINER_C) -> np.ndarray:
    out = np.zeros(len(y))
    for group in np.unique(groups):
        held = groups == group
        w, b = fit_logistic(x[~held], y[~held], c)
        out[held] = 1.0 / (1.0 + np.exp(-(x[held] @ w + b)))
    return out


def figures(y: np.ndarray, p: np.ndarray) -> dict:
    return {"n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()), "auc": round(roc_auc(y, p), 4),
            "eer": round(eer(y, p)[0], 4), "ece": round(expected_calibration_error(y, p), 4)}  # fmt: skip


def held_out_report(rows: Rows, p_fused: np.ndarray, p_members: dict[str, np.ndarray]) -> dict:
    """Figures per situation (and over both), for the fused finding and each member alone."""
    report = {}
    masks = {"both": np.ones(len(rows.labels), bool), **{s: rows.situation == s for s in SITUATIONS}}
    clones = (rows.labels == 0) | (rows.method == "tortoise_clone")
    for name, mask in masks.items():
        entry = {"fused": figures(rows.labels[mask], p_fused[mask])}
        entry.update({m: figures(rows.labels[mask], p[mask]) for m, p in p_members.items()})
        clone_mask = mask & clones
        entry["fused_tortoise_clones_only"] = figures(rows.labels[clone_mask], p_fused[clone_mask])
        report[name] = entry
    return report


def fit_table(rows: Rows) -> tuple[dict, dict]:
    """(the finding table, the held-out report behind it)."""
    y, groups = rows.labels, rows.groups
    p_fused = grouped_out_of_fold(rows.features, y, groups)
    p_members = {m: grouped_out_of_fold(rows.features[:, [k]], y, groups, c=1e4) for k, m in enumerate(MEMBERS)}
    report = held_out_report(rows, p_fused, p_members)
    both = report["both"]
    best = max(MEMBERS, key=lambda m: (both[m]["auc"], -both[m]["ece"]))
    fused_ships = both["fused"]["auc"] >= both[best]["auc"] and both["fused"]["ece"] < both[best]["ece"]
    if fused_ships:
        w, b = fit_logistic(rows.features, y)
        members, p_ship = {m: round(float(v), 4) for m, v in zip(MEMBERS, w)}, p_fused
    else:
        k = MEMBERS.index(best)
        w, b = fit_logistic(rows.features[:, [k]], y, c=1e4)
        members, p_ship = {best: round(float(w[0]), 4)}, p_members[best]
    reals = p_ship[y == 0]
    table = {
        "finding": "synthetic_voice",
        "members": members,
        "bias": round(b, 4),
        "operating_points": {"manipulated": round(float(np.quantile(reals, 0.99)), 4),
                             "suspicious": round(float(np.quantile(reals, 0.95)), 4)},  # fmt: skip
        "held_out": {"groups": "speaker", **figures(y, p_ship), "best_member": best,
                     "best_member_auc": both[best]["auc"], "best_member_eer": both[best]["eer"],
                     "best_member_ece": both[best]["ece"], "shipped": "fused" if fused_ships else f"{best} alone",
                     "by_situation": {s: {"shipped": figures(y[rows.situation == s], p_ship[rows.situation == s]),
                                          **{m: report[s][m] for m in MEMBERS}} for s in SITUATIONS}},  # fmt: skip
        "fitted_on": ("cloned_voices (real reference recordings and Tortoise clones of the same voices, plus "
                      "Tacotron2/NaturalSpeech renderings), each file without and with a reference recording of "
                      "its voice; leave-one-speaker-out folds, out-of-fold member scores"),  # fmt: skip
        "command": COMMAND,
    }
    return table, report


def aasist_out_of_fold(items: list[VoiceItem], cache: str | Path) -> np.ndarray:
    from dflab.audio.aasist_scoring import sigmoid
    from dflab.train.aasist_calibrate import cached_nested_loso

    scores, _ = cached_nested_loso(items, cache)
    return sigmoid(scores)


def main(argv: list[str] | None = None) -> int:
    from dflab.train.aasist_calibrate import DEFAULT_CACHE

    parser = argparse.ArgumentParser(prog="python -m dflab.train.synthetic_voice_finding", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where AASIST outputs and member scores are cached")
    parser.add_argument("--out", default=str(FINDING_FILE), help="where the finding table is written")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    items = cloned_voices(args.data)
    for item in items:
        aasist_outputs(item, args.cache)
    rows = build_rows(items, detector_evidence(items, args.cache), aasist_out_of_fold(items, args.cache))
    table, report = fit_table(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(table, indent=1) + "\n")
    for situation, entry in report.items():
        for name, values in entry.items():
            print(f"{situation:18s} {name:28s} auc {values['auc']:.3f} eer {values['eer']:.3f} ece {values['ece']:.3f}")
    print(f"shipped: {table['held_out']['shipped']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
