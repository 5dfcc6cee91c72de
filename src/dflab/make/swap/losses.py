"""The masked reconstruction loss: L1 + structural dissimilarity, weighted to the face.

Inside the face mask every pixel counts fully; outside it counts BACKGROUND_WEIGHT, enough to keep the
background plausible in previews but not enough to spend the decoder's capacity on it (the blender only
uses the face). SSIM uses an 11-tap Gaussian window (sigma 1.5) as in Wang et al. 2004.
"""

from __future__ import annotations

BACKGROUND_WEIGHT = 0.05
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2


def _gaussian_window(channels: int, device, size: int = 11, sigma: float = 1.5):
    import torch

    x = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_map(x, y):
    """Per-pixel SSIM (n, c, h, w) of images in [0, 1] (same-size output via reflection padding)."""
    import torch.nn.functional as F

    c = x.shape[1]
    window = _gaussian_window(c, x.device)
    pad = window.shape[-1] // 2

    def blur(t):
        return F.conv2d(F.pad(t, (pad, pad, pad, pad), mode="reflect"), window, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2))


def masked_loss(pred, target, mask):
    """Scalar loss: weighted mean |pred - target| + weighted mean (1 - SSIM) / 2, weights from the mask."""
    weight = mask * (1.0 - BACKGROUND_WEIGHT) + BACKGROUND_WEIGHT
    norm = weight.sum() * pred.shape[1]
    l1 = ((pred - target).abs() * weight).sum() / norm
    dssim = (((1.0 - ssim_map(pred, target)) / 2.0) * weight).sum() / norm
    return l1 + dssim


def masked_ssim(pred, target, mask) -> float:
    """Mean SSIM inside the mask (an evaluation figure, not a loss)."""
    s = ssim_map(pred, target).mean(dim=1, keepdim=True)
    return float((s * mask).sum() / mask.sum().clamp_min(1e-6))
