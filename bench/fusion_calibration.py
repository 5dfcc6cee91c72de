"""Calibrated fusion: the fitted table against the hand-set one, on the development set and held out.

Run: .venv/bin/python bench/fusion_calibration.py [--table src/dflab/detect/fusion_fitted.json] [--cache DIR]
Reads the cross-validated development-set figures from the fitted table's meta (written by `dflab train
fusion`; the video table and its image slot, each with its own development set), then scans the held-out manifests of ../shared/data/manifests once (records cached under --cache,
default /tmp/dflab_scan_cache) and fuses each file with both tables: AUC, ECE, Brier before (hand-set) and
after (fitted). Prints the table and writes bench/results/fusion_calibration.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import REPO, print_table, shared_data, write_results

HELD_OUT = ("ffpp_video.csv", "liveportrait_video.csv", "cnndetection_images.csv")


def figures(labels: np.ndarray, scores: np.ndarray) -> dict:
    from dflab.eval import metrics

    out = {"n": int(labels.size), "n_fake": int(labels.sum()),
           "ece": round(metrics.expected_calibration_error(labels, scores), 4),
           "brier": round(float(np.mean((scores - labels) ** 2)), 4),
           "mean_score": round(float(scores.mean()), 4)}
    auc = metrics.roc_auc(labels, scores)
    out["auc"] = None if not np.isfinite(auc) else round(float(auc), 4)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=REPO / "src" / "dflab" / "detect" / "fusion_fitted.json")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dflab_scan_cache"))
    parser.add_argument("--scanner", metavar="FINGERPRINT",
                        help="evaluate the cached records of this scanner version (default: the fitted table's, "
                        "so the fit and the held-out figures come from the same detectors)")
    args = parser.parse_args()
    from dflab.detect.fusion import FusionModel
    from dflab.eval.scan_records import fused_score, scan_manifest

    table = json.loads(args.table.read_text())
    meta = table["meta"]
    fitted, hand = FusionModel.from_table(table), FusionModel()
    scanner = args.scanner or meta.get("scanner")
    # Each media type's table was fitted on its own development set and scanner version (the image slot).
    slots = {"video": table, **(table.get("tables") or {})}
    scanners = {m: args.scanner or t["meta"].get("scanner") for m, t in slots.items()}
    rows = []
    for media_type, slot in slots.items():
        m = slot["meta"]
        shipped = "" if m["use_by_default"] else ", not shipped"
        rows += [{"set": f"{media_type} dev set, {m['n_files']} files, cross-validated",
                  "table": f"fitted ({m['chosen']}{shipped})", **m["cross_validated"]},
                 {"set": f"{media_type} dev set, {m['n_files']} files", "table": "hand-set", **m["hand_set"]}]
    held_out = {}
    data = shared_data()
    for name in HELD_OUT if data else ():
        media_type = "image" if "image" in name else "video"
        records, errors = scan_manifest(data / "manifests" / name, args.cache,
                                        fingerprint=scanners.get(media_type, scanner))
        labels = np.array([r["label"] for r in records], dtype=np.int64)
        entry = {"errors": errors}
        for tag, model in (("hand-set", hand), ("fitted", fitted)):
            scores = np.array([fused_score(r, model) for r in records])
            entry[tag] = figures(labels, scores)
            entry[tag]["scores"] = {r["path"]: round(float(s), 4) for r, s in zip(records, scores)}
            rows.append({"set": name, "table": tag, **{k: v for k, v in entry[tag].items() if k != "scores"}})
        held_out[name] = entry
    print_table(rows, ["set", "table", "auc", "ece", "brier"])
    write_results("fusion_calibration", {"scanner": scanner, "scanners": scanners, "table": str(args.table.relative_to(REPO) if args.table.is_relative_to(REPO) else args.table),
                                         "use_by_default": meta["use_by_default"], "dev_set": meta.get("trained_on"),
                                         "slots": {m: {"use_by_default": t["meta"]["use_by_default"],
                                                       "dev_set": t["meta"].get("trained_on")}
                                                   for m, t in slots.items()},
                                         "rows": rows, "held_out": held_out})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
