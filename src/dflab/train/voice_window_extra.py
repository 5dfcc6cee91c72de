"""Further window features beside the LFCC statistics, held out by speaker (an experiment).

On the logistic model's own rows, folds (leave one speaker out) and weighting (dflab.train.synthetic_voice_loso),
from the cached maps of dflab.train.voice_window_maps:

- "ge2e": resemblyzer's GE2E speaker embedding of the window (256) and how much its 1.6 s partials spread (1).
  A zero-shot clone reproduces a voice from a few seconds of it; its embedding may sit in a region of the
  speaker space, or move less within a window, in a way real speech does not;
- "pct": the 10th, 50th and 90th percentiles of the 60 LFCC dims over the speech frames (finer statistics than
  mean and spread);
- "lfcc60": 30 cepstra (with deltas and delta-deltas) from 60 linear filters instead of 20, mean and spread
  (finer frequency resolution in the high band, where vocoders leave traces);
- "ltas": the long-term average of the 60 log filter energies and their spread (the window's spectrum itself);
- "gd": modified group delay cepstra (20 with deltas and delta-deltas, mean and spread): the phase spectrum,
  which LFCCs discard and a vocoder has to invent.

    python -m dflab.train.voice_window_extra [--texts-unseen] [--out results.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from dflab.train.synthetic_voice_loso import Rows, build_rows, file_means, loso_report, out_of_fold_windows
from dflab.train.voice_clone_data import versions_of
from dflab.train.voice_map_cnn import summary


def _deltas(x):
    from dflab.audio.lfcc import deltas

    d1 = deltas(x)
    return np.concatenate([x, d1, deltas(d1)], axis=1)


def block_rows(items, cache=None) -> dict[str, np.ndarray]:
    """Each extra block for every row (file, codec version, window), in build_rows' order."""
    from scipy.fft import dct

    from dflab.train.voice_window_maps import DEFAULT_MAP_CACHE, group_delay_rows, maps_of

    out: dict[str, list] = {"ge2e": [], "pct": [], "lfcc60": [], "ltas": [], "gd": []}
    for item in items:
        for version in versions_of(item):
            m = maps_of(item, version, cache or DEFAULT_MAP_CACHE)
            out["gd"] += list(group_delay_rows(item, version, cache or DEFAULT_MAP_CACHE))
            for lf, fb, active, emb, spread in zip(m["lfcc"], m["fbank"], m["active"], m["ge2e"], m["ge2e_spread"]):
                lf, fb = lf.astype(np.float64)[active], fb.astype(np.float64)
                out["ge2e"].append(np.append(emb, spread))
                out["pct"].append(np.percentile(lf, [10, 50, 90], axis=0).reshape(-1))
                ceps = _deltas(dct(fb, type=2, axis=1, norm="ortho")[:, :30])[active]
                out["lfcc60"].append(np.concatenate([ceps.mean(axis=0), ceps.std(axis=0)]))
                out["ltas"].append(np.concatenate([fb[active].mean(axis=0), fb[active].std(axis=0)]))
    return {k: np.stack(v) for k, v in out.items()}


# (label, blocks beside nothing / "lfcc", C, use the old corpus)
CANDIDATES = [
    ("lfcc (shipped)", ("lfcc",), 0.05, True),
    ("ge2e alone", ("ge2e",), 0.05, True),
    ("lfcc + ge2e", ("lfcc", "ge2e"), 0.05, True),
    ("lfcc + ge2e, C=0.01", ("lfcc", "ge2e"), 0.01, True),
    ("lfcc + percentiles", ("lfcc", "pct"), 0.05, True),
    ("lfcc60 (60 filters, 30 cepstra)", ("lfcc60",), 0.05, True),
    ("lfcc + lfcc60", ("lfcc", "lfcc60"), 0.05, True),
    ("lfcc + ltas", ("lfcc", "ltas"), 0.05, True),
    ("group delay alone", ("gd",), 0.05, True),
    ("lfcc + group delay", ("lfcc", "gd"), 0.05, True),
]


def main(argv=None) -> int:
    import torch

    from dflab.train.voice_clone_data import corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--texts-unseen", action="store_true")
    parser.add_argument("--only", nargs="*", help="labels of the candidates to run (default all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    items = corpus(args.data)
    lfcc = build_rows(items, "lfcc")
    blocks = {"lfcc": lfcc.x, **block_rows(items)}
    results = {}
    for label, names, c, use_old in CANDIDATES:
        if args.only and label not in args.only:
            continue
        rows = Rows(np.concatenate([blocks[b] for b in names], axis=1), lfcc.owner, lfcc.original)
        wp = out_of_fold_windows(items, rows, c, 10.0, use_old, args.texts_unseen)
        p = file_means(items, rows.owner[rows.original], wp[rows.original])
        report = loso_report(items, p)
        results[label] = {**summary(report), "p": [round(float(v), 4) for v in p], "out_of_fold": {f"{items[i].path.parent.name}/{items[i].path.name}":
                                                             round(float(v), 4) for i, v in enumerate(p)}}
        print(f"{label:36s}", json.dumps(summary(report)), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"texts_unseen": args.texts_unseen, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
