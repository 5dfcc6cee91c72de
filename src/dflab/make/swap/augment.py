"""Training augmentation, batched on any torch device: a random similarity transform, then a random warp.

The random warp is the trick that makes the classic swap work: the decoder is asked to rebuild the clean
(only transformed) face from a *warped* copy, so it cannot copy pixels through the bottleneck and must learn
what the person looks like. Both are done with grid_sample, so the same code runs on a CPU or a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 10.0
    scale: float = 0.05
    shift: float = 0.05  # fraction of the crop
    flip: bool = True
    warp_grid: int = 5  # control points per side of the random warp
    warp_std: float = 0.035  # displacement of the control points, in [-1, 1] image coordinates


def random_affine(n: int, cfg: AugmentConfig, generator, device):
    """(n, 2, 3) affine_grid matrices (output -> input sampling) for a random rotate/scale/shift/flip."""
    import torch

    # Random numbers come from a CPU generator (reproducible and checkpointable on any device), then move.
    def uniform(lo: float, hi: float):
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    angle = uniform(-cfg.rotate_deg, cfg.rotate_deg) * torch.pi / 180.0
    scale = uniform(1.0 - cfg.scale, 1.0 + cfg.scale)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta[:, 0, 2] = uniform(-2 * cfg.shift, 2 * cfg.shift)
    theta[:, 1, 2] = uniform(-2 * cfg.shift, 2 * cfg.shift)
    return theta.to(device)


def augment_batch(images, masks, cfg: AugmentConfig, generator=None):
    """(warped input, clean target, target mask) for float images (n, 3, S, S) in [0, 1] and masks (n, 1, S, S)."""
    import torch
    import torch.nn.functional as F

    n, _, size, _ = images.shape
    device = images.device
    grid = F.affine_grid(random_affine(n, cfg, generator, device), list(images.shape), align_corners=False)
    target = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    target_mask = F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    coarse = torch.randn(n, 2, cfg.warp_grid, cfg.warp_grid, generator=generator) * cfg.warp_std
    coarse[:, :, [0, -1], :] = 0.0  # pin the border so the warp does not pull in the padding
    coarse[:, :, :, [0, -1]] = 0.0
    flow = F.interpolate(coarse.to(device), size=(size, size), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    warped = F.grid_sample(images, grid + flow, mode="bilinear", padding_mode="reflection", align_corners=False)
    return warped, target, target_mask
