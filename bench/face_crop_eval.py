"""Leave-one-method-out figures for the face-crop detector, and the data for calibrated fusion.

Needs the shipped model and one model per ffpp method trained without that method's clip and its
original (`dflab train detector --preset full --leave-out METHOD --out DIR/lomo_METHOD.pt`). Every
evaluation file (the 7 ffpp clips and the liveportrait clips the data list holds out) is scanned once
with every detector; then each fold model scores the same analysed faces.

LOMO video AUC for a method: its fake clip vs the held-out reals (its paired original, when ffpp has it,
plus the held-out liveportrait clips), all scored by the model that never saw that footage. With one fake
clip per method this is a rank (1.0 = the fake scores above every held-out real); the crop-level AUC over
the sampled crops of the same clips is given beside it.

Calibration: the scan records, with each ffpp file's face_crop evidence replaced by its out-of-fold score,
feed dflab.detect.calibration.fit_table; --write-fusion stores the fitted table in the package.

Run: .venv/bin/python bench/face_crop_eval.py --models /tmp/fc_models [--write-fusion]
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

METHODS = {"Deepfakes": "519", "FaceSwap": "634", "NeuralTextures": "004", "Face2Face": None}
FFPP = "ffpp/{kind}/c23/videos/{name}.mp4"


def eval_files(root: Path) -> list[dict]:
    from dflab.detect.learned.face_crop_data import default_data_list

    files = []
    for method, original in METHODS.items():
        fake = {"Deepfakes": "519_515", "FaceSwap": "634_660", "NeuralTextures": "004_982", "Face2Face": "750_743"}[method]
        files.append({"path": root / FFPP.format(kind=f"manipulated_sequences/{method}", name=fake), "label": 1,
                      "method": method, "group": f"ffpp-{fake.split('_')[0]}"})
    for original in ("004", "519", "634"):
        files.append({"path": root / FFPP.format(kind="original_sequences/youtube", name=original), "label": 0,
                      "method": "original", "group": f"ffpp-{original}"})
    for item in default_data_list(root):
        if item.role == "heldout" and item.path.suffix == ".mp4":
            files.append({"path": item.path, "label": 0, "method": "liveportrait", "group": item.group})
    return files


def scan_all(files: list[dict], models: dict[str, Path]) -> list[dict]:
    from dflab.detect.learned.face_crop import FaceCropDetector
    from dflab.detect.scan import scan_file

    records = []
    for f in files:
        start = time.perf_counter()
        result = scan_file(f["path"])
        subject = result.analysed
        evidence = [e.to_json() for e in result.evidence]
        folds = {}
        for name, weights in models.items():
            ev = FaceCropDetector(weights=str(weights)).detect(subject) if subject.tracks else None
            folds[name] = None if ev is None else {
                "score": ev.score, "confidence": ev.confidence, "name": "face_crop",
                "track_scores": {str(k): v for k, v in ev.track_scores.items()},
                "crop_scores": [round(float(x), 5) for x in ev.series.get("score", [])]}
        records.append({"path": str(f["path"].relative_to(shared_data())), "label": f["label"], "method": f["method"],
                        "group": f["group"], "tracks": [t.track_id for t in subject.tracks],
                        "scan_score": result.score, "evidence": evidence, "folds": folds,
                        "seconds": round(time.perf_counter() - start, 1)})
        print(f"  {records[-1]['path']}: scan {result.score:.3f} "
              + " ".join(f"{k}={v['score']:.3f}" for k, v in folds.items() if v) + f" ({records[-1]['seconds']} s)",
              flush=True)
    return records


def _auc(labels, scores) -> float:
    from dflab.eval.metrics import roc_auc

    return float(roc_auc(np.asarray(labels), np.asarray(scores)))


def lomo_table(records: list[dict]) -> list[dict]:
    rows = []
    for method, original in METHODS.items():
        fold = f"lomo_{method}"
        fake = [r for r in records if r["method"] == method]
        reals = [r for r in records if r["label"] == 0 and (r["method"] == "liveportrait" or r["group"] == f"ffpp-{original}")]
        use = [r for r in fake + reals if r["folds"].get(fold)]
        labels = [r["label"] for r in use]
        scores = [r["folds"][fold]["score"] for r in use]
        crop_labels = [r["label"] for r in use for _ in r["folds"][fold]["crop_scores"]]
        crop_scores = [s for r in use for s in r["folds"][fold]["crop_scores"]]
        rows.append({"method": method, "n_fake": sum(labels), "n_real": len(labels) - sum(labels),
                     "fake_score": fake[0]["folds"][fold]["score"] if fake and fake[0]["folds"].get(fold) else None,
                     "max_real_score": max((s for s, lab in zip(scores, labels) if lab == 0), default=None),
                     "video_auc": _auc(labels, scores), "crop_auc": _auc(crop_labels, crop_scores),
                     "n_crops": len(crop_scores)})
    return rows


def calibration_records(records: list[dict]) -> list[dict]:
    """Scan records with each ffpp file's face_crop evidence replaced by a model that never saw it."""
    out = []
    for r in records:
        fold = None
        if r["method"] in METHODS:
            fold = f"lomo_{r['method']}"
        elif r["method"] == "original":
            fold = next(f"lomo_{m}" for m, o in METHODS.items() if o and r["group"] == f"ffpp-{o}")
        evidence = [e for e in r["evidence"] if e["name"] != "face_crop"]
        replacement = r["folds"].get(fold) if fold else None
        if replacement is not None:
            evidence.append({k: v for k, v in replacement.items() if k != "crop_scores"})
        elif fold is None:  # held-out liveportrait: the shipped model never saw it either
            evidence += [e for e in r["evidence"] if e["name"] == "face_crop"]
        out.append({**r, "evidence": evidence})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="/tmp/fc_models", help="folder with lomo_<METHOD>.pt")
    parser.add_argument("--records", help="reuse a records JSON instead of scanning again")
    parser.add_argument("--write-fusion", action="store_true", help="write the fitted table into the package")
    args = parser.parse_args()
    root = shared_data()
    if root is None:
        sys.exit("needs ../shared/data")
    if args.records:
        records = json.loads(Path(args.records).read_text())
    else:
        models = {p.stem: p for p in sorted(Path(args.models).glob("lomo_*.pt"))}
        records = scan_all(eval_files(root), models)
        (Path(args.models) / "records.json").write_text(json.dumps(records))
    rows = lomo_table(records)
    print("\nleave-one-method-out (trained without the method's clip and its original):")
    print_table(rows, ["method", "n_fake", "n_real", "fake_score", "max_real_score", "video_auc", "crop_auc", "n_crops"])
    from dflab.detect.calibration import PACKAGED_NAME, fit_table

    table = fit_table(calibration_records(records))
    meta = table["meta"]
    print(f"\ncalibrated fusion ({meta['chosen']}; CV Brier {meta['cv_brier']}) on {meta['n_files']} files ({meta['n_fake']} fake), leave-one-group-out:")
    print_table([{"table": k, **meta[k]} for k in ("cross_validated", "in_sample", "hand_set")],
                ["table", "auc", "ece", "brier"])
    print("weights:", table["weights"], "bias:", table["bias"])
    if args.write_fusion:
        out = REPO / "src/dflab/detect" / PACKAGED_NAME
        out.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {out.relative_to(REPO)}")
    shipped = {r["path"]: r["evidence"] for r in records}
    write_results("face_crop_eval", {
        "lomo": rows, "calibration": {"weights": table["weights"], "bias": table["bias"], **meta},
        "files": [{"path": r["path"], "label": r["label"], "method": r["method"], "scan_score": r["scan_score"],
                   "face_crop_shipped": next((e["score"] for e in shipped[r["path"]] if e["name"] == "face_crop"), None),
                   "folds": {k: (v["score"] if v else None) for k, v in r["folds"].items()}} for r in records],
    })


if __name__ == "__main__":
    main()
