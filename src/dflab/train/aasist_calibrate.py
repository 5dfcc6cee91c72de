"""Calibrate AASIST for cloned voices: a logistic head on its 160-d embedding, leave-one-speaker-out.

    python -m dflab.train.aasist_calibrate --data ../shared/data [--cache DIR] [--out PATH]

Rows are 4 s windows of every cloned_voices file after the common front end (real reference recordings and
Tortoise / Tacotron2 / NaturalSpeech renderings of the same voices, one MP3 round trip for all); folds are
voices, so no speaker is ever in both the fitted and the scored part. The L2 strength is chosen inside each
fold by an inner leave-one-speaker-out over the fitted speakers only. A file's score is the mean window
log-odds. The printed and stored figures are out-of-fold; the shipped head is then fitted on every speaker
with the strength the whole-set search picks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.audio.aasist_scoring import HEAD_WEIGHTS, VoiceHead, clip_log_odds, sigmoid
from dflab.eval.metrics import eer, expected_calibration_error, roc_auc
from dflab.train.voice_corpus import VoiceItem, aasist_outputs, cloned_voices

C_GRID = (0.01, 0.1, 1.0)
# Voices the shipped head never sees, so that tests can check it on speakers it was not fitted on. Chosen
# before any result by a fixed rule: every fourth voice, alphabetically, of those with at least 2 real
# recordings and 4 clones.
RESERVED_VOICES = ("angie", "myself", "train_dotrice")
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "dflab-voice-cache"


@dataclass
class WindowSet:
    features: np.ndarray  # (windows, 160)
    labels: np.ndarray  # per window
    groups: np.ndarray  # per window: the voice
    owner: np.ndarray  # per window: index of its file
    file_labels: np.ndarray
    file_groups: np.ndarray
    published: np.ndarray  # per file: the published output layer's mean log-odds


def window_set(items: list[VoiceItem], cache: str | Path) -> WindowSet:
    rows, labels, groups, owner, published = [], [], [], [], []
    for i, item in enumerate(items):
        out = aasist_outputs(item, cache)
        rows.append(out.embeddings)
        labels += [item.label] * len(out.embeddings)
        groups += [item.group] * len(out.embeddings)
        owner += [i] * len(out.embeddings)
        published.append(clip_log_odds(out.published_log_odds))
    return WindowSet(np.concatenate(rows), np.array(labels), np.array(groups), np.array(owner),
                     np.array([it.label for it in items]), np.array([it.group for it in items]),
                     np.array(published))  # fmt: skip


def fit_head(features: np.ndarray, labels: np.ndarray, c: float, meta: dict | None = None) -> VoiceHead:
    """Class-balanced L2 logistic regression on standardised embeddings."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit((features - mean) / scale, labels)
    return VoiceHead(mean, scale, model.coef_[0].copy(), float(model.intercept_[0]), meta or {})


def file_log_odds(head: VoiceHead, ws: WindowSet, files: np.ndarray) -> np.ndarray:
    return np.array([clip_log_odds(head.log_odds(ws.features[ws.owner == f])) for f in files])


