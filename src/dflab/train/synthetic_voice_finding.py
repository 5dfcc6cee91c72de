"""Fit the synthetic_voice finding's table from out-of-fold member scores, grouped by speaker.

    python -m dflab.train.synthetic_voice_finding --data ../shared/data [--cache DIR] [--out FILE]

Records are what a scan sees, in two situations:

- without a reference voice: every cloned_voices file and every real file of ljspeech_tts, LibriSpeech and
  LivePortrait speech, with `synthetic_speech` only (the ljspeech_tts renderings are left out: all are in
  LJSpeech's voice, so the model that scores them out of fold has seen no classic TTS at all). Its score is the file's leave-one-speaker-out probability
  (dflab.train.synthetic_voice_loso: the model that scored it never heard its voice), its confidence the
  detector's own;
- with a reference (`dflab scan --reference`): every cloned_voices file again, now also with `speaker_match`
  against another real recording of the same voice (for a real file, the first other one; a clone whose voice
  has no real recording is left out).

dflab.train.findings_fit.fit_finding then cross-validates leave-one-speaker-out (fused logistic, each member
alone, "any") and places the operating points on the real files' out-of-fold probabilities. One rule is added
on top: a combiner of several members (fused or "any") ships only if, held out, it ranks at least as well as
its best member (AUC) and is better calibrated (ECE); otherwise the best member ships alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.train.voice_clone_data import DEFAULT_CACHE, VoiceFile, corpus

FINDING_FILE = Path(__file__).resolve().parents[1] / "detect" / "findings" / "synthetic_voice.json"
COMMAND = "python -m dflab.train.synthetic_voice_finding --data ../shared/data"


def speech_confidence(item: VoiceFile) -> float:
    """The synthetic_speech detector's confidence for this file (0.7 from 4 s of audio)."""
    from dflab.media import load_audio

    return float(0.7 * min(1.0, load_audio(item.path).duration_s / 4.0))


def reference_for(index: int, items: list[VoiceFile]) -> Path | None:
    item = items[index]
    reals = sorted(it.path for it in items if it.dataset == "cloned_voices" and it.label == 0
                   and it.group == item.group and it.path != item.path)  # fmt: skip
    return reals[0] if reals else None


def speaker_match_evidence(items: list[VoiceFile], cache: Path) -> dict[str, dict]:
    """speaker_match (score, confidence) per cloned_voices file against its reference; cached as JSON."""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load

    path = Path(cache) / "speaker_match-v1.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    for i, item in enumerate(items):
        key = str(item.path)
        if item.dataset != "cloned_voices" or key in known:
            continue
        reference = reference_for(i, items)
        if reference is None:
            continue
        ev = create_detector("speaker_match", reference=str(reference)).detect(AnalysedMedia(load(item.path)))
        known[key] = {"score": float(ev.score), "confidence": float(ev.confidence), "reference": str(reference)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known))
    return known


def records(items: list[VoiceFile], speech_oof: np.ndarray, matches: dict[str, dict]) -> list[dict]:
    out = []
    for item, p in zip(items, speech_oof):
        if item.dataset == "ljspeech_tts" and item.label == 1:
            continue  # all in LJSpeech's voice: its fold has no classic TTS left to learn from (card)
        speech = {"name": "synthetic_speech", "score": float(p), "confidence": speech_confidence(item)}
        base = {"path": str(item.path), "label": item.label, "group": item.group, "method": item.method}
        out.append({**base, "situation": "without_reference", "evidence": [speech]})
        if str(item.path) in matches:
            m = matches[str(item.path)]
            out.append({**base, "situation": "with_reference",
                        "evidence": [speech, {"name": "speaker_match", "score": m["score"],
                                              "confidence": m["confidence"]}]})  # fmt: skip
    return out


def situation_figures(recs: list[dict], oof: dict[tuple[str, str], float]) -> dict:
    """Held-out AUC / EER / ECE of the shipped table per situation, on cloned_voices only."""
    from dflab.train.synthetic_voice_loso import figures

    out = {}
    for situation in ("without_reference", "with_reference"):
        sel = [r for r in recs if r["situation"] == situation and "cloned_voices" in r["path"]]
        y = [r["label"] for r in sel]
        out[situation] = figures(y, [oof[(r["path"], situation)] for r in sel])
    return out


def fit_table(items: list[VoiceFile], speech_oof: np.ndarray, matches: dict[str, dict]) -> dict:
    from dflab.train.findings_fit import fit_finding

    recs = records(items, speech_oof, matches)
    table = fit_finding(recs, "synthetic_voice")
    held = table["held_out"]
    best = held["best_member"]
    fused = held[held["chosen"]] if held["chosen"] in ("fused", "any") else held
    combined = len(table["members"]) > 1
    if combined and not (fused["auc"] >= held["members"][best]["auc"] and fused["ece"] < held["members"][best]["ece"]):
        # the combiner does not beat its best member held out on both counts: the best member ships alone
        rejected = {"members": list(table["members"]), "auc": fused["auc"], "ece": fused["ece"]}
        alone = [{**r, "evidence": [e for e in r["evidence"] if e["name"] == best]} for r in recs]
        table = fit_finding(alone, "synthetic_voice")
        table["held_out"]["rejected_combiner"] = rejected
        table["held_out"]["all_members"] = held["members"]
    oof = {(r["path"], r["situation"]): row["p"] for r, row in zip(recs, table.pop("oof"))}
    table["held_out"]["by_situation"] = situation_figures(recs, oof)
    table["held_out"]["groups"] = ("leave-one-speaker-out (cloned_voices voices; LibriSpeech / LivePortrait "
                                   "speakers dealt to the folds)")
    return table


def main(argv: list[str] | None = None) -> int:
    import torch

    from dflab.train.synthetic_voice_loso import build_rows, out_of_fold

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE))
    parser.add_argument("--out", default=str(FINDING_FILE))
    parser.add_argument("--features", default=None, help="feature set (default: the shipped weights')")
    parser.add_argument("--c", type=float, default=None, help="(default: the shipped weights')")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from dflab.audio.antispoof import SpoofModel

    shipped = SpoofModel.load()
    feature_set = args.features or shipped.feature_set
    c = args.c or float(shipped.meta.get("c", 0.05))
    cloned_weight = float(shipped.meta.get("cloned_weight", 3.0))
    items = corpus(args.data)
    rows = build_rows(items, feature_set, args.cache)
    speech_oof = out_of_fold(items, rows, c=c, cloned_weight=cloned_weight)
    matches = speaker_match_evidence(items, Path(args.cache))
    table = fit_table(items, speech_oof, matches)
    table["fitted_on"] = ("cloned_voices (64 real recordings of 21 speakers, 67 renderings), ljspeech_tts, LibriSpeech "
                          "and LivePortrait speech; synthetic_speech out of fold by speaker "
                          f"({feature_set}, C={c:g}); with and without a reference voice")
    table["command"] = COMMAND
    write_text_atomic(args.out, json.dumps(table, indent=1))
    print(json.dumps(table["held_out"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
