"""The synthetic_voice finding: held-out AUC, EER and ECE of each member and of the fused finding.

    PYTHONPATH=src .venv/bin/python bench/synthetic_voice.py [--cache DIR]

cloned_voices (real recordings and clones of 21 voices), leave-one-speaker-out, out-of-fold scores only,
without and with a reference recording of the claimed voice (`dflab scan --reference`); the same rows for the
Tortoise clones alone. Then the TTS sets the finding never saw (ljspeech_tts with LibriSpeech reals, wavefake),
scored with the shipped head and table, and the `aasist` detector's real-time factor on one long file.
The untuned published AASIST is listed for comparison ("aasist_published").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, shared_data, write_results  # noqa: E402

COLUMNS = ["set", "situation", "model", "n_real", "n_fake", "auc", "eer", "ece"]


def _apply_table(table: dict, features: dict[str, np.ndarray]) -> np.ndarray:
    z = table["bias"] + sum(w * features[m] for m, w in table["members"].items())
    return 1.0 / (1.0 + np.exp(-z))


def cloned_voice_rows(data: Path, cache: str) -> tuple[list[dict], dict]:
    from dflab.audio.aasist_scoring import sigmoid
    from dflab.train.aasist_calibrate import cached_nested_loso, window_set
    from dflab.train.synthetic_voice_finding import SITUATIONS, build_rows, detector_evidence, figures, fit_table
    from dflab.train.voice_corpus import cloned_voices

    items = cloned_voices(data)
    ws = window_set(items, cache)
    oof, _ = cached_nested_loso(items, cache)
    rows = build_rows(items, detector_evidence(items, cache), sigmoid(oof))
    table, report = fit_table(rows)
    out = []
    for situation in ("both", *SITUATIONS):
        for model, values in report[situation].items():
            subset = "cloned_voices (tortoise clones only)" if model.endswith("_clones_only") else "cloned_voices"
            out.append({"set": subset, "situation": situation, "model": model.removesuffix("_tortoise_clones_only"),
                        **values})  # fmt: skip
    y = ws.file_labels
    out.append({"set": "cloned_voices", "situation": "without_reference", "model": "aasist_published",
                **figures(y, sigmoid(ws.published))})  # fmt: skip
    return out, table


def tts_rows(data: Path, cache: str, table: dict) -> list[dict]:
    from dflab.audio.aasist_scoring import clip_log_odds, load_head, sigmoid
    from dflab.train.synthetic_voice_finding import detector_evidence, figures, member_feature
    from dflab.train.voice_corpus import aasist_outputs, tts_sets

    items = tts_sets(data)
    head = load_head()
    evidence = detector_evidence(items, cache)
    outputs = [aasist_outputs(it, cache) for it in items]
    p_aasist = np.array([sigmoid(clip_log_odds(head.log_odds(o.embeddings))) for o in outputs])
    p_published = np.array([sigmoid(clip_log_odds(o.published_log_odds)) for o in outputs])
    features = {"aasist": np.array([member_feature(p, ev["aasist_confidence"]) for p, ev in zip(p_aasist, evidence)]),
                "synthetic_speech": np.array([member_feature(*ev["synthetic_speech"]) for ev in evidence]),
                "speaker_match": np.zeros(len(items))}  # fmt: skip
    p_speech = np.array([ev["synthetic_speech"][0] for ev in evidence])
    p_fused = _apply_table(table, features)
    out = []
    for name in ("ljspeech_tts", "wavefake"):
        mask = np.array([it.dataset == name for it in items])
        y = np.array([it.label for it in items])[mask]
        for model, p in (("fused", p_fused), ("aasist", p_aasist), ("aasist_published", p_published),
                         ("synthetic_speech", p_speech)):  # fmt: skip
            out.append({"set": name, "situation": "without_reference", "model": model, **figures(y, p[mask])})
    return out


def real_time_factor(data: Path) -> dict:
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load

    path = data / "cloned_voices/real/geralt/2.wav"
    media = load(path)
    detector = create_detector("aasist")
    detector.detect(AnalysedMedia(media))  # warm: weights loaded, first-call allocations done
    start = time.perf_counter()
    evidence = detector.detect(AnalysedMedia(media))
    seconds = time.perf_counter() - start
    return {"file": path.name, "duration_s": round(media.audio.duration_s, 2), "windows": len(evidence.times),
            "seconds": round(seconds, 2), "real_time_factor": round(seconds / media.audio.duration_s, 3)}  # fmt: skip


def main() -> int:
    import torch

    from dflab.train.aasist_calibrate import DEFAULT_CACHE
    from dflab.train.synthetic_voice_finding import FINDING_FILE

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where AASIST outputs and member scores are cached")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        print("shared data not found: set DFLAB_SHARED_DATA", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows, refitted = cloned_voice_rows(data, args.cache)
    shipped = json.loads(FINDING_FILE.read_text())
    rows += tts_rows(data, args.cache, shipped)
    print_table(rows, COLUMNS)
    speed = real_time_factor(data)
    print(f"\naasist detector: {speed['seconds']} s for {speed['duration_s']} s of audio ({speed['windows']} windows), "
          f"real-time factor {speed['real_time_factor']} on 1 thread")  # fmt: skip
    same = refitted["members"] == shipped["members"] and refitted["bias"] == shipped["bias"]
    print(f"shipped table {'matches' if same else 'DIFFERS FROM'} the refit: {shipped['held_out']['shipped']}")
    write_results("synthetic_voice", {"rows": rows, "shipped_table": shipped, "refit_matches_shipped": same,
                                      "aasist_speed": speed, "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
