"""Detector "synthetic_image": is this picture made by a generator (GAN, diffusion, image-to-image, ...)?

Spectral and noise-residual features (spectral_features.py) scored by a logistic regression fitted on
../shared/data/cnndetection (8 generators; `dflab train synthetic-image` reproduces it). The weights ship
inside the package as a few kB of JSON, loaded on first use, offline.

What it is good for, measured (leave-one-generator-out, see the model's `meta`): better than chance on most
unseen generators, far from perfect. Video codecs and resizing remove the high frequencies it reads, so on
video and on downscaled images its confidence is low.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.learned.picture_frames import input_kind, score_spread_frames, spread_frames
from dflab.detect.learned.spectral_features import MIN_SIDE, PATCH, patch_features, patches
from dflab.detect.learned.synthetic_model import SyntheticImageModel
from dflab.detect.registry import register_detector

WEIGHTS = Path(__file__).resolve().parent / "weights" / "synthetic_image.json"
CONFIDENCE = {"image": 0.6, "image_small": 0.3, "image_resampled": 0.3, "video": 0.1}


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> SyntheticImageModel:
    """The shipped model (or the one at `path`), read once per process."""
    return SyntheticImageModel.load(path or WEIGHTS)


def score_rgb(rgb: np.ndarray, model: SyntheticImageModel | None = None) -> tuple[float, list[float]]:
    """P(generated) of one RGB uint8 image: the mean log-odds over up to 4 PATCH-sized tiles, and the
    per-tile probabilities. Raises BadMedia for images smaller than MIN_SIDE."""
    model = model or load_model()
    tiles = patches(rgb)
    log_odds = model.decision(np.stack([patch_features(t) for t in tiles]))
    probability = float(1.0 / (1.0 + np.exp(-log_odds.mean())))
    return probability, [float(v) for v in 1.0 / (1.0 + np.exp(-log_odds))]


def score_file(path: str | Path) -> float:
    """P(generated) of an image file at full resolution (for evaluation scripts)."""
    from dflab.media import load_image_rgb

    return score_rgb(load_image_rgb(Path(path)))[0]


@register_detector("synthetic_image")
class SyntheticImageDetector:
    media_types = ("image", "video")
    needs_faces = False

    def __init__(self, weights: str | None = None) -> None:
        self.weights = weights

    def frames_wanted(self, media: AnalysedMedia) -> list[int]:
        """The frame positions `detect` reads (the scan decodes them together with other cues' frames)."""
        return spread_frames(media)

    def detect(self, media: AnalysedMedia) -> Evidence:
        frames = media.media.frames
        if not frames or min(frames[0].rgb.shape[:2]) < MIN_SIDE:
            return not_applicable(self.name, f"The picture is smaller than {MIN_SIDE} pixels, too small to analyse.")
        model = load_model(self.weights)
        picks, scored, score = score_spread_frames(media, lambda rgb: score_rgb(rgb, model))
        kind = input_kind(media)
        if kind == "image" and min(frames[0].rgb.shape[:2]) < PATCH:
            kind = "image_small"
        why = {"video": " Video compression removes most of what this detector reads, so it counts little.",
               "image_resampled": " The image was downscaled for analysis, which weakens these traces.",
               "image_small": f" The image is smaller than the {PATCH}-pixel patches the model was fitted on.",
               "image": ""}[kind]
        judgement = (
            "typical of generated images" if score >= 0.6 else "as in camera images" if score < 0.4 else "inconclusive"
        )
        return Evidence(
            name=self.name,
            score=score,
            confidence=CONFIDENCE[kind],
            summary=f"Spectral and noise-residual statistics give P(generated) = {score:.2f}: {judgement}.{why}",
            details={
                "frames": [int(frames[i].index) for i in picks],
                "tile_scores": [[round(v, 4) for v in tiles] for _, tiles in scored],
                "model": model.meta.get("trained_on", "unknown"),
            },
        )
