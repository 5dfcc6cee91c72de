"""A small CNN on the synthetic-speech windows' time-frequency maps, held out by speaker (an experiment).

The ASVspoof baseline beside LFCC statistics is a light CNN (LCNN: convolutions with max-feature-map
activations) on LFCC or log-linear spectrogram maps. This is a small one of that kind, fitted per fold on the
same 4 s windows, rows and file weighting as the logistic model (dflab.train.synthetic_voice_loso): rows are
drawn with probability proportional to their weight (every file once, both classes alike, cloned_voices files
x10), so the loss itself is unweighted. A window is read as random 2 s crops while training and whole when
scored; a file's probability is the mean over its windows. One torch thread.

    python -m dflab.train.voice_map_cnn --map fbank --k 6 [--texts-unseen] [--out results.json]

The maps come from dflab.train.voice_window_maps. Folds are grouped k-fold by voice (grouped_k_folds), and the
logistic model on the LFCC statistics is scored on the same k folds for a fair comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dflab.train.synthetic_voice_loso import (Rows, build_rows, file_means, fold_splits, grouped_k_folds,
                                              loso_report, out_of_fold_windows, row_weights)  # fmt: skip
from dflab.train.voice_clone_data import versions_of

CROP = 200  # frames (2 s) per training crop
DEFAULT_CNN_CACHE = Path("/tmp/dflab-voice-cnn")


def map_rows(items, kind: str, cache=None) -> tuple[list[np.ndarray], Rows]:
    """Every window's map (frames x 60) in the logistic model's row order, with its owners."""
    from dflab.train.voice_window_maps import DEFAULT_MAP_CACHE, maps_of

    maps, owners, originals = [], [], []
    for i, item in enumerate(items):
        for version in versions_of(item):
            m = maps_of(item, version, cache or DEFAULT_MAP_CACHE)[kind]
            maps += [x.astype(np.float32) for x in m]
            owners += [i] * len(m)
            originals += [version == "original"] * len(m)
    return maps, Rows(np.zeros((len(maps), 0)), np.array(owners), np.array(originals))


def _network(n_bins: int = 60):
    import torch
    from torch import nn

    class MFM(nn.Module):
        """Max-feature-map: the larger of two halves of the channels (LCNN's activation)."""

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            return torch.maximum(a, b)

    class LCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(1, 16, 5, padding=2), MFM(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 1), MFM(), nn.BatchNorm2d(8),
                nn.Conv2d(8, 32, 3, padding=1), MFM(), nn.MaxPool2d(2), nn.BatchNorm2d(16),
                nn.Conv2d(16, 32, 1), MFM(), nn.BatchNorm2d(16),
                nn.Conv2d(16, 48, 3, padding=1), MFM(), nn.MaxPool2d(2), nn.BatchNorm2d(24),
                nn.Conv2d(24, 32, 3, padding=1), MFM(),
            )  # fmt: skip
            self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(16 * (n_bins // 8), 1))

        def forward(self, x):  # x: batch x frames x bins
            h = self.body(x.transpose(1, 2).unsqueeze(1))  # batch x 16 x bins/8 x frames/8
            return self.head(h.mean(dim=3).flatten(1)).squeeze(1)  # mean over time: any length scores

    return LCNN()


def _crop(m: np.ndarray, rng: np.random.Generator, size: int = CROP) -> np.ndarray:
    if len(m) < size:
        return np.pad(m, ((0, size - len(m)), (0, 0)), mode="wrap")
    start = rng.integers(0, len(m) - size + 1)
    return m[start : start + size]


def fit_cnn(maps, y, w, train_idx, steps: int, seed: int = 0, batch: int = 32):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    stack = np.concatenate([maps[i] for i in train_idx])
    mean, scale = stack.mean(axis=0), stack.std(axis=0) + 1e-3
    net = _network(maps[0].shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    p = w[train_idx] / w[train_idx].sum()
    net.train()
    for step in range(steps):
        pick = rng.choice(train_idx, size=batch, p=p)
        x = torch.from_numpy(np.stack([(_crop(maps[i], rng) - mean) / scale for i in pick]).astype(np.float32))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), torch.from_numpy(y[pick].astype(np.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net, mean, scale


def score_cnn(model, maps, idx) -> np.ndarray:
    import torch

    net, mean, scale = model
    out = np.empty(len(idx))
    with torch.no_grad():
        for j, i in enumerate(idx):
            x = torch.from_numpy(((maps[i] - mean) / scale).astype(np.float32))[None]
            out[j] = float(torch.sigmoid(net(x))[0])
    return out


def out_of_fold_cnn(items, maps, rows: Rows, folds: dict[str, int], steps: int, cloned_weight: float = 10.0,
                    unseen_text: bool = False, log=print, cache: Path | None = None) -> np.ndarray:
    """Each original window's probability from the CNN fitted without its fold (NaN for codec re-encodings).
    With `cache` (a .npy path), read from there when present and written there when computed: the folds are
    deterministic (seeded, one thread) and cost minutes of CPU each."""
    if cache is not None and cache.exists():
        return np.load(cache)
    trains = np.array([items[o].trains for o in rows.owner])
    y = np.array([items[o].label for o in rows.owner])
    out = np.full(len(rows.owner), np.nan)
    for k, train, held_out in fold_splits(items, rows, folds, trains, unseen_text):
        w = row_weights(items, rows, train, cloned_weight)
        t0 = time.process_time()
        model = fit_cnn(maps, y, w, np.flatnonzero(train), steps, seed=k)
        scored = np.flatnonzero(held_out)
        out[scored] = score_cnn(model, maps, scored)
        log(f"fold {k}: {train.sum()} training rows, {len(scored)} scored, {time.process_time() - t0:.0f} s CPU")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, out)
    return out


def cnn_cache_path(kind: str, k: int, steps: int, cloned_weight: float, unseen_text: bool,
                   root: Path = DEFAULT_CNN_CACHE) -> Path:
    return root / f"{kind}-k{k}-steps{steps}-w{cloned_weight:g}{'-texts-unseen' if unseen_text else ''}-crop{CROP}.npy"


def summary(report: dict) -> dict:
    fl = report["flagged"]
    return {"clones_auc": report["tortoise_clones"]["auc"], "clones_eer": report["tortoise_clones"]["eer"],
            "all_fakes_auc": report["cloned_voices"]["auc"], "all_fakes_eer": report["cloned_voices"]["eer"],
            "ece": report["cloned_voices"]["ece"], "libri_flagged": fl["librispeech"]["real_suspicious"],
            "lp_flagged": fl["liveportrait"]["real_suspicious"],
            "cloned_reals_flagged": fl["cloned_voices"]["real_suspicious"]}  # fmt: skip


def main(argv=None) -> int:
    import torch

    from dflab.train.voice_clone_data import corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--map", choices=("fbank", "lfcc"), default="fbank")
    parser.add_argument("--k", type=int, default=6, help="grouped folds by voice")
    parser.add_argument("--steps", type=int, default=600, help="training batches of 32 crops per fold")
    parser.add_argument("--texts-unseen", action="store_true")
    parser.add_argument("--out", default=None, help="write the figures and out-of-fold scores here (JSON)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    items = corpus(args.data)
    folds = grouped_k_folds(items, args.k)
    maps, rows = map_rows(items, args.map)
    lfcc_rows = build_rows(items, "lfcc")
    if not np.array_equal(lfcc_rows.owner, rows.owner):
        raise SystemExit("the maps' windows are not the LFCC rows' windows")
    results = {}
    for label, window_p, r in (
        ("lfcc logistic (shipped configuration)", out_of_fold_windows(items, lfcc_rows, 0.05, 10.0, True,
                                                                     args.texts_unseen, folds), lfcc_rows),
        (f"cnn on {args.map}", out_of_fold_cnn(items, maps, rows, folds, args.steps, 10.0, args.texts_unseen,
                                                   cache=cnn_cache_path(args.map, args.k, args.steps, 10.0,
                                                                        args.texts_unseen)), rows),
    ):  # fmt: skip
        p = file_means(items, r.owner[r.original], window_p[r.original])
        report = loso_report(items, p)
        results[label] = {**summary(report), "p": [round(float(v), 4) for v in p], "out_of_fold": {f"{items[i].path.parent.name}/{items[i].path.name}":
                                                             round(float(v), 4) for i, v in enumerate(p)}}
        print(label, json.dumps(summary(report)), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"k": args.k, "map": args.map, "steps": args.steps, "texts_unseen": args.texts_unseen,
                       "results": results}, f, indent=1)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
