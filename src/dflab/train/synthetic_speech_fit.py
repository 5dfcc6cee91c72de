"""Fit the windowed synthetic-speech weights on the classic TTS set plus the cloned voices.

Called by `dflab train synthetic-speech` (without --classic). The held-out figures come first: every file is
scored by a model fitted without its voice (dflab.train.synthetic_voice_loso), and the detector's threshold is
the higher of 0.5 and the probability 5 % of the real development files reach out of fold. The shipped model is
then fitted on every training file except three voices of cloned_voices (TEST_VOICES), kept out so that the
tests can check the shipped weights on clones and recordings of voices it never heard.
"""

from __future__ import annotations

from pathlib import Path

from dflab.audio.antispoof import WINDOW_FEATURE_PREFIX, SpoofModel
from dflab.train.synthetic_voice_loso import build_rows, fit_all, loso_report, out_of_fold
from dflab.train.voice_clone_data import DEFAULT_CACHE, corpus

SHIPPED_FEATURES = "lfcc"
DEFAULT_C = 0.05
DEFAULT_CLONED_WEIGHT = 10.0
TEST_VOICES = ("daniel", "geralt", "myself")  # never fitted on by the shipped weights (tests/learned)


def fit_windowed(data: str | Path, feature_set: str = SHIPPED_FEATURES, c: float = DEFAULT_C,
                 cloned_weight: float = DEFAULT_CLONED_WEIGHT, cache: str | Path = DEFAULT_CACHE,
                 command: str = "dflab train synthetic-speech", log=lambda msg: None,
                 aasist_cache: str | Path | None = None) -> tuple[SpoofModel, dict]:
    items = corpus(data)
    log(f"{len(items)} files; front end and window features (cached under {cache}) ...")
    rows = build_rows(items, feature_set, cache, aasist_cache=aasist_cache)
    with_aasist = "aasist" in feature_set
    log("leave-one-speaker-out ...")
    p = out_of_fold(items, rows, c=c, cloned_weight=cloned_weight)
    report = loso_report(items, p)
    mean, scale, coef, bias = fit_all(items, rows, c=c, cloned_weight=cloned_weight, exclude_groups=TEST_VOICES)
    threshold = max(0.5, report["operating_points"]["suspicious"])
    meta = {"command": command, "c": c, "cloned_weight": cloned_weight, "feature_set": feature_set,
            "rows": int(rows.owner.size), "files": int(sum(it.trains and it.group not in TEST_VOICES for it in items)),
            "voices_not_fitted": list(TEST_VOICES),
            "data": "cloned_voices (64 real, 67 renderings; front end only) + ljspeech_tts + librispeech + "
                    "liveportrait d20 audio" + (" (files as they are)" if with_aasist else
                                                " (each also via MP3 48k and AAC 64k)")
                    + ", 4 s windows after the front end",
            "held_out": {k: report[k] for k in ("cloned_voices", "tortoise_clones", "ljspeech_tts+librispeech",
                                                "operating_points")}}  # fmt: skip
    model = SpoofModel(mean, scale, coef, bias, round(float(threshold), 4), meta, WINDOW_FEATURE_PREFIX + feature_set)
    return model, report


def loso_lines(report: dict) -> list[str]:
    lines = [f"{'held out by speaker':28s} {'AUC':>6s} {'EER':>6s} {'ECE':>6s} {'real':>5s} {'fake':>5s}"]
    for key in ("tortoise_clones", "cloned_voices", "ljspeech_tts+librispeech"):
        r = report[key]
        lines.append(f"{key:28s} {r['auc']:6.3f} {100 * r['eer']:5.1f}% {r['ece']:6.3f} {r['n_real']:5d} {r['n_fake']:5d}")
    for name, f in report["flagged"].items():
        lines.append(f"{name:28s} reals flagged at 5 %: {f['real_suspicious']}, at 1 %: {f['real_manipulated']}")
    return lines