def _loso_log_odds(ws: WindowSet, c: float, groups_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold file log-odds over the voices in groups_in (each voice scored by a head fitted without it)."""
    files = np.flatnonzero(np.isin(ws.file_groups, groups_in))
    scores = np.zeros(len(files))
    for group in np.unique(ws.file_groups[files]):
        train = np.isin(ws.groups, groups_in) & (ws.groups != group)
        if len(np.unique(ws.labels[train])) < 2:
            continue
        head = fit_head(ws.features[train], ws.labels[train], c)
        held = ws.file_groups[files] == group
        scores[held] = file_log_odds(head, ws, files[held])
    return files, scores


def choose_c(ws: WindowSet, groups_in: np.ndarray) -> float:
    """The L2 strength with the best leave-one-speaker-out AUC over groups_in (ties: the stronger penalty)."""
    best_c, best_auc = C_GRID[0], -1.0
    for c in C_GRID:
        files, scores = _loso_log_odds(ws, c, groups_in)
        auc = roc_auc(ws.file_labels[files], scores)
        if auc > best_auc + 1e-9:
            best_c, best_auc = c, auc
    return best_c


def nested_loso(ws: WindowSet) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold file log-odds for every file; L2 strength chosen per fold from the fitted speakers only."""
    scores = np.zeros(len(ws.file_labels))
    chosen = []
    all_groups = np.unique(ws.file_groups)
    for group in all_groups:
        inner = all_groups[all_groups != group]
        c = choose_c(ws, inner)
        chosen.append(c)
        train = ws.groups != group
        head = fit_head(ws.features[train], ws.labels[train], c)
        held = np.flatnonzero(ws.file_groups == group)
        scores[held] = file_log_odds(head, ws, held)
    return scores, chosen


def cached_nested_loso(items: list[VoiceItem], cache: str | Path) -> tuple[np.ndarray, list[float]]:
    """nested_loso over the items' window set, kept as JSON under `cache` (the finding fit and the benchmark
    reuse it; the inner searches are thousands of small fits)."""
    import hashlib
    import json

    key = hashlib.sha256(repr((C_GRID, [str(it.path) for it in items])).encode()).hexdigest()[:16]
    path = Path(cache) / f"aasist-oof-{key}.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return np.array(saved["log_odds"]), saved["chosen_c"]
    scores, chosen = nested_loso(window_set(items, cache))
    path.write_text(json.dumps({"log_odds": scores.tolist(), "chosen_c": chosen}))
    return scores, chosen


def metrics(labels: np.ndarray, probability: np.ndarray) -> dict:
    return {"auc": round(roc_auc(labels, probability), 4), "eer": round(eer(labels, probability)[0], 4),
            "ece": round(expected_calibration_error(labels, probability), 4)}  # fmt: skip


def platt_loso(log_odds: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Out-of-fold Platt scaling (one weight + bias) of a score, by group."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros(len(labels))
    for group in np.unique(groups):
        train = groups != group
        model = LogisticRegression(C=1e4, class_weight="balanced", max_iter=5000)
        model.fit(log_odds[train, None], labels[train])
        out[groups == group] = model.predict_proba(log_odds[groups == group, None])[:, 1]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.aasist_calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the shared data folder")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where AASIST window outputs are cached")
    parser.add_argument("--out", default=str(HEAD_WEIGHTS), help="where the head's weights are written")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    items = cloned_voices(args.data)
    ws = window_set(items, args.cache)
    oof, chosen = cached_nested_loso(items, args.cache)
    y = ws.file_labels
    clones = np.array([it.method == "tortoise_clone" or it.label == 0 for it in items])
    report = {
        "head_out_of_fold": metrics(y, sigmoid(oof)),
        "head_out_of_fold_tortoise_clones_only": metrics(y[clones], sigmoid(oof[clones])),
        "published_untuned_auc": round(roc_auc(y, ws.published), 4),
        "published_platt_out_of_fold": metrics(y, platt_loso(ws.published, y, ws.file_groups)),
    }
    shipped_groups = np.array([g for g in np.unique(ws.file_groups) if g not in RESERVED_VOICES])
    c = choose_c(ws, shipped_groups)
    fitted = np.isin(ws.groups, shipped_groups)
    fitted_files = np.isin(ws.file_groups, shipped_groups)
    meta = {"fitted_on": f"cloned_voices, {int((y[fitted_files] == 0).sum())} real / {int(y[fitted_files].sum())} "
                         f"synthetic files of {len(shipped_groups)} voices, {int(fitted.sum())} windows",
            "reserved_voices": list(RESERVED_VOICES), "l2_c": c, "folds_l2_c": sorted(set(chosen)),
            "leave_one_speaker_out": report,
            "command": "python -m dflab.train.aasist_calibrate --data ../shared/data"}  # fmt: skip
    head = fit_head(ws.features[fitted], ws.labels[fitted], c, meta)
    head.save(args.out)
    for name, values in report.items():
        print(f"{name:42s} {values}")
    print(f"wrote {args.out} (C = {c})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
