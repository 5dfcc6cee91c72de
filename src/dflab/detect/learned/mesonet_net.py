"""Meso4 and MesoInception4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network",
WIFS 2018, arXiv 1809.00888) in PyTorch, and a loader for the authors' published Keras 2 weights (HDF5).

Written from the paper's description and the layer shapes stored in the .h5 files. What has to be
translated from Keras (channels-last) to PyTorch (channels-first):
- conv kernels are (kh, kw, in, out) in Keras and (out, in, kh, kw) here;
- BatchNormalization stores gamma, beta, moving_mean, moving_variance and uses epsilon 1e-3 (Keras default),
  PyTorch's default is 1e-5, so the epsilon is set explicitly;
- Dense kernels are (in, out), PyTorch Linear weights (out, in);
- Keras flattens (H, W, C) in that order, so the feature map is permuted to channels-last before flattening,
  which lets the Dense weights be used as stored;
- padding "same" with odd kernels (and dilations 2 and 3 in the Inception branches) is symmetric, and
  every pooling here divides the map exactly, so "same" pooling equals PyTorch's default.
The last layer is a sigmoid whose meaning comes from the authors' data loader (classes sorted by folder
name: "df" = 0, "real" = 1): the network outputs P(real). `p_fake` in mesonet.py turns it around.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dflab.errors import UsageError

KERAS_BN_EPSILON = 1e-3
INPUT_SIDE = 256


class _ConvBlock(nn.Module):
    """conv (ReLU) -> batch norm -> max pool, the repeated unit of both networks."""

    def __init__(self, c_in: int, c_out: int, kernel: int, pool: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(c_out, eps=KERAS_BN_EPSILON)
        self.pool = nn.MaxPool2d(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.bn(torch.relu(self.conv(x))))


class _Inception(nn.Module):
    """Four branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 dilation 2; 1x1 -> 3x3 dilation 3."""

    def __init__(self, c_in: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(c_in, a, 1)
        self.b2_1, self.b2_3 = nn.Conv2d(c_in, b, 1), nn.Conv2d(b, b, 3, padding=1)
        self.b3_1, self.b3_3 = nn.Conv2d(c_in, c, 1), nn.Conv2d(c, c, 3, padding=2, dilation=2)
        self.b4_1, self.b4_3 = nn.Conv2d(c_in, d, 1), nn.Conv2d(d, d, 3, padding=3, dilation=3)

    def convs_in_keras_order(self) -> list[nn.Conv2d]:
        return [self.b1, self.b2_1, self.b2_3, self.b3_1, self.b3_3, self.b4_1, self.b4_3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu = torch.relu
        return torch.cat(
            [
                relu(self.b1(x)),
                relu(self.b2_3(relu(self.b2_1(x)))),
                relu(self.b3_3(relu(self.b3_1(x)))),
                relu(self.b4_3(relu(self.b4_1(x)))),
            ],
            dim=1,
        )


class _InceptionBlock(nn.Module):
    def __init__(self, c_in: int, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.inception = _Inception(c_in, *widths)
        self.bn = nn.BatchNorm2d(sum(widths), eps=KERAS_BN_EPSILON)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.bn(self.inception(x)))


class _Head(nn.Module):
    """Flatten (channels-last order, as Keras) -> dropout -> dense 16 -> LeakyReLU(0.1) -> dropout -> dense 1."""

    def __init__(self) -> None:
        super().__init__()
        self.drop1, self.drop2 = nn.Dropout(0.5), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(8 * 8 * 16, 16), nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = nn.functional.leaky_relu(self.fc1(self.drop1(x)), 0.1)
        return torch.sigmoid(self.fc2(self.drop2(x))).squeeze(1)


class MesoNet(nn.Module):
    """Meso4 (`inception=False`) or MesoInception4. Input (N, 3, 256, 256) RGB in [0, 1]; output P(real)."""

    def __init__(self, inception: bool) -> None:
        super().__init__()
        self.inception = inception
        if inception:
            first: list[nn.Module] = [_InceptionBlock(3, (1, 4, 4, 2)), _InceptionBlock(11, (2, 4, 4, 2))]
            c_mid = 12
        else:
            first = [_ConvBlock(3, 8, 3, 2), _ConvBlock(8, 8, 5, 2)]
            c_mid = 8
        self.features = nn.Sequential(*first, _ConvBlock(c_mid, 16, 5, 2), _ConvBlock(16, 16, 5, 4))
        self.head = _Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def convs_in_keras_order(self) -> list[nn.Conv2d]:
        convs: list[nn.Conv2d] = []
        for block in self.features:
            convs += block.inception.convs_in_keras_order() if isinstance(block, _InceptionBlock) else [block.conv]
        return convs

    def batch_norms(self) -> list[nn.BatchNorm2d]:
        return [block.bn for block in self.features]


def _numbered(group, prefix: str) -> list[str]:
    """Layer names like conv2d_12, sorted by their number: Keras numbers layers in creation order, and the
    files differ in where the count starts (Meso4_DF starts at conv2d_5)."""
    names = [n for n in group if re.fullmatch(rf"{prefix}_\d+", n)]
    return sorted(names, key=lambda n: int(n.rsplit("_", 1)[1]))


def _weights(group, layer: str) -> dict[str, np.ndarray]:
    """{'kernel': ..., 'bias': ...} of one layer, whatever the nesting (Keras 2 nests layer/layer/name:0)."""
    out: dict[str, np.ndarray] = {}
    group[layer].visititems(
        lambda name, obj: out.__setitem__(name.rsplit("/", 1)[-1].split(":")[0], np.asarray(obj))
        if hasattr(obj, "shape")
        else None
    )
    return out


def _copy(target: torch.Tensor, value: np.ndarray, what: str) -> None:
    if tuple(target.shape) != value.shape:
        raise UsageError(f"MesoNet weights do not fit: {what} is {value.shape}, the network expects {tuple(target.shape)}")
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def load_keras_weights(model: MesoNet, path: str | Path) -> MesoNet:
    """Fill `model` from the authors' Keras .h5 weight file. Raises UsageError when the file is not a
    weight file of this architecture (wrong layer count or shapes)."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise UsageError(f"{path} is not a readable HDF5 weight file ({exc})") from None
    with handle:
        group = handle["model_weights"] if "model_weights" in handle else handle  # full model vs weights-only
        convs, norms, dense = _numbered(group, "conv2d"), _numbered(group, "batch_normalization"), _numbered(group, "dense")
        want = (len(model.convs_in_keras_order()), len(model.batch_norms()), 2)
        if (len(convs), len(norms), len(dense)) != want:
            raise UsageError(f"{path}: {len(convs)} conv, {len(norms)} batch-norm and {len(dense)} dense layers; "
                             f"{'MesoInception4' if model.inception else 'Meso4'} has {want[0]}, {want[1]} and 2")
        for name, conv in zip(convs, model.convs_in_keras_order()):
            w = _weights(group, name)
            _copy(conv.weight, w["kernel"].transpose(3, 2, 0, 1), f"{name} kernel")
            _copy(conv.bias, w["bias"], f"{name} bias")
        for name, bn in zip(norms, model.batch_norms()):
            w = _weights(group, name)
            _copy(bn.weight, w["gamma"], f"{name} gamma")
            _copy(bn.bias, w["beta"], f"{name} beta")
            _copy(bn.running_mean, w["moving_mean"], f"{name} moving_mean")
            _copy(bn.running_var, w["moving_variance"], f"{name} moving_variance")
        for name, linear in zip(dense, (model.head.fc1, model.head.fc2)):
            w = _weights(group, name)
            _copy(linear.weight, w["kernel"].T, f"{name} kernel")
            _copy(linear.bias, w["bias"], f"{name} bias")
    return model.eval()
