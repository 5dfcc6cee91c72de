"""The face-crop detector on data neither model trained on: two weights files scored on the same analysed faces.

Sets (face_crop_data.json, `split`): the 7 FaceForensics++ files (each method unseen, as bench/face_crop_eval.py
ranks them), the 12 LivePortrait driving clips (all real: false alarms; d0 and d19 were never trained on by
either model, the other ten were training reals of the weights shipped before), the CIPLAB Photoshop splices
against the CIPLAB reals, and the held-out fifth of the faces/ reals (UTKFace, RMFD, Unsplash; split by identity).

Each file is decoded and its faces tracked once; every model then scores the same faces with FaceCropDetector.
False alarms are read two ways: at fixed raw scores (0.5, and the face_crop scores at which the current
face_manipulated tables reach their suspicious and manipulated lines on their own), and threshold-free (AUC).

Run: .venv/bin/python bench/face_crop_heldout.py --model shipped=PATH --model new=PATH [--pictures N] [--results NAME]
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
from face_crop_eval import method_table, test_files  # noqa: E402

DRIVING = [f"liveportrait/assets/examples/driving/d{n}.mp4" for n in (0, 3, 6, 9, 10, 11, 12, 13, 14, 18, 19, 20)]


def picture_files(root: Path, limit: int | None) -> list[dict]:
    """CIPLAB reals and splices, and the held-out fifth of the other faces/ reals (a fixed, spread sample
    of `limit` per folder when asked: every k-th file in labels.csv order)."""
    from dflab.train.face_crop_data import default_data_list

    by_folder: dict[str, list] = {}
    for item in default_data_list(root):
        if item.split == "eval_faces":
            by_folder.setdefault(item.method, []).append(item)
    files = []
    for folder, items in sorted(by_folder.items()):
        if limit is not None and len(items) > limit:
            items = items[:: int(np.ceil(len(items) / limit))]
        files += [{"path": i.path.relative_to(root).as_posix(), "label": i.label, "method": folder} for i in items]
    return files


def score(root: Path, files: list[dict], models: dict[str, Path]) -> list[dict]:
    from dflab.config import SamplingPolicy
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.learned.face_crop import FaceCropDetector
    from dflab.faces import analyse
    from dflab.media import load

    detectors = {name: FaceCropDetector(weights=str(path)) for name, path in models.items()}
    records = []
    for n, f in enumerate(files):
        start = time.process_time()
        media = load(root / f["path"], policy=SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=10.0), with_audio=False)
        subject = AnalysedMedia(media, analyse(media, embed_every_s=None))
        scores = {}
        for name, detector in detectors.items():
            ev = detector.detect(subject)
            scores[name] = {"score": round(ev.score, 5), "confidence": ev.confidence,
                            "crop_scores": [round(float(x), 5) for x in ev.series.get("score", [])]}
        records.append({**f, "models": scores, "cpu_s": round(time.process_time() - start, 2)})
        if f["path"].endswith(".mp4") or n % 100 == 0:
            print(f"  [{n + 1}/{len(files)}] {f['path']}: "
                  + " ".join(f"{k}={v['score']:.3f}" for k, v in scores.items()), flush=True)
    return records


def raw_lines(media_type: str) -> dict[str, float]:
    """The face_crop score (at the detector's usual confidence) from which the current face_manipulated
    table of `media_type` reaches each line on face_crop alone: where the shipped model's alarms start."""
    from dflab.detect.evidence import Evidence
    from dflab.detect.findings import finding_model

    table = finding_model("face_manipulated", media_type)
    confidence = 0.6 if media_type == "image" else 0.8  # one crop per picture face; >= 4 crops per clip
    grid = np.linspace(0.0005, 0.9995, 1999)
    probs = np.array([table.member_probabilities({"face_crop": Evidence("face_crop", float(s), confidence, "")})
                      .get("face_crop", 0.0) for s in grid])
    out = {}
    for line in ("suspicious", "manipulated"):
        above = np.flatnonzero(probs >= table.thresholds[line])
        out[line] = round(float(grid[above[0]]), 4) if len(above) else 1.0
    return out


def _auc(labels, scores) -> float | None:
    from dflab.eval.metrics import roc_auc

    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return None
    return round(float(roc_auc(labels, np.asarray(scores))), 4)


def picture_table(records: list[dict], model: str, lines: dict[str, float]) -> list[dict]:
    """Per folder: faces found, mean score, share at or above 0.5 and each line; AUC of the splices."""
    rows = []
    for folder in sorted({r["method"] for r in records}):
        mine = [r for r in records if r["method"] == folder and r["models"][model]["confidence"] > 0]
        s = np.array([r["models"][model]["score"] for r in mine])
        row = {"model": model, "set": folder, "label": "fake" if mine and mine[0]["label"] else "real",
               "n_faces": len(mine), "mean_score": round(float(s.mean()), 4) if len(s) else None,
               "at_0.5": round(float((s >= 0.5).mean()), 4) if len(s) else None}
        for line, t in lines.items():
            row[f"at_{line}"] = round(float((s >= t).mean()), 4) if len(s) else None
        rows.append(row)
    ciplab = [r for r in records if r["method"].startswith("ciplab") and r["models"][model]["confidence"] > 0]
    heldout_reals = [r for r in records if r["label"] == 0 and not r["method"].startswith("ciplab")
                     and r["models"][model]["confidence"] > 0]
    splices = [r for r in ciplab if r["label"] == 1]
    auc = {"model": model, "set": "AUC", "ciplab_splices_vs_ciplab_reals":
           _auc([r["label"] for r in ciplab], [r["models"][model]["score"] for r in ciplab]),
           "ciplab_splices_vs_heldout_reals":
           _auc([r["label"] for r in splices + heldout_reals], [r["models"][model]["score"] for r in splices + heldout_reals])}
    return rows + [auc]


def driving_table(records: list[dict], models: list[str], lines: dict[str, float]) -> list[dict]:
    rows = []
    for r in records:
        row = {"clip": Path(r["path"]).stem}
        for m in models:
            crops = np.array(r["models"][m]["crop_scores"])
            row[f"{m}_score"] = r["models"][m]["score"]
            row[f"{m}_crops_over_0.6"] = round(float((crops > 0.6).mean()), 3) if len(crops) else None
            row[f"{m}_over_suspicious"] = bool(r["models"][m]["score"] >= lines["suspicious"])
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                        help="a weights file to score (give two or more, e.g. shipped=... new=...)")
    parser.add_argument("--pictures", type=int, default=None, metavar="N",
                        help="at most N pictures per faces/ folder (default: all)")
    parser.add_argument("--no-video", action="store_true", help="pictures only")
    parser.add_argument("--results", default="face_crop_heldout", metavar="NAME",
                        help="write bench/results/NAME.json (default face_crop_heldout; another name keeps an "
                        "earlier comparison)")
    args = parser.parse_args()
    root = shared_data()
    if root is None:
        sys.exit("needs ../shared/data")
    models = {m.split("=", 1)[0]: Path(m.split("=", 1)[1]) for m in args.model}
    import torch

    torch.set_num_threads(1)
    result: dict = {"models": {k: str(v) for k, v in models.items()}, "pictures_per_folder": args.pictures}
    video_lines, image_lines = raw_lines("video"), raw_lines("image")
    result["raw_lines"] = {"video": video_lines, "image": image_lines}
    if not args.no_video:
        ffpp = [f for f in test_files() if f["method"] != "liveportrait"]
        driving = [{"path": p, "label": 0, "method": "liveportrait"} for p in DRIVING]
        video = score(root, ffpp + driving, models)
        # face_crop_eval's table: each FF++ method's fake against the originals (+ d0, d19 as reals)
        held_lp = [r for r in video if Path(r["path"]).stem in ("d0", "d19")]
        base = [r for r in video if r["method"] != "liveportrait"] + held_lp
        ffpp_rows = [row for m in models for row in method_table(base, m)]
        print("\nFF++, per unseen method: fake clip vs the 3 originals (+ d0, d19):")
        print_table(ffpp_rows, ["model", "method", "fake_score", "max_original", "video_auc_vs_originals",
                                "crop_auc_vs_originals", "video_auc_vs_originals_lp", "crop_auc_vs_originals_lp"])
        lp_rows = driving_table([r for r in video if r["method"] == "liveportrait"], list(models), video_lines)
        print(f"\nLivePortrait driving clips (all real; d0, d19 never trained on; the video table's suspicious "
              f"line on face_crop alone = score {video_lines['suspicious']}):")
        print_table(lp_rows, list(lp_rows[0]))
        result.update(ffpp=ffpp_rows, driving=lp_rows, video_files=video)
    pictures = score(root, picture_files(root, args.pictures), models)
    pic_rows = [row for m in models for row in picture_table(pictures, m, image_lines)]
    print(f"\nfaces/ pictures never trained on (the picture table's lines on face_crop alone: {image_lines}):")
    print_table([r for r in pic_rows if r["set"] != "AUC"],
                ["model", "set", "label", "n_faces", "mean_score", "at_0.5", "at_suspicious", "at_manipulated"])
    print_table([r for r in pic_rows if r["set"] == "AUC"],
                ["model", "ciplab_splices_vs_ciplab_reals", "ciplab_splices_vs_heldout_reals"])
    result.update(pictures=pic_rows, picture_files=[{k: v for k, v in r.items()} for r in pictures])
    write_results(args.results, result)


if __name__ == "__main__":
    main()
