"""How the face-crop detector does on manipulation methods it never saw: ffpp, per method, before vs after.

The shipped model follows the SBI recipe (trained on real faces and their self-blended pseudo-fakes only;
no deepfake and no ffpp file in training: see dflab/train/face_crop_data.json, role heldout). So testing on
each ffpp method *is* leave-one-method-out, with every method left out at once: for each method, its fake
clip vs the 3 ffpp originals (video AUC, a rank with one fake clip), and the crop-level AUC over every
sampled crop of the same clips. A second column adds the held-out liveportrait clips (d0, d19) as reals.

Each test file is decoded and its faces tracked once; then every model (the shipped weights, and any
`--compare NAME=PATH`, e.g. the previous weights) scores the same analysed faces with FaceCropDetector.
"Before" figures of the previous model (150 steps, trained on the ffpp files themselves) are its
leave-one-method-out folds, kept in bench/results/face_crop_eval_before.json.

Run: .venv/bin/python bench/face_crop_eval.py [--compare before=/tmp/before.pt]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

FAKES = {
    "Deepfakes": "ffpp/manipulated_sequences/Deepfakes/c23/videos/519_515.mp4",
    "FaceSwap": "ffpp/manipulated_sequences/FaceSwap/c23/videos/634_660.mp4",
    "NeuralTextures": "ffpp/manipulated_sequences/NeuralTextures/c23/videos/004_982.mp4",
    "Face2Face": "ffpp/manipulated_sequences/Face2Face/c23/videos/750_743.mp4",
}
ORIGINALS = [f"ffpp/original_sequences/youtube/c23/videos/{n}.mp4" for n in ("004", "519", "634")]
HELDOUT_LP = ["liveportrait/assets/examples/driving/d0.mp4", "liveportrait/assets/examples/driving/d19.mp4"]


def test_files() -> list[dict]:
    files = [{"path": p, "label": 1, "method": m} for m, p in FAKES.items()]
    files += [{"path": p, "label": 0, "method": "original"} for p in ORIGINALS]
    files += [{"path": p, "label": 0, "method": "liveportrait"} for p in HELDOUT_LP]
    return files


def check_never_trained_on(weights: Path, files: list[dict]) -> None:
    """Refuse to report 'unseen method' figures for a model whose card lists a test file."""
    from dflab.detect.learned.face_crop_model import read_weights

    trained = {Path(f["path"]).as_posix() for f in read_weights(weights)["meta"].get("files", [])}
    leaked = [f["path"] for f in files if any(t.endswith(f["path"]) for t in trained)]
    if leaked:
        sys.exit(f"{weights} was trained on test files {leaked}: these would not be unseen-method figures")


def score_files(root: Path, files: list[dict], models: dict[str, Path]) -> list[dict]:
    from dflab.config import SamplingPolicy
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.learned.face_crop import FaceCropDetector
    from dflab.faces import analyse
    from dflab.media import load

    records = []
    for f in files:
        start = time.perf_counter()
        # 10 analysed frames/s is plenty: the detector samples 2 crops/s of each track.
        media = load(root / f["path"], policy=SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=10.0), with_audio=False)
        subject = AnalysedMedia(media, analyse(media, embed_every_s=None))
        scores = {}
        for name, weights in models.items():
            ev = FaceCropDetector(weights=str(weights)).detect(subject)
            scores[name] = {"score": round(ev.score, 5),
                            "crop_scores": [round(float(x), 5) for x in ev.series.get("score", [])]}
        records.append({**f, "models": scores, "seconds": round(time.perf_counter() - start, 1)})
        print(f"  {f['path']}: " + " ".join(f"{k}={v['score']:.3f}" for k, v in scores.items())
              + f" ({records[-1]['seconds']} s)", flush=True)
    return records


def _auc(labels, scores) -> float:
    from dflab.eval.metrics import roc_auc

    return round(float(roc_auc(np.asarray(labels), np.asarray(scores))), 4)


def method_table(records: list[dict], model: str) -> list[dict]:
    originals = [r for r in records if r["method"] == "original"]
    more_reals = originals + [r for r in records if r["method"] == "liveportrait"]
    rows = []
    for method in FAKES:
        fake = next(r for r in records if r["method"] == method)
        row = {"model": model, "method": method, "fake_score": fake["models"][model]["score"],
               "max_original": max(r["models"][model]["score"] for r in originals)}
        for tag, reals in (("vs_originals", originals), ("vs_originals_lp", more_reals)):
            use = [fake] + reals
            row[f"video_auc_{tag}"] = _auc([r["label"] for r in use], [r["models"][model]["score"] for r in use])
            crops = [(r["label"], s) for r in use for s in r["models"][model]["crop_scores"]]
            row[f"crop_auc_{tag}"] = _auc([c[0] for c in crops], [c[1] for c in crops])
        row["n_crops_fake"] = len(fake["models"][model]["crop_scores"])
        rows.append(row)
    mean = {"model": model, "method": "mean"}
    for key in rows[0]:
        if key.startswith(("video_auc", "crop_auc")):
            mean[key] = round(float(np.mean([r[key] for r in rows])), 4)
    return rows + [mean]


def main() -> None:
    from dflab.detect.learned.face_crop_model import shipped_weights_path

    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", nargs="*", default=[], metavar="NAME=PATH",
                        help="other weights files to score the same faces with (e.g. the previous model)")
    args = parser.parse_args()
    root = shared_data()
    if root is None:
        sys.exit("needs ../shared/data")
    files = test_files()
    shipped = shipped_weights_path()
    check_never_trained_on(shipped, files)
    models = {"shipped": shipped, **{c.split("=", 1)[0]: Path(c.split("=", 1)[1]) for c in args.compare}}
    records = score_files(root, files, models)
    rows = [row for name in models for row in method_table(records, name)]
    print("\nper ffpp method, fake clip vs the 3 ffpp originals (+ the held-out liveportrait clips d0, d19):")
    print_table(rows, ["model", "method", "fake_score", "max_original", "video_auc_vs_originals",
                       "crop_auc_vs_originals", "video_auc_vs_originals_lp", "crop_auc_vs_originals_lp", "n_crops_fake"])
    card = json.loads(shipped.with_suffix(".json").read_text()) if shipped.with_suffix(".json").is_file() else {}
    before_path = REPO / "bench/results/face_crop_eval_before.json"
    before = json.loads(before_path.read_text()) if before_path.is_file() else None
    write_results("face_crop_eval", {
        "shipped": {"steps_run": card.get("steps_run"), "train_seconds": card.get("train_seconds"),
                    "n_real_crops": card.get("n_real_crops"), "command": card.get("command")},
        "per_method": rows,
        "before_lomo": before.get("lomo") if before else None,
        "files": [{k: v for k, v in r.items()} for r in records],
    })


if __name__ == "__main__":
    main()
