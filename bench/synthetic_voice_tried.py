"""Beside the LFCC statistics: a small CNN on the windows' maps, speaker embeddings, finer statistics (held out by speaker).

    PYTHONPATH=src .venv/bin/python bench/synthetic_voice_tried.py [--steps 400] [--k 6] [--cnn-texts-unseen]

Same development files, front end, 4 s windows, file weighting (cloned_voices x10 beside the classic set) and
figures as bench/synthetic_voice.py (flagged: real files at or above the line 5 % of all real development files
reach out of fold). The window maps and speaker embeddings come from dflab.train.voice_window_maps (cached under
/tmp/dflab-voice-maps; the first run takes about 4 minutes of CPU).

1. Logistic models, leave one speaker out (the model card's folds): the shipped LFCC statistics beside GE2E
   speaker embeddings (resemblyzer), LFCC percentiles, LFCC from 60 filters, the long-term average spectrum
   (dflab.train.voice_window_extra); the ones that look better on some figure again with the texts the held-out
   voice says held out too. Because every candidate is compared on the same folds, the Tortoise clone EER is
   also given on two halves of the voices (A: the even places in the sorted voice list, B: the odd ones):
   a candidate chosen on A must also be better on B.
2. A small LCNN on log-linear filter-bank maps and on LFCC maps (dflab.train.voice_map_cnn), grouped k-fold by
   voice (a fit per voice would take hours of CPU here), with the LFCC logistic model on the same k folds beside
   it, and a late fusion of the logistic model with each CNN (window log-odds averaged). The CNN's out-of-fold window scores are cached
   under /tmp/dflab-voice-cnn (deterministic: seeded, one thread); about 9 minutes of CPU per kind of map.
3. Scan-time cost, CPU (user + system) on one thread per 10 s of speech: front end + LFCC statistics, and the
   maps + the CNN forward pass on top of the front end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402

COLUMNS = ["model", "folds", "clones_auc", "clones_eer", "half_a_eer", "half_b_eer", "all_fakes_auc", "all_fakes_eer",
           "ece", "libri_flagged", "lp_flagged", "cloned_reals_flagged"]  # fmt: skip
TEXTS_UNSEEN_TOO = ("lfcc (shipped)", "lfcc + percentiles", "lfcc60 (60 filters, 30 cepstra)")


def halves(items, p) -> dict[str, float]:
    """Tortoise clone EER on each half of the cloned_voices voices (A: even places sorted by name, B: odd)."""
    from dflab.eval.metrics import eer

    voices = sorted({it.group for it in items if it.dataset == "cloned_voices"})
    half = {v: "ab"[j % 2] for j, v in enumerate(voices)}
    out = {}
    for h in "ab":
        sel = [i for i, it in enumerate(items) if it.dataset == "cloned_voices" and half[it.group] == h
               and (it.label == 0 or it.method == "tortoise_clone")]  # fmt: skip
        out[f"half_{h}_eer"] = round(float(eer(np.array([items[i].label for i in sel]), p[sel])[0]), 4)
    return out


def row(items, label, folds, p) -> tuple[dict, dict]:
    from dflab.train.synthetic_voice_loso import loso_report
    from dflab.train.voice_map_cnn import summary

    report = loso_report(items, p)
    detail = {**report, "out_of_fold": {f"{items[i].path.parent.name}/{items[i].path.name}": round(float(v), 4)
                                        for i, v in enumerate(p) if items[i].dataset == "cloned_voices"}}  # fmt: skip
    return {"model": label, "folds": folds, **summary(report), **halves(items, p)}, detail


def logistic_rows(items, lfcc, blocks) -> tuple[list[dict], dict]:
    from dflab.train.synthetic_voice_loso import Rows, file_means, out_of_fold_windows
    from dflab.train.voice_window_extra import CANDIDATES

    rows, details = [], {}
    runs = [(label, names, c, False) for label, names, c, _ in CANDIDATES]
    runs += [(label, names, c, True) for label, names, c, _ in CANDIDATES if label in TEXTS_UNSEEN_TOO]
    for label, names, c, unseen_text in runs:
        x = Rows(np.concatenate([blocks[b] for b in names], axis=1), lfcc.owner, lfcc.original)
        wp = out_of_fold_windows(items, x, c, 10.0, True, unseen_text)
        full = label + (", texts also unseen" if unseen_text else "")
        r, details[full] = row(items, full, "one per voice", file_means(items, x.owner[x.original], wp[x.original]))
        rows.append(r)
        print(f"  {full}: clones EER {100 * r['clones_eer']:.1f} %", flush=True)
    return rows, details


def cnn_rows(items, lfcc, k: int, steps: int, kinds: list[str], texts_unseen: bool) -> tuple[list[dict], dict]:
    """The LFCC logistic model and the CNN on each kind of map on the same k folds, and a late fusion of the
    logistic model with each CNN (the mean of their window log-odds, equal weights)."""
    from dflab.train.synthetic_voice_loso import file_means, grouped_k_folds, late_fusion, out_of_fold_windows
    from dflab.train.voice_map_cnn import cnn_cache_path, map_rows, out_of_fold_cnn

    folds = grouped_k_folds(items, k)
    out, details = [], {}

    def add(label, p):
        r, details[label] = row(items, label, f"{k} by voice", p)
        out.append(r)

    for unseen_text in (False, True) if texts_unseen else (False,):
        tag = ", texts also unseen" if unseen_text else ""
        wp_lfcc = out_of_fold_windows(items, lfcc, 0.05, 10.0, True, unseen_text, folds)
        add(f"lfcc logistic (shipped configuration){tag}",
            file_means(items, lfcc.owner[lfcc.original], wp_lfcc[lfcc.original]))
        scored = []
        for kind in kinds:
            maps, rows_ = map_rows(items, kind)
            if not np.array_equal(rows_.owner, lfcc.owner):
                raise SystemExit("the maps' windows are not the LFCC rows' windows")
            wp = out_of_fold_cnn(items, maps, rows_, folds, steps, 10.0, unseen_text,
                                 log=lambda m: print("  " + m, flush=True),
                                 cache=cnn_cache_path(kind, k, steps, 10.0, unseen_text))  # fmt: skip
            del maps
            scored.append((kind, rows_, wp))
            add(f"LCNN on {MAP_NAMES[kind]} ({steps} batches of 32 crops){tag}",
                file_means(items, rows_.owner[rows_.original], wp[rows_.original]))
        for kind, rows_, wp in scored:
            add(f"late fusion: lfcc logistic + LCNN on {MAP_NAMES[kind]}{tag}",
                late_fusion(items, [(lfcc, wp_lfcc), (rows_, wp)]))
    return out, details


MAP_NAMES = {"fbank": "log-linear filter-bank maps", "lfcc": "LFCC maps"}


def scan_cost(data: Path) -> dict:
    """CPU seconds (one thread) per 10 s of speech on three LibriSpeech utterances, each step measured alone."""
    import torch

    from dflab.audio.voice_features import window_features
    from dflab.audio.voice_frontend import harmonise
    from dflab.media import load_audio
    from dflab.train.voice_map_cnn import _network
    from dflab.train.voice_window_maps import window_maps

    torch.set_num_threads(1)
    clips = sorted((data / "librispeech").glob("*/*.flac"))[:3]
    net = _network(60).eval()
    totals = {"front_end": 0.0, "lfcc_statistics": 0.0, "maps_and_cnn": 0.0}
    seconds = 0.0
    for clip in clips:
        samples = load_audio(clip).samples
        seconds += len(samples) / 16_000
        t = time.process_time()
        h = harmonise(samples, 16_000).samples
        totals["front_end"] += time.process_time() - t
        t = time.process_time()
        window_features(h, "lfcc")
        totals["lfcc_statistics"] += time.process_time() - t
        t = time.process_time()
        with torch.no_grad():
            for m in window_maps(h, with_embedding=False)["fbank"]:
                net(torch.from_numpy(m.astype(np.float32))[None])
        totals["maps_and_cnn"] += time.process_time() - t
    per10 = {k: round(10 * v / seconds, 3) for k, v in totals.items()}
    return {"clips": len(clips), "speech_s": round(seconds, 1), "cpu_s_per_10s": per10}


def main() -> int:
    import os

    import torch

    from dflab.train.synthetic_voice_loso import build_rows
    from dflab.train.voice_clone_data import corpus
    from dflab.train.voice_window_extra import block_rows

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=6, help="grouped folds by voice for the CNN")
    parser.add_argument("--steps", type=int, default=400, help="CNN training batches per fold")
    parser.add_argument("--cnn-texts-unseen", action="store_true", help="also fit the CNN with the texts held out")
    parser.add_argument("--maps", nargs="+", choices=sorted(MAP_NAMES), default=["fbank", "lfcc"],
                        help="which maps the CNN reads (one CNN per kind)")
    parser.add_argument("--skip-cnn", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = require_shared_data()
    start = time.perf_counter()
    items = corpus(data)
    lfcc = build_rows(items, "lfcc")
    blocks = {"lfcc": lfcc.x, **block_rows(items)}
    print("logistic models, leave one speaker out:", flush=True)
    logistic, logistic_detail = logistic_rows(items, lfcc, blocks)
    print_table(logistic, COLUMNS)
    cnn, cnn_detail = [], {}
    if not args.skip_cnn:
        print(f"\nLCNN beside the LFCC logistic model, {args.k} grouped folds by voice:", flush=True)
        cnn, cnn_detail = cnn_rows(items, lfcc, args.k, args.steps, args.maps, args.cnn_texts_unseen)
        print_table(cnn, COLUMNS)
    cost = scan_cost(data)
    print(f"\nscan-time CPU per 10 s of speech, one thread ({cost['clips']} LibriSpeech clips, load average "
          f"{os.getloadavg()[0]:.1f}): {cost['cpu_s_per_10s']}")
    write_results("synthetic_voice_tried", {"logistic": logistic, "cnn": cnn, "cost": cost,
                                            "load_average": round(os.getloadavg()[0], 1),
                                            "logistic_detail": logistic_detail, "cnn_detail": cnn_detail,
                                            "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
