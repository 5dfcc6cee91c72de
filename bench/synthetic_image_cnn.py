"""The synthetic_image finding, leave-one-generator-out: per held-out generator, each member's AUC and the
finding's AUC/EER/ECE and hit rates at its operating points; the checks that the CNN did not learn the file
format; the CNN on real video frames; its speed.

Run: PYTHONPATH=src .venv/bin/python bench/synthetic_image_cnn.py
Reads the CNN's out-of-fold scores (bench/results/synthetic_image_cnn_oof.json, written by
`python -m dflab.train.synthetic_image_cnn`; training is not repeated here) and the older members' evidence
(computed once, about 25 minutes on the shared machine, then cached in ~/.cache/dflab). Prints the tables and
writes bench/results/synthetic_image_cnn.json. Every figure is out of fold: the CNN that scored a picture and
the combiner that fused its members never saw the picture's generator.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, print_table, require_shared_data, write_results  # noqa: E402

OOF = RESULTS / "synthetic_image_cnn_oof.json"
CACHE = Path.home() / ".cache" / "dflab" / "synthetic_image_members.json"
VIDEOS = ["ffpp/original_sequences/youtube/c23/videos/634.mp4", "liveportrait/assets/examples/driving/d6.mp4",
          "liveportrait/assets/examples/driving/d9.mp4", "liveportrait/assets/examples/driving/d14.mp4",
          "liveportrait/assets/examples/driving/d10.mp4"]


def jpeg_quality_proxy(path: Path) -> float:
    """The first luminance quantisation step of a JPEG (larger = stronger compression); 0 for other formats."""
    from PIL import Image

    with Image.open(path) as im:
        tables = getattr(im, "quantization", None) or {}
        return float(tables[0][0]) if 0 in tables else 0.0


def format_checks(pictures, labels, cnn_scores) -> dict:
    """Could the file alone tell the classes apart? AUC of file size and JPEG quantisation per held-out
    generator (against its paired reals), beside the CNN's."""
    from dflab.eval.metrics import roc_auc
    from dflab.train.synthetic_image_data import evaluation_mask, generator_folds

    size = np.array([p.path.stat().st_size for p in pictures], dtype=float)
    quant = np.array([jpeg_quality_proxy(p.path) for p in pictures])
    out = {}
    for generator in generator_folds(pictures):
        mask = np.array(evaluation_mask(pictures, generator))
        y = labels[mask]
        out[generator] = {"file_size_auc": round(float(roc_auc(y, size[mask])), 4),
                          "jpeg_quant_auc": round(float(roc_auc(y, quant[mask])), 4),
                          "cnn_auc": round(float(roc_auc(y, cnn_scores[mask])), 4)}
    return out


def video_frames(shared: Path) -> list[dict]:
    """The shipped CNN on real clips (a few key frames each): are real video frames flagged?"""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load

    detector = create_detector("synthetic_image_cnn")
    rows = []
    for rel in VIDEOS:
        path = shared / rel
        if not path.is_file():
            continue
        ev = detector.detect(AnalysedMedia(load(path, with_audio=False)))
        rows.append({"clip": rel, "score": round(ev.score, 4), "confidence": ev.confidence,
                     "frames": len(ev.details.get("frames", []))})
    return rows


def speed(pictures, n: int = 20) -> dict:
    """Median ms per picture of the detector's scoring (JPEG re-compression, crops, network), one thread."""
    from dflab.detect.learned.synthetic_image_cnn import score_rgb
    from dflab.media import load_image_rgb

    picks = [pictures[i] for i in np.linspace(0, len(pictures) - 1, n).round().astype(int)]
    score_rgb(load_image_rgb(picks[0].path))  # load the network once
    times = []
    for p in picks:
        rgb = load_image_rgb(p.path)
        start = time.perf_counter()
        score_rgb(rgb)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(float(np.median(times)), 1), "max_ms": round(float(np.max(times)), 1), "n": n,
            "torch_threads": 1}


def main() -> None:
    from dflab.train.synthetic_image_data import development_set
    from dflab.train.synthetic_image_finding import cnn_evidence, fit_table
    from dflab.train.synthetic_image_members import member_evidence

    shared = require_shared_data()
    if not OOF.is_file():
        print(f"{OOF} not found (python -m dflab.train.synthetic_image_cnn --oof ...)", file=sys.stderr)
        raise SystemExit(2)
    pictures = development_set(shared)
    evidence = dict(member_evidence(pictures, shared, CACHE))
    evidence["synthetic_image_cnn"] = cnn_evidence(pictures, OOF, shared)
    table, report = fit_table(pictures, evidence)
    labels = np.array([p.label for p in pictures])
    per_gen = report["per_generator"]
    names = [c for c in ("synthetic_image_cnn", "synthetic_image", "spectrum", "fused")]
    rows = []
    for generator, row in per_gen.items():
        rows.append({"held out": generator, "n fake/real": f"{row['n_fake']}/{row['n_real']}",
                     **{name: row[f"{name}_auc"] for name in names},
                     "chosen AUC": row["chosen_auc"], "EER": row["chosen_eer"], "ECE": row["chosen_ece"],
                     "fakes @1%": row["fakes_flagged_manipulated"], "reals @1%": row["reals_flagged_manipulated"],
                     "fakes @5%": row["fakes_flagged_suspicious"], "reals @5%": row["reals_flagged_suspicious"]})
    mean = {name: round(float(np.mean([r[name] for r in rows])), 4) for name in names + ["chosen AUC"]}
    rows.append({"held out": "mean", **mean})
    print(f"synthetic_image finding, leave-one-generator-out (chosen: {table['held_out']['chosen']}; "
          "AUC of each generator's fakes against its paired reals)")
    print_table(rows, ["held out", "n fake/real", *names, "chosen AUC", "EER", "ECE", "fakes @1%", "reals @1%",
                       "fakes @5%", "reals @5%"])
    held = table["held_out"]
    print(f"\npooled over every picture (one threshold for all sources): AUC {held['auc']:.3f}, EER {held['eer']:.3f}, "
          f"ECE {held['ece']:.3f}; best member {held['best_member']} AUC {held['best_member_auc']:.3f}")
    print(f"CIPLAB splices (face edits, not generated): {held['ciplab_splices']}")

    print("\nreal pictures per source: mean P and share flagged at the operating points")
    print_table([{"source": k, **v} for k, v in report["per_real_source"].items()],
                ["source", "n", "mean_p", "flagged_manipulated", "flagged_suspicious"])
    cnn_scores = np.array([e["score"] for e in evidence["synthetic_image_cnn"]])
    fmt = format_checks(pictures, labels, cnn_scores)
    print("\nformat check: AUC of the file alone (size, JPEG quantisation) beside the CNN's")
    print_table([{"held out": k, **v} for k, v in fmt.items()], ["held out", "file_size_auc", "jpeg_quant_auc", "cnn_auc"])
    videos = video_frames(shared)
    print("\nthe shipped CNN on real video (key frames)")
    print_table(videos, ["clip", "score", "confidence", "frames"])
    timing = speed(pictures)
    print(f"\nspeed: {timing}")
    write_results("synthetic_image_cnn", {
        "finding_table": {k: v for k, v in table.items() if k != "real_quantiles"},
        "per_generator": per_gen, "mean_per_generator_auc": mean, "per_real_source": report["per_real_source"],
        "format_check": fmt, "video_real_frames": videos, "speed": timing,
        "cnn_train_config": json.loads(OOF.read_text()).get("config"),
        "shared_data": os.fspath(shared),
    })


if __name__ == "__main__":
    main()
