"""Out-of-fold evidence of the synthetic_image finding's older members, `synthetic_image` and `spectrum`, on
the development set (dflab.train.synthetic_image_data), for fitting the finding's combiner.

Each picture is decoded as a scan decodes it (dflab.media.load) and given to the registered detector, so the
score and the confidence are the ones a scan would see. `spectrum` is hand-set (nothing to leave out).
`synthetic_image` ships fitted on all of cnndetection, so on a cnndetection picture its shipped score would be
in-sample: there the model is refitted without the picture's generator, exactly as the shipped one was made
(features of every image plus a JPEG copy, the same regularisation), and that refit scores it. The face
pictures were never part of its training, so the shipped model scores them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from dflab.train.synthetic_image_data import Picture

MEMBERS = ("synthetic_image", "spectrum")


def _evidence(detector, path: Path) -> dict:
    from dflab.detect.context import AnalysedMedia
    from dflab.media import load

    ev = detector.detect(AnalysedMedia(load(path, with_audio=False)))
    return {"score": float(ev.score), "confidence": float(ev.confidence)}


def _cnndetection_refits(pictures: list[Picture], shared: Path) -> dict[str, float]:
    """P(generated) of each cnndetection picture by the synthetic_image model fitted without its generator."""
    from dflab.detect.learned.spectral_features import feature_names
    from dflab.detect.learned.synthetic_model import fit_table, manifest_features

    table = manifest_features(shared / "manifests" / "cnndetection_images.csv")
    methods = np.asarray(table.methods)
    by_path = {}
    for held in sorted(set(table.methods)):
        test = methods == held
        model = fit_table(table, feature_names(), ~test)
        for path, p in zip(np.asarray(table.paths)[test], model.predict_proba(table.features[test])):
            by_path[str((shared / "manifests" / path).resolve())] = float(p)
    return by_path


def member_evidence(pictures: list[Picture], shared: Path, cache: Path | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, list[dict]]:
    """{member: [{"score", "confidence"} per picture]}, out of fold; read from / written to `cache` (JSON)."""
    from dflab.detect.registry import create_detector

    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("paths") == [str(p.path) for p in pictures]:
            return stored["evidence"]
    detectors = {name: create_detector(name) for name in MEMBERS}
    refits = _cnndetection_refits(pictures, shared)
    out: dict[str, list[dict]] = {name: [] for name in MEMBERS}
    for i, picture in enumerate(pictures):
        for name, detector in detectors.items():
            ev = _evidence(detector, picture.path)
            if name == "synthetic_image" and str(picture.path) in refits:
                ev["score"] = refits[str(picture.path)]
            out[name].append(ev)
        if progress:
            progress(i + 1, len(pictures))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"paths": [str(p.path) for p in pictures], "evidence": out}))
    return out
