"""`dflab train synthetic-speech`: the synthetic-speech detector's logistic model (dflab.audio.antispoof).

    dflab train synthetic-speech [--data DIR] [--out FILE] [--overwrite] [--eval] [--json]
                                 [--features SET] [--cloned-weight W] [--cache DIR] [--aasist-cache DIR]
                                 [--classic]

By default the windowed model that ships: the classic TTS set plus the cloned voices, every file through the
scan's front end, held-out figures leave-one-speaker-out. --classic fits the earlier LFCC model on the classic
TTS set alone (--eval then prints its leave-one-TTS-system-out table).

Registered as a kind of the `train` verb group (dflab/cli/train.py calls `register`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dflab.cli.progress import add_quiet_option, progress_bar

SHIPPED_COMMAND = "dflab train synthetic-speech --eval"  # writes src/dflab/audio/weights/synthetic_speech.json
FEATURE_CHOICES = ("lfcc", "lfcc+band", "lfcc+band+modulation", "band+modulation", "lfcc+aasist")


def register(kinds) -> None:
    s = kinds.add_parser(
        "synthetic-speech",
        help="the synthetic-speech detector: window statistics + logistic regression (TTS and cloned voices)",
        description="Fit the synthetic_speech detector on cloned_voices (real recordings and Tortoise clones of "
        "21 speakers), ljspeech_tts (85 TTS renderings, 5 real), LibriSpeech and LivePortrait d20 speech: every "
        "file through the scan's front end (16 kHz, silence trimmed, one loudness, one MP3 round trip) and cut "
        "into 4 s windows; the classic sets also seen through MP3 and AAC first. --eval prints the "
        "leave-one-speaker-out table. --classic fits the earlier LFCC model on the classic sets alone. Without "
        f"--out the packaged weights file is replaced; the shipped weights come from `{SHIPPED_COMMAND}`.",
    )
    s.add_argument("--data", metavar="DIR", help="the shared data folder (default $DFLAB_SHARED_DATA or ../shared/data)")
    s.add_argument("--out", metavar="FILE", help="weights JSON to write (default: the packaged weights file)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    s.add_argument("--c", type=float, default=0.05, help="inverse L2 strength of the logistic model (default 0.05)")
    s.add_argument("--eval", action="store_true", help="print the held-out table first (leave-one-speaker-out; "
                   "with --classic leave-one-TTS-system-out)")
    s.add_argument("--features", choices=FEATURE_CHOICES, default=None,
                   help="window feature set (default lfcc)")
    s.add_argument("--cloned-weight", type=float, default=10.0,
                   help="weight of a cloned_voices file against a classic-set file (default 10)")
    s.add_argument("--cache", metavar="DIR", help="where front-end features are cached (default /tmp/dflab-voice-features)")
    s.add_argument("--aasist-cache", metavar="DIR", help="where AASIST-L window outputs are cached (feature sets "
                   "with aasist; default /tmp/dflab-voice-aasist)")
    s.add_argument("--classic", action="store_true",
                   help="the earlier model: LFCC statistics of 6 s chunks, classic TTS set only")
    s.add_argument("--json", action="store_true", help="print results as one JSON object")
    add_quiet_option(s)
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.classic:
        return run_windowed(args)
    from dflab.audio.antispoof import DEFAULT_WEIGHTS, collect_corpus, featurise, fit
    from dflab.cli.common import new_output_path, print_json
    from dflab.errors import UsageError
    from dflab.train.speed_testset import default_data_dir

    if not args.c > 0:
        raise UsageError("--c must be positive")
    out = new_output_path(args.out, overwrite=args.overwrite) if args.out else DEFAULT_WEIGHTS
    data = Path(args.data) if args.data else default_data_dir()
    log = (lambda msg: None) if args.json or args.quiet else (lambda msg: print(msg, file=sys.stderr))
    log(f"reading {data} ...")
    items = collect_corpus(data)
    log(f"{len(items)} utterances; computing LFCCs (each also through MP3 and AAC) ...")
    bar = progress_bar(args, total=len(items), desc="LFCC", unit="utterance")
    featurised = featurise_with_progress(items, featurise, bar)
    result: dict = {"utterances": len(items), "synthetic": sum(i.label for i in items)}
    if args.eval:
        from dflab.train.antispoof_eval import leave_one_system_out

        systems = leave_one_system_out(items, c=args.c, featurised=featurised)
        result["lotso"] = {
            r.system: {"eer": round(r.eer, 4), "eer_vs_ljspeech_real": round(r.eer_against("ljspeech"), 4),
                       "n_fake": r.n_fake, "n_real": r.n_real} for r in systems
        }  # fmt: skip
        if not args.json:
            print(f"{'held-out TTS system':22s} {'EER':>6s} {'EER vs LJ real':>15s} {'fake':>5s} {'real':>5s}")
            for r in systems:
                print(f"{r.system:22s} {100 * r.eer:5.1f}% {100 * r.eer_against('ljspeech'):14.1f}% {r.n_fake:5d} {r.n_real:5d}")
            print(f"{'mean':22s} {100 * sum(r.eer for r in systems) / len(systems):5.1f}%")
    x, y, _ = featurised
    command = "dflab train synthetic-speech --classic" + (f" --c {args.c}" if args.c != 0.05 else "")
    model = fit(x, y, c=args.c, meta={"command": command, "rows": int(len(y)), "utterances": len(items),
                                      "data": "ljspeech_tts + librispeech + liveportrait d6,d20 audio; x3 codecs"})  # fmt: skip
    model.save(out)
    result["weights"] = str(out)
    if args.json:
        print_json(result)
    else:
        print(f"weights: {out}")
    return 0


def run_windowed(args: argparse.Namespace) -> int:
    from dflab.audio.antispoof import DEFAULT_WEIGHTS
    from dflab.cli.common import new_output_path, print_json
    from dflab.errors import UsageError
    from dflab.train.speed_testset import default_data_dir
    from dflab.train.synthetic_speech_fit import SHIPPED_FEATURES, fit_windowed, loso_lines
    from dflab.train.voice_clone_data import DEFAULT_CACHE

    if not args.c > 0 or not args.cloned_weight > 0:
        raise UsageError("--c and --cloned-weight must be positive")
    out = new_output_path(args.out, overwrite=args.overwrite) if args.out else DEFAULT_WEIGHTS
    data = Path(args.data) if args.data else default_data_dir()
    features = args.features or SHIPPED_FEATURES
    log = (lambda msg: None) if args.json or args.quiet else (lambda msg: print(msg, file=sys.stderr))
    command = "dflab train synthetic-speech" + (f" --features {features}" if args.features else "") + (
        f" --c {args.c}" if args.c != 0.05 else "") + (f" --cloned-weight {args.cloned_weight:g}"
                                                       if args.cloned_weight != 10.0 else "")  # fmt: skip
    model, report = fit_windowed(data, features, args.c, args.cloned_weight, args.cache or DEFAULT_CACHE, command, log,
                                 aasist_cache=args.aasist_cache)
    model.save(out)
    if args.json:
        print_json({"weights": str(out), "feature": model.feature, "threshold": model.threshold,
                    **({"loso": report} if args.eval else {})})  # fmt: skip
        return 0
    if args.eval:
        print("\n".join(loso_lines(report)))
    print(f"weights: {out} (threshold {model.threshold:.3f})")
    return 0


def featurise_with_progress(items: list, featurise, bar) -> tuple:
    """`featurise(items, augment=True)` one utterance at a time, so `bar` can count them; the rows, labels and
    owners (index of the source item per row) are the same as one call over all items."""
    import numpy as np

    if not items:
        return featurise(items, augment=True)
    rows, labels, owners = [], [], []
    with bar:
        for i, item in enumerate(items):
            x, y, _ = featurise([item], augment=True)
            rows.append(x)
            labels.append(y)
            owners += [i] * len(y)
            bar.update(1)
    return np.concatenate(rows), np.concatenate(labels), owners
