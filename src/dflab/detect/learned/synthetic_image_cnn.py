"""Detector "synthetic_image_cnn": was this picture made by a generator? A small CNN over neighbouring-pixel
relationships (synthetic_cnn_model.py), trained leave-one-generator-out on faces and cnndetection
(`python -m dflab.train.synthetic_image_cnn`; model card: docs/models/synthetic_image_cnn.md).

The picture is read at its native resolution (an image larger than the analysis size is refused as
"resampled": down-scaling erases the traces), re-compressed once as JPEG as in training, and up to nine crops
are scored. The score is P(generated), Platt-scaled on the out-of-fold scores of the development pictures.
On video, a few key frames are scored with low confidence: a video codec removes most of what it reads.
"""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.learned.picture_frames import input_kind, score_spread_frames, spread_frames
from dflab.detect.learned.synthetic_cnn_model import CROP
from dflab.detect.registry import register_detector

CONFIDENCE = {"image": 0.7, "image_resampled": 0.3, "video": 0.1}


def calibrated(log_odds: float, meta: dict) -> float:
    """P(generated) from the network's mean log-odds, with the Platt scaling stored beside the weights."""
    platt = meta.get("platt") or {"weight": 1.0, "bias": 0.0}
    z = float(platt["weight"]) * log_odds + float(platt["bias"])
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))


def score_rgb(rgb: np.ndarray, weights: str | None = None) -> tuple[float, np.ndarray]:
    """(P(generated), per-crop log-odds) of one RGB uint8 picture at native resolution. BadMedia when the
    picture is smaller than one crop."""
    from dflab.detect.learned.synthetic_cnn_model import cached_net, picture_log_odds

    net, meta = cached_net(weights)
    mean, per_crop = picture_log_odds(net, rgb)
    return calibrated(mean, meta), per_crop


@register_detector("synthetic_image_cnn")
class SyntheticImageCnnDetector:
    media_types = ("image", "video")
    needs_faces = False

    def __init__(self, weights: str | None = None) -> None:
        self.weights = weights

    def frames_wanted(self, media: AnalysedMedia) -> list[int]:
        """The frame positions `detect` reads (the scan decodes them together with other cues' frames)."""
        return spread_frames(media)

    def detect(self, media: AnalysedMedia) -> Evidence:
        frames = media.media.frames
        if not frames or min(frames[0].rgb.shape[:2]) < CROP:
            return not_applicable(self.name, f"The picture is smaller than {CROP} pixels, too small to analyse.")
        picks, scored, score = score_spread_frames(media, lambda rgb: score_rgb(rgb, self.weights))
        kind = input_kind(media)
        why = {"video": " Video compression removes most of what this model reads, so it counts little.",
               "image_resampled": " The image was downscaled for analysis, which erases these traces.",
               "image": ""}[kind]
        judgement = ("typical of generated pictures" if score >= 0.6 else
                     "as in camera pictures" if score < 0.4 else "inconclusive")
        return Evidence(
            name=self.name,
            score=score,
            confidence=CONFIDENCE[kind],
            summary=f"The neighbouring-pixel CNN gives P(generated) = {score:.2f}: {judgement}.{why}",
            details={
                "frames": [int(frames[i].index) for i in picks],
                "crops": [int(len(c)) for _, c in scored],
                "crop_log_odds": [[round(float(v), 3) for v in c] for _, c in scored],
            },
        )
