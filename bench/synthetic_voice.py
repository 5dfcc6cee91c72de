"""Cloned voices of unseen speakers: leave-one-speaker-out figures of the synthetic-speech detector.

    PYTHONPATH=src .venv/bin/python bench/synthetic_voice.py [--cache DIR] [--quick]

Every file (cloned_voices, ljspeech_tts, LibriSpeech, LivePortrait speech) goes through the scan's front end
(16 kHz mono, silence trimmed, one loudness, one MP3 round trip at 32 kbit/s) and is cut into equal 4 s windows.

1. Confounds: for each trivial property of the cloned_voices files (duration, loudness, silence at either end,
   99 % spectral roll-off, noise floor, source sample rate), the AUC with which it alone separates the clones
   from the real recordings, on the raw file and after the front end. A property far from 0.5 after the front
   end is something a model could learn instead of the voice.
2. Leave-one-speaker-out (dflab.train.synthetic_voice_loso): per feature set and training choice, AUC / EER /
   ECE on cloned_voices (every rendering; Tortoise clones only), on the classic TTS set, and how many real files
   outside cloned_voices (LibriSpeech, LivePortrait) pass the operating points placed at 1 % / 5 % of all real
   files' out-of-fold scores.
3. The shipped weights scored through the detector's own path: on the three voices they were not fitted on
   (held out), on every cloned_voices file (in-sample for the other voices: a check of the runtime path only),
   and on the LivePortrait clips.
3b. AASIST-L beside LFCC (dflab.train.aasist_window_cache: the published network on one window in four of
   every file as it is): AASIST alone (its published output, and a logistic head on its embedding), LFCC and
   AASIST side by side in one logistic model, and a late fusion of the LFCC and AASIST models' window scores;
   the same folds, figures and 5 % line as 2.
   (A small CNN on the windows' maps, speaker embeddings and finer statistics beside LFCC: bench/synthetic_voice_tried.py.)
4. The shipped synthetic_voice finding table's held-out figures (fitted by dflab.train.synthetic_voice_finding
   from out-of-fold scores): the shipped combiner beside its best member and the fused combiner.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, require_shared_data, write_results  # noqa: E402

CONFOUND_COLUMNS = ["property", "real_median", "clone_median", "auc_raw", "auc_after_front_end"]
LOSO_COLUMNS = ["features", "training", "c", "clones_auc", "clones_eer", "all_fakes_auc", "all_fakes_eer", "ece",
                "tts_eer", "libri_flagged", "lp_flagged"]
# (feature set, C, cloned weight, use the old corpus, also hold out the texts the held-out voice says)
CANDIDATES = [
    ("lfcc", 0.05, 10.0, True, False),  # shipped
    ("lfcc", 0.05, 3.0, True, False),
    ("lfcc", 0.05, 3.0, False, False),
    ("lfcc", 0.15, 3.0, False, False),
    ("lfcc+band", 0.05, 3.0, True, False),
    ("lfcc+band", 0.05, 3.0, False, False),
    ("band+modulation", 0.05, 3.0, True, False),
    ("lfcc+band+modulation", 0.05, 3.0, True, False),
    ("lfcc+band+modulation", 0.05, 3.0, False, False),
    ("lfcc", 0.05, 3.0, True, True),
    ("lfcc", 0.05, 3.0, False, True),
]


def auc_either_way(labels, values) -> float:
    from dflab.eval.metrics import roc_auc

    a = float(roc_auc(labels, values))
    return round(max(a, 1 - a), 3)


def confound_rows(items, cache) -> list[dict]:
    from dflab.train.voice_clone_data import featurised

    cloned = [it for it in items if it.dataset == "cloned_voices"]
    y = np.array([it.label for it in cloned])
    entries = [featurised(it, "original", cache) for it in cloned]
    rows = []
    for prop in ("duration_s", "loudness_db", "leading_silence_s", "trailing_silence_s", "rolloff_99_hz",
                 "noise_floor_db"):  # fmt: skip
        raw = np.array([float(e[f"raw_{prop}"]) for e in entries])
        after = np.array([float(e[f"after_{prop}"]) for e in entries])
        rows.append({"property": prop, "real_median": round(float(np.median(raw[y == 0])), 2),
                     "clone_median": round(float(np.median(raw[y == 1])), 2), "auc_raw": auc_either_way(y, raw),
                     "auc_after_front_end": auc_either_way(y, after)})  # fmt: skip
    rate = np.array([float(e["source_rate"]) for e in entries])
    rows.append({"property": "source_sample_rate", "real_median": float(np.median(rate[y == 0])),
                 "clone_median": float(np.median(rate[y == 1])), "auc_raw": auc_either_way(y, rate),
                 "auc_after_front_end": 0.5})  # fmt: skip
    return rows


def loso_rows(items, cache, candidates) -> tuple[list[dict], dict]:
    from dflab.train.synthetic_voice_loso import build_rows, loso_report, out_of_fold

    rows, reports, built = [], {}, {}
    for features, c, cloned_weight, use_old, unseen_text in candidates:
        if features not in built:
            built[features] = build_rows(items, features, cache)
        p = out_of_fold(items, built[features], c=c, cloned_weight=cloned_weight, use_old=use_old,
                        unseen_text=unseen_text)
        report = loso_report(items, p)
        training = (("old+cloned" if use_old else "cloned only") + f" (cloned x{cloned_weight:g})"
                    + (", texts unseen" if unseen_text else ""))
        key = f"{features} | {training} | C={c:g}"
        reports[key] = {**report, "out_of_fold": {f"{items[i].path.parent.name}/{items[i].path.name}": round(float(v), 4)
                                                   for i, v in enumerate(p) if items[i].dataset == "cloned_voices"}}
        fl = report["flagged"]
        rows.append({"features": features, "training": training, "c": c,
                     "clones_auc": report["tortoise_clones"]["auc"], "clones_eer": report["tortoise_clones"]["eer"],
                     "all_fakes_auc": report["cloned_voices"]["auc"], "all_fakes_eer": report["cloned_voices"]["eer"],
                     "ece": report["cloned_voices"]["ece"], "tts_eer": report["ljspeech_tts+librispeech"]["eer"],
                     "libri_flagged": fl["librispeech"]["real_suspicious"],
                     "lp_flagged": fl["liveportrait"]["real_suspicious"]})  # fmt: skip
    return rows, reports


# (label, feature set, C, cloned weight, use the old corpus, files as they are only, texts also unseen);
# "fusion" rows name two earlier labels whose window scores are averaged in log-odds.
AASIST_CANDIDATES = [
    ("lfcc (shipped configuration)", "lfcc", 0.05, 10.0, True, False, False),
    ("lfcc, files as they are", "lfcc", 0.05, 10.0, True, True, False),
    ("aasist, published output (no fit)", "aasist-published", None, None, None, True, False),
    ("aasist head", "aasist", 0.05, 10.0, True, True, False),
    ("aasist head, cloned only", "aasist", 0.05, 10.0, False, True, False),
    ("aasist head, C=0.005", "aasist", 0.005, 10.0, True, True, False),
    ("lfcc + aasist", "lfcc+aasist", 0.05, 10.0, True, True, False),
    ("lfcc + aasist, C=0.01", "lfcc+aasist", 0.01, 10.0, True, True, False),
    ("lfcc + aasist, C=0.15", "lfcc+aasist", 0.15, 10.0, True, True, False),
    ("lfcc, cloned only", "lfcc", 0.05, 10.0, False, True, False),
    ("lfcc + aasist, cloned only", "lfcc+aasist", 0.05, 10.0, False, True, False),
    ("lfcc, cloned only, C=0.15", "lfcc", 0.15, 10.0, False, True, False),
    ("lfcc + aasist, cloned only, C=0.15", "lfcc+aasist", 0.15, 10.0, False, True, False),
    ("lfcc, cloned only, C=0.15, texts also unseen", "lfcc", 0.15, 10.0, False, True, True),
    ("lfcc + aasist, cloned only, C=0.15, texts also unseen", "lfcc+aasist", 0.15, 10.0, False, True, True),
    ("late fusion: lfcc (shipped) + aasist head", ("lfcc (shipped configuration)", "aasist head")),
    ("late fusion: lfcc (shipped) + aasist published", ("lfcc (shipped configuration)",
                                                         "aasist, published output (no fit)")),
]


def aasist_rows(items, cache, aasist_cache) -> tuple[list[dict], dict]:
    from dflab.train.synthetic_voice_loso import build_rows, file_means, late_fusion, loso_report, out_of_fold_windows

    rows, reports, scored = [], {}, {}
    for candidate in AASIST_CANDIDATES:
        label = candidate[0]
        if len(candidate) == 2:
            p = late_fusion(items, [scored[name] for name in candidate[1]])
        else:
            _, features, c, cloned_weight, use_old, originals_only, unseen_text = candidate
            built = build_rows(items, features, cache, originals_only=originals_only, aasist_cache=aasist_cache)
            if c is None:  # the published output: P(spoof) of each window, no fit
                window_p = 1.0 / (1.0 + np.exp(-built.x[:, -1]))
            else:
                window_p = out_of_fold_windows(items, built, c=c, cloned_weight=cloned_weight, use_old=use_old,
                                               unseen_text=unseen_text)
            scored[label] = (built, window_p)
            p = file_means(items, built.owner[built.original], window_p[built.original])
        report = loso_report(items, p)
        reports[label] = {**report, "out_of_fold": {f"{items[i].path.parent.name}/{items[i].path.name}": round(float(v), 4)
                                                     for i, v in enumerate(p) if items[i].dataset == "cloned_voices"}}
        fl = report["flagged"]
        rows.append({"model": label, "clones_auc": report["tortoise_clones"]["auc"],
                     "clones_eer": report["tortoise_clones"]["eer"], "all_fakes_auc": report["cloned_voices"]["auc"],
                     "all_fakes_eer": report["cloned_voices"]["eer"], "ece": report["cloned_voices"]["ece"],
                     "libri_flagged": fl["librispeech"]["real_suspicious"],
                     "lp_flagged": fl["liveportrait"]["real_suspicious"],
                     "cloned_reals_flagged": fl["cloned_voices"]["real_suspicious"]})  # fmt: skip
    return rows, reports


def shipped_rows(items) -> tuple[list[dict], dict]:
    """The shipped weights through the detector's own path: on the voices it was not fitted on (held out), on
    every cloned_voices file (in-sample for the others), and the LivePortrait clips' scores."""
    from dflab.audio.antispoof import SpoofModel
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load
    from dflab.train.synthetic_voice_loso import figures

    model = SpoofModel.load()
    not_fitted = set(model.meta.get("voices_not_fitted", []))
    detector = create_detector("synthetic_speech")
    scored = [it for it in items if it.dataset in ("cloned_voices", "liveportrait")]
    scores = {str(it.path): detector.detect(AnalysedMedia(load(it.path))) for it in scored}
    cloned = [it for it in scored if it.dataset == "cloned_voices"]
    held = [it for it in cloned if it.group in not_fitted]
    rows = []
    for name, subset in ((f"voices not fitted ({', '.join(sorted(not_fitted))})", held),
                         ("every cloned_voices file (in-sample for the others)", cloned)):
        if subset:
            rows.append({"set": name, **figures([it.label for it in subset], [scores[str(it.path)].score for it in subset])})
    lp = {it.path.stem: {"score": round(scores[str(it.path)].score, 4), "confidence": round(scores[str(it.path)].confidence, 3)}
          for it in scored if it.dataset == "liveportrait"}
    return rows, {"threshold": model.threshold, "liveportrait": lp}


