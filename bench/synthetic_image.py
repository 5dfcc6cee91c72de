"""The synthetic-image detector beside the MesoNet baseline: leave-one-generator-out AUC on cnndetection, and
AUC of the detector alone vs MesoNet (Meso4_DF) on cnndetection and the ffpp clips, through dflab.eval.

Run: .venv/bin/python bench/synthetic_image.py [--skip-ffpp]
Prints the tables and writes bench/results/synthetic_image.json. About 3 minutes on 2 cores (ffpp ~1-2 min).
The shipped model was fitted on all of cnndetection, so its cnndetection AUC is in-sample; the
leave-one-generator-out column is the honest figure for unseen generators.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from dflab.eval.manifest import read_manifest
from dflab.eval.runner import run_eval
from dflab.eval.summary import text_table

RESULTS = Path(__file__).resolve().parent / "results" / "synthetic_image.json"
SHARED = Path(os.environ.get("DFLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def detector_only(path: Path) -> float:
    """The synthetic_image detector alone, on the frames the scanner would decode (no face analysis)."""
    from dflab.config import SamplingPolicy
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import load

    media = load(path, policy=SamplingPolicy(all_frames_up_to_s=0, rate_fps=1), with_audio=False)
    return create_detector("synthetic_image").detect(AnalysedMedia(media)).score


def evaluate(manifest_path: Path) -> dict:
    manifest = read_manifest(manifest_path)
    start = time.perf_counter()
    result = run_eval(manifest, detector_only, baselines=["mesonet"], n_boot=1000)
    print(f"\n{manifest_path.name} (ours = synthetic_image detector alone)")
    print(text_table(result))
    out = result.to_json()
    out.pop("rows")
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-ffpp", action="store_true")
    args = parser.parse_args()
    from dflab.detect.learned.spectral_features import feature_names
    from dflab.detect.learned.synthetic_model import leave_one_group_out, manifest_features

    cnn = SHARED / "manifests" / "cnndetection_images.csv"
    start = time.perf_counter()
    loo = leave_one_group_out(manifest_features(cnn), feature_names())
    print(f"leave-one-generator-out on {cnn.name} ({time.perf_counter() - start:.0f} s)")
    print(f"{'held out':<12}{'AUC':>7}{'AUC JPEG q85':>14}")
    for method, row in loo.items():
        print(f"{method:<12}{row['auc']:>7.3f}{row['auc_jpeg']:>14.3f}")
    results = {"machine": platform.platform(), "cpus": os.cpu_count(), "leave_one_generator_out": loo,
               "cnndetection": evaluate(cnn)}
    if not args.skip_ffpp:
        results["ffpp"] = evaluate(SHARED / "manifests" / "ffpp_video.csv")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
