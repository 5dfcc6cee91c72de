"""The network of the `synthetic_image_cnn` detector: a small CNN over neighbouring-pixel relationships (NPR).

Generators build a picture up by up-sampling (transposed convolutions, nearest or bilinear interpolation, the
decoder of a latent-diffusion VAE), so neighbouring pixels inside each 2x2 cell are related in a way camera
pictures are not. NPR (Tan et al., CVPR 2024) makes that relation the input: x - up(down(x)), with nearest
neighbour down- and up-sampling, i.e. each pixel minus the top-left pixel of its 2x2 cell. The content mostly
cancels; what is left is the local correlation structure. Here the residual is folded into 12 channels at
half resolution (pixel_unshuffle: the four positions of each cell side by side), then six 3x3 convolutions
with batch norm, global average pooling and one logit. About 0.1 M parameters (a few hundred kB in float16).

Input handling is part of the model, because training and scanning must see pixels the same way:
every picture is first re-compressed once as JPEG (quality JPEG_QUALITY) at its native size, so that the
container (PNG, JPEG of any quality) does not tell real from generated; it is never resized (resampling
erases the traces); then up to MAX_CROPS crops of CROP pixels, spread evenly over the picture, are scored
and their log-odds averaged.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from dflab.atomic import atomic_output
from dflab.errors import BadMedia, NotFound
from dflab.media.image import jpeg_roundtrip

FORMAT_VERSION = 1
CROP = 96  # px; NPR needs no context, and small crops keep CPU training affordable
MAX_CROPS = 9  # a 3x3 grid over the picture (fewer when the picture is small)
JPEG_QUALITY = 80
WIDTH = 24  # channels of the first stage; the later stages have 2x and 4x
WEIGHTS_PACKAGE = "dflab.detect.learned.weights"
WEIGHTS_NAME = "synthetic_image_cnn.pt"


def build_net(width: int = WIDTH):
    """The network (torch is imported here, lazily, so that importing this module stays cheap)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def stage(c_in: int, c_out: int, stride: int):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                             nn.ReLU(inplace=True))

    class NprNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.body = nn.Sequential(stage(12, w, 1), stage(w, w, 1), stage(w, 2 * w, 2), stage(2 * w, 2 * w, 1),
                                      stage(2 * w, 4 * w, 2), stage(4 * w, 4 * w, 1))
            self.fc = nn.Linear(4 * w, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """uint8-range float (N, 3, H, W), H and W even -> log-odds of "generated" (N,)."""
            x = npr_residual(x / 255.0) * 4.0  # x4: the residual of a typical picture then has unit-ish scale
            x = F.pixel_unshuffle(x, 2)
            return self.fc(self.body(x).mean(dim=(2, 3)))[:, 0]

    return NprNet()


def npr_residual(x):
    """x - nearest_up(nearest_down(x)) on a (N, C, H, W) tensor with even H and W: each pixel minus the
    top-left pixel of its 2x2 cell (so a quarter of the values are exactly 0)."""
    corner = x[:, :, ::2, ::2]
    return x - corner.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def check_rgb(rgb: np.ndarray) -> None:
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        raise BadMedia(f"expected an RGB uint8 picture, got {getattr(rgb, 'dtype', type(rgb))} "
                       f"{getattr(rgb, 'shape', '')}")
    if min(rgb.shape[:2]) < CROP:
        raise BadMedia(f"the picture is {rgb.shape[1]}x{rgb.shape[0]}: at least {CROP} pixels a side are needed")


def grid_crops(rgb: np.ndarray, size: int = CROP, max_crops: int = MAX_CROPS) -> list[np.ndarray]:
    """Up to `max_crops` crops of size x size spread evenly over the picture (3x3 when it is large enough to
    hold them without overlap, fewer positions along a side that is not). Offsets are even, so the 2x2 cells
    of every crop are cells of the picture."""
    per_side = int(round(np.sqrt(max_crops)))
    height, width = rgb.shape[:2]

    def offsets(length: int) -> list[int]:
        count = max(1, min(per_side, length // size))
        spots = np.linspace(0, length - size, count).round().astype(int)
        return sorted({int(s) - int(s) % 2 for s in spots})

    return [rgb[y : y + size, x : x + size] for y in offsets(height) for x in offsets(width)]


def to_tensor(crops: list[np.ndarray] | np.ndarray):
    import torch

    arr = np.ascontiguousarray(np.stack(list(crops)))
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float()


def save_weights(net, path: str | Path, meta: dict) -> Path:
    """The state dict in float16 (batch-norm counters stay integers) with `meta`, written atomically."""
    import torch

    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach()
             for k, v in net.state_dict().items()}
    payload = {"format": FORMAT_VERSION, "meta": dict(meta), "state": state}
    path = Path(path)
    with atomic_output(path, mode=0o644) as tmp:
        torch.save(payload, tmp)
    return path


def load_net(path: str | Path):
    """(network in eval mode, meta) from a file written by save_weights; anything else is BadMedia."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"synthetic-image CNN weights {path} do not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not its own
        raise BadMedia(f"{path} is not a dflab synthetic-image CNN weights file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or "state" not in payload:
        raise BadMedia(f"{path} is not a dflab synthetic-image CNN weights file (format {FORMAT_VERSION})")
    meta = dict(payload.get("meta") or {})
    net = build_net(int(meta.get("width", WIDTH)))
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state"].items()}
    try:
        net.load_state_dict(state)
    except RuntimeError:
        raise BadMedia(f"{path}: the weights do not fit the synthetic-image CNN") from None
    net.eval()
    for param in net.parameters():
        param.requires_grad = False
    return net, meta


def shipped_weights_path() -> Path:
    path = Path(str(resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_NAME)))
    if not path.is_file():
        raise NotFound(f"the shipped synthetic-image CNN weights {WEIGHTS_NAME} are missing from {WEIGHTS_PACKAGE}")
    return path


@lru_cache(maxsize=4)
def cached_net(path: str | None = None):
    """Loaded once per process, on first use: (network, meta)."""
    return load_net(path or shipped_weights_path())


def crop_log_odds(net, crops: list[np.ndarray], threads: int | None = 1) -> np.ndarray:
    """Log-odds of "generated" per crop (float64). One torch thread by default: the crops are few and small,
    and a scan decodes and tracks faces on the other core."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            return net(to_tensor(crops)).double().numpy()
    finally:
        torch.set_num_threads(before)


def picture_log_odds(net, rgb: np.ndarray, threads: int | None = 1) -> tuple[float, np.ndarray]:
    """(mean log-odds over the crops, per-crop log-odds) of one RGB uint8 picture at native resolution."""
    check_rgb(rgb)
    per_crop = crop_log_odds(net, grid_crops(jpeg_roundtrip(rgb, JPEG_QUALITY)), threads)
    return float(per_crop.mean()), per_crop
