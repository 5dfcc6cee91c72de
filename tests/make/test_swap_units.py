"""Known-answer tests for the maker's pure parts: LR schedule, loss, augmentation, blending, smoothing, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dflab.errors import IntegrityError, NotFound, UsageError
from dflab.make.swap.augment import AugmentConfig, augment_batch
from dflab.make.swap.blend import alpha_blend, colour_transfer, feathered_mask, smooth_track
from dflab.make.swap.checkpoint import CKPT_NAME, load_checkpoint, save_checkpoint
from dflab.make.swap.losses import masked_loss, masked_ssim
from dflab.make.swap.model import SwapModelConfig, build_swap_model, preset_config
from dflab.make.swap.train import TrainConfig, learning_rate


def test_learning_rate_warms_up_then_decays_to_floor():
    cfg = TrainConfig(iterations=1000, lr=1e-3, warmup=100, min_lr_fraction=0.1)
    assert learning_rate(0, cfg) == pytest.approx(1e-5, rel=1e-3)
    assert learning_rate(99, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 0.099))), rel=1e-6)
    assert learning_rate(500, cfg) == pytest.approx(1e-3 * 0.55, rel=1e-6)
    assert learning_rate(1000, cfg) == pytest.approx(1e-4) and learning_rate(5000, cfg) == pytest.approx(1e-4)


@pytest.mark.parametrize("size", [64, 128])
def test_model_shapes_and_separate_decoders(size):
    model = build_swap_model(SwapModelConfig(size=size, enc_base=4, latent=8, inter_ch=8, dec_base=8))
    x = torch.rand(2, 3, size, size)
    a, b = model(x, "a"), model(x, "b")
    assert a.shape == b.shape == (2, 3, size, size)
    assert float(a.detach().min()) >= 0 and float(a.detach().max()) <= 1 and not torch.allclose(a, b)
    with pytest.raises(UsageError):
        SwapModelConfig(size=96)
    with pytest.raises(UsageError):
        preset_config("huge", 64)


def test_masked_loss_is_zero_for_identity_and_weights_the_face():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    assert float(masked_loss(img, img, mask)) == pytest.approx(0.0, abs=1e-5)
    assert masked_ssim(img, img, mask) == pytest.approx(1.0, abs=1e-5)
    inside, outside = img.clone(), img.clone()
    inside[..., 10:20, 10:20] = 0.5
    outside[..., 0:10, 0:10] = 0.5  # the same number of changed pixels, in the background
    assert float(masked_loss(inside, img, mask)) > 5 * float(masked_loss(outside, img, mask))


def test_augment_warps_input_but_not_target():
    torch.manual_seed(0)
    img = torch.rand(4, 3, 64, 64)
    mask = torch.ones(4, 1, 64, 64)
    warped, target, tmask = augment_batch(img, mask, AugmentConfig(), torch.Generator().manual_seed(1))
    assert warped.shape == target.shape == img.shape and tmask.shape == mask.shape
    assert float((warped - target).abs().mean()) > 0.01
    w2, t2, _ = augment_batch(img, mask, AugmentConfig(), torch.Generator().manual_seed(1))
    assert torch.equal(t2, target) and torch.equal(w2, warped)
    flat = AugmentConfig(rotate_deg=0, scale=0, shift=0, flip=False, warp_std=0)
    w3, t3, _ = augment_batch(img, mask, flat, torch.Generator().manual_seed(1))
    assert torch.allclose(t3, img, atol=1e-5) and torch.allclose(w3, img, atol=1e-5)


def test_colour_transfer_matches_target_statistics():
    rng = np.random.default_rng(0)
    base = rng.integers(60, 120, (32, 32, 3), dtype=np.uint8)
    target = np.clip(base.astype(int) + [60, 20, -20], 0, 255).astype(np.uint8)
    mask = np.ones((32, 32), np.float32)
    out = colour_transfer(base, target, mask)
    assert np.abs(out.reshape(-1, 3).mean(0) - target.reshape(-1, 3).mean(0)).max() < 3.0
    assert np.abs(base.reshape(-1, 3).mean(0) - target.reshape(-1, 3).mean(0)).max() > 15.0


def test_feathered_blend_keeps_outside_and_replaces_inside():
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    alpha = feathered_mask(mask, 2, 4)
    bg, fg = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)
    out = alpha_blend(bg, fg, alpha)
    assert out[0, 0].max() == 0 and out[32, 32].min() == 200
    assert 0 < out[16, 32, 0] < 200  # a soft edge, not a hard seam


def test_smoothing_removes_jitter_without_lag():
    rng = np.random.default_rng(0)
    t = np.arange(120) / 30.0
    clean = np.where(t < 2.0, 100.0, 160.0)  # a fast head movement at t = 2 s
    noisy = clean + rng.normal(0, 1.5, t.shape)
    smooth = smooth_track(noisy[:, None], t, min_cutoff=1.5, beta=0.02)[:, 0]
    still = (np.abs(t - 2.0) > 0.5)
    assert np.std(smooth[still] - clean[still]) < 0.6 * np.std(noisy[still] - clean[still])
    assert abs((smooth[59] + smooth[60]) / 2 - 130.0) < 5.0  # centred on the step (between frames 59 and 60): no delay


def test_checkpoint_round_trip_and_corruption(tmp_path):
    save_checkpoint(tmp_path / "m", {"iteration": 3, "config": {"size": 64}, "weights": torch.ones(4)})
    state = load_checkpoint(tmp_path / "m")
    assert state["iteration"] == 3 and torch.equal(state["weights"], torch.ones(4))
    data = bytearray((tmp_path / "m" / CKPT_NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "m" / CKPT_NAME).write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m" / "checkpoint.json").unlink()
    (tmp_path / "m" / CKPT_NAME).write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(IntegrityError):
        load_checkpoint(tmp_path / "m")  # no sidecar: a truncated archive is still refused
    with pytest.raises(NotFound):
        load_checkpoint(tmp_path / "missing")
