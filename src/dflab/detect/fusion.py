"""Fusing evidence into one probability per face track and per file.

Each evidence contributes `weight * confidence * logit(score)` to a log-odds sum (a naive-Bayes style
combination: a cue at 0.5 or with confidence 0 adds nothing). The logit is clipped asymmetrically: each
cue looks for one kind of artefact and a given fake may simply not have it, so "found nothing" is weak
evidence of authenticity (at most logit 0.27) while a found artefact can speak loudly. Without the floor,
six cues that each see nothing out-vote one that sees a blended face. The weights are data, not code:
the default table below was set by hand from the development clips; `FusionModel.load(path)` takes a
fitted table (issue: calibrated fusion) with the same shape. A fitted table may name the media types it
was fitted on (`media_types`, e.g. only video): `for_media` then gives that table to those media and the
hand-set one to the rest, since images and audio are judged by other detectors than videos; further
tables for other media types ride along under "tables" (the image slot beside the video table).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.detect.evidence import Evidence
from dflab.detect.timeline import logit, sigmoid

DEFAULT_WEIGHTS = {
    "blink": 0.6,
    "boundary": 1.0,
    "skin_tone": 0.7,
    "head_pose": 0.6,
    "spectrum": 0.3,  # at chance on cnndetection (AUC 0.49): kept informative, barely weighted
    "identity_drift": 0.6,
    "speed": 0.8,  # held-out accuracy 75 % (80 % on changed, 46 % on natural clips): bench/speed_accuracy.py
    "synthetic_speech": 1.0,
    "speaker_match": 0.5,  # a voice that is not the claimed person's is suspicious, not proof of a fake
    "cuts": 0.8,
    "lip_sync": 0.7,
    "synthetic_image": 0.8,  # learned; leave-one-generator-out AUC on cnndetection in its model meta
    "face_crop": 0.6,  # learned (EfficientNet-Lite0 + SBI); leave-one-method-out AUC on ffpp is weak (bench/results/face_crop_eval.json)
}


@dataclass(frozen=True)
class FusionModel:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bias: float = 0.0
    default_weight: float = 0.5  # for detectors the table does not know yet
    min_log_odds: float = -1.0  # "no artefact here" counts for at most p = 0.27 per cue
    max_log_odds: float = 4.6  # p = 0.99
    # media type -> (weights, bias) of a table fitted for that type only; other types use weights/bias above
    per_media: dict[str, tuple[dict[str, float], float]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> FusionModel:
        """The fitted table shipped in the package (detect/calibration.py), else the hand-set one.

        Detectors the fitted table does not cover keep their hand-set weight."""
        from dflab.detect.calibration import packaged_table

        table = packaged_table()
        return cls() if table is None else cls.from_table(table)

    @classmethod
    def from_table(cls, table: dict) -> FusionModel:
        """A fitted table (weights, bias, optional media_types) over the hand-set defaults, plus the
        tables of other media types it carries under "tables" (e.g. {"image": {weights, bias, ...}})."""
        def parsed(t: dict) -> tuple[dict[str, float], float]:
            return {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in t["weights"].items()}}, float(t.get("bias", 0.0))

        base, per_media = cls(), {}
        if "weights" in table:
            media_types = table.get("media_types")
            if not media_types:  # a table for every media type
                weights, bias = parsed(table)
                base = cls(weights=weights, bias=bias)
            else:
                per_media.update({str(m): parsed(table) for m in media_types})
        for slot in (table.get("tables") or {}).values():
            per_media.update({str(m): parsed(slot) for m in slot.get("media_types") or []})
        return cls(weights=base.weights, bias=base.bias, per_media=per_media)

    @classmethod
    def load(cls, path: str | Path) -> FusionModel:
        return cls.from_table(json.loads(Path(path).read_text()))

    def for_media(self, media_type: str) -> FusionModel:
        """The model that fuses evidence of this media type (a fitted per-media table, else this one)."""
        if media_type not in self.per_media:
            return self
        weights, bias = self.per_media[media_type]
        return FusionModel(weights=dict(weights), bias=bias, default_weight=self.default_weight,
                           min_log_odds=self.min_log_odds, max_log_odds=self.max_log_odds)

    def _log_odds(self, evidence: Evidence, score):
        """This evidence's share of the log-odds, for one score or an array of per-frame scores."""
        weight = self.weights.get(evidence.name, self.default_weight)
        return weight * evidence.confidence * np.clip(logit(score), self.min_log_odds, self.max_log_odds)

    def fuse(self, evidences: list[Evidence], track_id: int | None = None) -> float:
        """Probability of manipulation from a set of evidence, optionally using per-track scores."""
        decisive = [e for e in evidences if e.decisive and e.confidence > 0]
        if decisive:
            return max(e.score for e in decisive)
        total = self.bias
        for evidence in evidences:
            score = evidence.track_scores.get(track_id, evidence.score) if track_id is not None else evidence.score
            total += float(self._log_odds(evidence, score))
        return float(sigmoid(total))

    def fuse_series(self, evidences: list[Evidence], times: np.ndarray) -> np.ndarray:
        """A fused per-frame score on `times`, from the cues that give a per-frame "score" series."""
        total = np.full(len(times), self.bias, dtype=np.float64)
        for evidence in evidences:
            series = evidence.series.get("score")
            if series is None or evidence.times is None or len(evidence.times) == 0:
                total += self._log_odds(evidence, evidence.score)  # constant over time
                continue
            total += self._log_odds(evidence, np.interp(times, evidence.times, series))
        return sigmoid(total)
