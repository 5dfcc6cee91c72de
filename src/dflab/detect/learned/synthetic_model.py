"""The classifier of the synthetic-image detector: L2-regularised logistic regression over standardised
spectral/residual features, fitted with L-BFGS in numpy/scipy (no extra dependency), stored as plain JSON.

Why a linear model: with 40 images per generator, anything more flexible learns the generators it saw
(gradient boosting did worse than logistic regression in the leave-one-generator-out table). Why JPEG
augmentation: every training image is also fed in re-compressed as JPEG (quality 85) with the same label, so
the model cannot use "was this file JPEG-compressed" as a shortcut, which would not survive the web.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dflab.atomic import write_text_atomic
from dflab.errors import BadMedia, NotFound, Unsupported, UsageError
from dflab.media.image import jpeg_roundtrip

FORMAT = "dflab-synthetic-image-v1"
DEFAULT_C = 0.1  # inverse L2 strength, chosen on the leave-one-generator-out table (see README of the detector)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class SyntheticImageModel:
    feature_names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict = field(default_factory=dict)

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of "generated" for a (n, d) or (d,) feature array."""
        x = (np.atleast_2d(features) - self.mean) / self.scale
        return x @ self.coef + self.intercept

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(features)))

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "feature_names": self.feature_names,
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file in the same folder, then rename): never a half-written model."""
        return write_text_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "SyntheticImageModel":
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"synthetic-image model {source} does not exist")
        try:
            data = json.loads(source.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            model = cls(
                feature_names=list(data["feature_names"]),
                mean=np.asarray(data["mean"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=float(data["intercept"]),
                meta=dict(data.get("meta", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{source} is not a synthetic-image model: {exc}") from None
        sizes = {len(model.feature_names), model.mean.size, model.scale.size, model.coef.size}
        if len(sizes) != 1 or not np.all(model.scale > 0):
            raise UsageError(f"{source}: inconsistent model arrays")
        return model


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = DEFAULT_C) -> tuple[np.ndarray, float]:
    """Minimise sum(log-loss) + ||w||^2 / (2c) (the intercept is not penalised), as scikit-learn's
    LogisticRegression(C=c) does, with L-BFGS. Returns (coef, intercept)."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    sign = np.where(np.asarray(y) > 0, 1.0, -1.0)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = sign * (x @ w + b)
        value = np.logaddexp(0.0, -margin).sum() + 0.5 * (w @ w) / c
        weight = -sign / (1.0 + np.exp(margin))  # d loss / d (x w + b)
        grad = np.concatenate([x.T @ weight + w / c, [weight.sum()]])
        return float(value), grad

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    return result.x[:-1], float(result.x[-1])


def fit_model(
    features: np.ndarray, labels: np.ndarray, names: Sequence[str], c: float = DEFAULT_C, meta: dict | None = None
) -> SyntheticImageModel:
    if len(set(np.asarray(labels).tolist())) < 2:
        raise UsageError("training needs both real and fake images")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)  # a constant feature carries no information; keep it inert
    coef, intercept = fit_logistic((features - mean) / scale, labels, c)
    return SyntheticImageModel(list(names), mean, scale, coef, intercept, dict(meta or {}))


# ---- data: a manifest's images -> feature rows (each image also as a re-compressed JPEG copy) -------------


@dataclass
class FeatureTable:
    features: np.ndarray  # (n, d) features of the images as stored
    jpeg_features: np.ndarray  # (n, d) the same images after a JPEG round trip
    labels: np.ndarray  # 1 = fake
    methods: list[str]
    paths: list[str]


def manifest_features(manifest_path: str | Path, progress: Callable[[int, int], None] | None = None) -> FeatureTable:
    """Features of every image of a manifest (path,label[,method]); a row that cannot be read is an error
    naming its line, because a training set with silent holes is not reproducible."""
    from dflab.detect.learned.spectral_features import image_features
    from dflab.eval.manifest import read_manifest
    from dflab.media import load_image_rgb

    manifest = read_manifest(manifest_path)
    feats, jpeg_feats, labels, methods, paths = [], [], [], [], []
    for i, row in enumerate(manifest.rows):
        if not row.file.is_file():
            raise NotFound(f"{manifest.path}, line {row.line}: {row.path} does not exist")
        try:
            rgb = load_image_rgb(row.file)
            feats.append(image_features(rgb))
            jpeg_feats.append(image_features(jpeg_roundtrip(rgb, JPEG_QUALITY)))
        except (BadMedia, Unsupported) as exc:
            raise type(exc)(f"{manifest.path}, line {row.line}: {exc}") from None
        labels.append(row.label)
        methods.append(row.method or "(none)")
        paths.append(row.path)
        if progress:
            progress(i + 1, len(manifest.rows))
    return FeatureTable(np.array(feats), np.array(jpeg_feats), np.array(labels), methods, paths)


def fit_table(table: FeatureTable, names: Sequence[str], mask: np.ndarray | None = None, c: float = DEFAULT_C,
              augment_jpeg: bool = True, meta: dict | None = None) -> SyntheticImageModel:
    mask = np.ones(len(table.labels), bool) if mask is None else mask
    x, y = table.features[mask], table.labels[mask]
    if augment_jpeg:
        x, y = np.vstack([x, table.jpeg_features[mask]]), np.concatenate([y, y])
    return fit_model(x, y, names, c, meta)


def leave_one_group_out(table: FeatureTable, names: Sequence[str], c: float = DEFAULT_C,
                        augment_jpeg: bool = True) -> dict[str, dict]:
    """For each method: train on every other method, score the held-out method's images as stored and
    after a JPEG round trip. Returns {method: {auc, auc_jpeg, n_real, n_fake}} plus "mean"."""
    from dflab.eval.metrics import roc_auc

    methods = np.asarray(table.methods)
    table_out: dict[str, dict] = {}
    for held in sorted(set(table.methods)):
        test = methods == held
        model = fit_table(table, names, ~test, c, augment_jpeg)
        y = table.labels[test]
        table_out[held] = {
            "auc": float(roc_auc(y, model.predict_proba(table.features[test]))),
            "auc_jpeg": float(roc_auc(y, model.predict_proba(table.jpeg_features[test]))),
            "n_real": int((y == 0).sum()),
            "n_fake": int((y == 1).sum()),
        }
    aucs = [v["auc"] for v in table_out.values() if np.isfinite(v["auc"])]
    jpeg = [v["auc_jpeg"] for v in table_out.values() if np.isfinite(v["auc_jpeg"])]
    table_out["mean"] = {"auc": float(np.mean(aucs)) if aucs else float("nan"),
                         "auc_jpeg": float(np.mean(jpeg)) if jpeg else float("nan")}
    return table_out