def finding_rows() -> tuple[list[dict], dict]:
    import json

    from dflab.train.synthetic_voice_finding import FINDING_FILE

    held = json.loads(FINDING_FILE.read_text())["held_out"]
    members = held.get("all_members") or held["members"]
    rows = [{"candidate": f"shipped ({held['chosen']}: {', '.join(held.get('any', {}).get('members', []))})",
             **{k: held[k] for k in ("auc", "eer", "ece")}},
            {"candidate": "fused (all members)", **{k: held["fused"][k] for k in ("auc", "eer", "ece")}}]
    rows += [{"candidate": f"member {m} alone", **{k: v[k] for k in ("auc", "eer", "ece")}} for m, v in members.items()]
    rows += [{"candidate": f"shipped, cloned_voices {s}", **{k: v[k] for k in ("auc", "eer", "ece")}}
             for s, v in held["by_situation"].items()]
    return rows, held


def main() -> int:
    from dflab.train.voice_clone_data import DEFAULT_CACHE, corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where front-end features are cached")
    parser.add_argument("--quick", action="store_true", help="only the first candidate")
    parser.add_argument("--aasist-cache", default=None, help="AASIST window outputs (dflab.train.aasist_window_cache)")
    args = parser.parse_args()
    data = require_shared_data()
    start = time.perf_counter()
    items = corpus(data)
    confounds = confound_rows(items, args.cache)
    print("confounds (AUC of one property alone, cloned_voices reals vs renderings):")
    print_table(confounds, CONFOUND_COLUMNS)
    candidates = CANDIDATES[:1] if args.quick else CANDIDATES
    rows, reports = loso_rows(items, args.cache, candidates)
    print("\nleave-one-speaker-out (out-of-fold; flagged = real files at or above the 5 % line):")
    print_table(rows, LOSO_COLUMNS)
    with_aasist, aasist_reports = aasist_rows(items, args.cache, args.aasist_cache)
    print("\nAASIST-L beside LFCC, leave-one-speaker-out (flagged = real files at or above the 5 % line):")
    print_table(with_aasist, ["model", "clones_auc", "clones_eer", "all_fakes_auc", "all_fakes_eer", "ece",
                              "libri_flagged", "lp_flagged", "cloned_reals_flagged"])  # fmt: skip
    shipped, extra = shipped_rows(items)
    print("\nshipped weights through the detector:")
    print_table(shipped, ["set", "n_real", "n_fake", "auc", "eer", "ece"])
    print(f"LivePortrait real speech (threshold {extra['threshold']}): "
          + ", ".join(f"{k} {v['score']}" for k, v in extra["liveportrait"].items()))
    finding, held = finding_rows()
    print("\nsynthetic_voice finding, held out by speaker:")
    print_table(finding, ["candidate", "auc", "eer", "ece"])
    write_results("synthetic_voice", {"confounds": confounds, "loso": rows, "loso_detail": reports,
                                      "with_aasist": with_aasist, "with_aasist_detail": aasist_reports,
                                      "shipped_detector": shipped, "shipped_detector_extra": extra,
                                      "finding": finding, "finding_held_out": held,
                                      "seconds": round(time.perf_counter() - start, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
