"""AASIST: audio anti-spoofing with spectro-temporal graph attention over a sinc-conv front end.

Reimplementation of the published architecture so that the authors' state dicts load unchanged:
J. Jung, H.-S. Heo, H. Tak, H.-J. Shim, J. S. Chung, B.-J. Lee, H.-J. Yu and N. Evans, "AASIST: Audio
Anti-Spoofing using Integrated Spectro-Temporal Graph Attention Networks", ICASSP 2022
(github.com/clovaai/aasist). AASIST: Copyright (c) 2021-present NAVER Corp., MIT licence; its front end follows
RawNet2 (Copyright (c) 2021 eurecom-asp; Copyright (c) 2021 Jee-weon Jung), MIT licence. The full notices
are in dflab/audio/weights/AASIST_LICENSE, which must travel with this file and the weights.

Input: raw 16 kHz mono audio, 64,600 samples (about 4 s) per crop. Output: two logits, index 1 = bona fide
(the upstream convention); `spoof_log_odds` turns them into log-odds of "spoofed". The 160-d vector the
output layer reads is exposed by `embed` for heads calibrated on other data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dflab.errors import NotFound, UsageError

SAMPLE_RATE = 16_000
CROP_SAMPLES = 64_600  # the crop length AASIST was trained on (4.04 s)
WEIGHTS_DIR = Path(__file__).with_name("weights")


@dataclass(frozen=True)
class AasistConfig:
    """Architecture hyper-parameters (the `model_config` block of the upstream .conf files)."""

    first_conv: int = 128
    filts: tuple = (70, (1, 32), (32, 32), (32, 64), (64, 64))
    gat_dims: tuple = (64, 32)
    pool_ratios: tuple = (0.5, 0.7, 0.5, 0.5)
    temperatures: tuple = (2.0, 2.0, 100.0, 100.0)

    @property
    def embedding_size(self) -> int:
        return 5 * self.gat_dims[1]


VARIANTS = {
    "AASIST": AasistConfig(),
    "AASIST-L": AasistConfig(filts=(70, (1, 32), (32, 32), (32, 24), (24, 24)), gat_dims=(24, 32),
                             pool_ratios=(0.4, 0.5, 0.7, 0.5)),  # fmt: skip
}


def _mel(hz):
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


class SincFilterbank(nn.Module):
    """Fixed band-pass filters with band edges equally spaced on the mel scale from 0 Hz to Nyquist.

    The filters are not learned (AASIST keeps RawNet2's sinc front end frozen), so they are rebuilt here and
    held as a non-persistent buffer: they are not part of the state dict."""

    def __init__(self, n_filters: int, kernel_size: int, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        kernel_size += 1 - kernel_size % 2  # odd, so every filter is symmetric about its centre tap
        # band edges: the mel range of a 512-point FFT's bins, cut into n_filters equal parts
        fft_freqs = (sample_rate // 2) * np.linspace(0.0, 1.0, 257)
        edges = _hz(np.linspace(_mel(fft_freqs).min(), _mel(fft_freqs).max(), n_filters + 1))
        taps = np.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1)
        bank = np.zeros((n_filters, kernel_size), dtype=np.float32)
        window = np.hamming(kernel_size).astype(np.float32)
        for i, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
            ideal = (2 * high / sample_rate) * np.sinc(2 * high * taps / sample_rate) - (
                2 * low / sample_rate
            ) * np.sinc(2 * low * taps / sample_rate)
            bank[i] = window * ideal.astype(np.float32)
        self.register_buffer("filters", torch.from_numpy(bank).unsqueeze(1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.filters)


class ResidualBlock(nn.Module):
    """Two (2, 3) convolutions with a skip connection, then max-pooling by 3 along time."""

    def __init__(self, in_channels: int, out_channels: int, first: bool = False) -> None:
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        self.downsample = in_channels != out_channels
        if self.downsample:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
        self.pool = nn.MaxPool2d((1, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Upstream computes bn1 + SELU of the input and then convolves the raw input instead, so bn1 never
        # touches the output. The published weights were trained that way; doing the same keeps their scores.
        out = F.selu(self.bn2(self.conv1(x)))
        out = self.conv2(out)
        identity = self.conv_downsample(x) if self.downsample else x
        return self.pool(out + identity)


def _pairwise_products(x: torch.Tensor) -> torch.Tensor:
    """(batch, nodes, dim) -> (batch, nodes, nodes, dim): the element-wise product of every pair of nodes."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _xavier_column(size: int) -> nn.Parameter:
    weight = nn.Parameter(torch.empty(size, 1))
    nn.init.xavier_normal_(weight)
    return weight


class GraphAttention(nn.Module):
    """Graph attention over one fully connected graph (spectral or temporal nodes)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier_column(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        scores = torch.tanh(self.att_proj(_pairwise_products(x))) @ self.att_weight
        attention = F.softmax(scores / self.temperature, dim=-2).squeeze(-1)
        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        return F.selu(self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape))


class HeteroGraphAttention(nn.Module):
    """Attention over the union of two node types (temporal, spectral) plus a master node that reads all.

    Edges inside type 1, inside type 2 and across types each have their own attention vector."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier_column(out_dim)
        self.att_weight22 = _xavier_column(out_dim)
        self.att_weight12 = _xavier_column(out_dim)
        self.att_weightM = _xavier_column(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.temperature = temperature

    def _edge_scores(self, x: torch.Tensor, n1: int) -> torch.Tensor:
        hidden = torch.tanh(self.att_proj(_pairwise_products(x)))
        weights = torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        per_kind = hidden @ weights  # (batch, nodes, nodes, 3): the score of each edge under each edge kind
        n = x.shape[1]
        is_type2 = torch.arange(n, device=x.device) >= n1
        kind = torch.full((n, n), 2, dtype=torch.long, device=x.device)
        kind[~is_type2[:, None] & ~is_type2[None, :]] = 0
        kind[is_type2[:, None] & is_type2[None, :]] = 1
        scores = per_kind.gather(-1, kind.expand(x.shape[0], n, n).unsqueeze(-1))
        return F.softmax(scores / self.temperature, dim=-2).squeeze(-1)

    def _update_master(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM
        attention = F.softmax(scores / self.temperature, dim=-2).squeeze(-1).unsqueeze(1)
        return self.proj_with_attM(attention @ x) + self.proj_without_attM(master)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor):
        n1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        x = self.input_drop(x)
        attention = self._edge_scores(x, n1)
        master = self._update_master(x, master)
        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        x = F.selu(self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape))
        return x[:, :n1], x[:, n1:], master


class GraphPool(nn.Module):
    """Keep the top `ratio` of nodes by a learned sigmoid gate, each scaled by its gate value."""

    def __init__(self, ratio: float, in_dim: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.proj(self.drop(h)))
        keep = max(int(h.shape[1] * self.ratio), 1)
        _, index = torch.topk(gate, keep, dim=1)
        return torch.gather(h * gate, 1, index.expand(-1, -1, h.shape[-1]))


class Aasist(nn.Module):
    """The full model. Attribute names follow the upstream ones so that its state dicts load as they are."""

    def __init__(self, config: AasistConfig = AasistConfig()) -> None:
        super().__init__()
        self.config = config
        filts, gat_dims, pools, temps = config.filts, config.gat_dims, config.pool_ratios, config.temperatures
        self.conv_time = SincFilterbank(filts[0], config.first_conv)
        self.first_bn = nn.BatchNorm2d(1)
        blocks = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        self.encoder = nn.Sequential(
            *(nn.Sequential(ResidualBlock(a, b, first=i == 0)) for i, (a, b) in enumerate(blocks))
        )
        channels = filts[-1][-1]
        self.pos_S = nn.Parameter(torch.randn(1, 23, channels))  # 23 = spectral nodes left of the 70 sinc bands
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.GAT_layer_S = GraphAttention(channels, gat_dims[0], temps[0])
        self.GAT_layer_T = GraphAttention(channels, gat_dims[0], temps[1])
        self.HtrgGAT_layer_ST11 = HeteroGraphAttention(gat_dims[0], gat_dims[1], temps[2])
        self.HtrgGAT_layer_ST12 = HeteroGraphAttention(gat_dims[1], gat_dims[1], temps[2])
        self.HtrgGAT_layer_ST21 = HeteroGraphAttention(gat_dims[0], gat_dims[1], temps[2])
        self.HtrgGAT_layer_ST22 = HeteroGraphAttention(gat_dims[1], gat_dims[1], temps[2])
        self.pool_S = GraphPool(pools[0], gat_dims[0])
        self.pool_T = GraphPool(pools[1], gat_dims[0])
        self.pool_hS1 = GraphPool(pools[2], gat_dims[1])
        self.pool_hT1 = GraphPool(pools[2], gat_dims[1])
        self.pool_hS2 = GraphPool(pools[2], gat_dims[1])
        self.pool_hT2 = GraphPool(pools[2], gat_dims[1])
        self.drop = nn.Dropout(0.5)
        self.drop_way = nn.Dropout(0.2)
        self.out_layer = nn.Linear(config.embedding_size, 2)

    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, channels, 23 spectral rows, time steps): the convolutional encoder."""
        x = self.conv_time(waveform.unsqueeze(1)).unsqueeze(1)
        x = F.selu(self.first_bn(F.max_pool2d(torch.abs(x), (3, 3))))
        return self.encoder(x)

    def _branch(self, out_t, out_s, first, second, pool_s, pool_t, master):
        out_t1, out_s1, master1 = first(out_t, out_s, master)
        out_s1, out_t1 = pool_s(out_s1), pool_t(out_t1)
        aug_t, aug_s, aug_m = second(out_t1, out_s1, master1)
        return out_t1 + aug_t, out_s1 + aug_s, master1 + aug_m

    def graph_embedding(self, encoded: torch.Tensor) -> torch.Tensor:
        """Encoder output -> the 160-d vector the output layer reads (graph attention and readout)."""
        spectral = torch.amax(torch.abs(encoded), dim=3).transpose(1, 2) + self.pos_S
        out_s = self.pool_S(self.GAT_layer_S(spectral))
        temporal = torch.amax(torch.abs(encoded), dim=2).transpose(1, 2)
        out_t = self.pool_T(self.GAT_layer_T(temporal))
        t1, s1, m1 = self._branch(out_t, out_s, self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12,
                                  self.pool_hS1, self.pool_hT1, self.master1)  # fmt: skip
        t2, s2, m2 = self._branch(out_t, out_s, self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22,
                                  self.pool_hS2, self.pool_hT2, self.master2)  # fmt: skip
        t1, t2, s1, s2, m1, m2 = (self.drop_way(v) for v in (t1, t2, s1, s2, m1, m2))
        out_t, out_s, master = torch.maximum(t1, t2), torch.maximum(s1, s2), torch.maximum(m1, m2)
        readout = [torch.amax(torch.abs(out_t), dim=1), out_t.mean(dim=1),
                   torch.amax(torch.abs(out_s), dim=1), out_s.mean(dim=1), master.squeeze(1)]  # fmt: skip
        return torch.cat(readout, dim=1)

    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.graph_embedding(self.encode(waveform))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.out_layer(self.drop(self.embed(waveform)))


def spoof_log_odds(logits: torch.Tensor | np.ndarray) -> np.ndarray:
    """log P(spoof) - log P(bona fide) from the two output logits (index 1 = bona fide)."""
    logits = np.asarray(logits.detach() if isinstance(logits, torch.Tensor) else logits, dtype=np.float64)
    return logits[..., 0] - logits[..., 1]


def weights_path(variant: str) -> Path:
    return WEIGHTS_DIR / f"{variant}.pth"


def load_state(variant: str = "AASIST-L", path: str | Path | None = None) -> tuple[Aasist, list[str], list[str]]:
    """(model in eval mode, missing keys, unexpected keys) after loading a state dict non-strictly."""
    if variant not in VARIANTS:
        raise UsageError(f"unknown AASIST variant {variant!r}; known: {', '.join(VARIANTS)}")
    path = Path(path) if path else weights_path(variant)
    if not path.exists():
        raise NotFound(f"AASIST weights not found at {path}")
    model = Aasist(VARIANTS[variant])
    state = torch.load(path, map_location="cpu", weights_only=True)
    result = model.load_state_dict(state, strict=False)
    return model.eval(), list(result.missing_keys), list(result.unexpected_keys)


@lru_cache(maxsize=2)
def load_model(variant: str = "AASIST-L", path: str | None = None) -> Aasist:
    """The published model with every key of its state dict matched (UsageError otherwise), loaded once."""
    model, missing, unexpected = load_state(variant, path)
    if missing or unexpected:
        raise UsageError(f"AASIST weights do not fit the {variant} architecture: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")  # fmt: skip
    for param in model.parameters():
        param.requires_grad_(False)
    return model
