"""The classic deepfake autoencoder: one encoder shared by both people, one decoder per person.

Why it swaps: the shared encoder must describe pose, expression and lighting of *both* faces in one latent
code, while each decoder learns to draw only its own person. Feeding person A's code to decoder B draws B
with A's pose and expression. Layout (as in deepfakes/faceswap "Original", width-scaled by a preset):
    encoder: n_down strided 5x5 convs to a 4x4 map -> dense latent -> dense 4x4xC -> upscale to 8x8
    decoder: n_up upscales (conv 3x3 + pixel shuffle) from 8x8 to size x size -> 5x5 conv -> sigmoid RGB
Only torch is imported here, so this trains on a machine without the face stack.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from dflab.errors import UsageError

MODEL_SIZES = (64, 128)


@dataclass(frozen=True)
class SwapModelConfig:
    size: int = 64
    enc_base: int = 32  # channels of the first encoder conv (doubling per level, capped at 8x)
    latent: int = 256
    inter_ch: int = 256  # channels of the 4x4 map rebuilt from the latent
    dec_base: int = 256  # channels of the first decoder level (halving per level)

    def __post_init__(self) -> None:
        if self.size not in MODEL_SIZES:
            raise UsageError(f"model size must be one of {', '.join(map(str, MODEL_SIZES))} px, got {self.size}")
        if min(self.enc_base, self.latent, self.inter_ch, self.dec_base) < 4:
            raise UsageError("model widths must be at least 4")

    @property
    def n_down(self) -> int:
        return int(math.log2(self.size)) - 2  # down to 4x4

    @property
    def n_up(self) -> int:
        return int(math.log2(self.size)) - 3  # from 8x8 up to size

    def to_json(self) -> dict:
        return asdict(self)


PRESETS: dict[str, dict] = {
    "tiny": {"enc_base": 8, "latent": 32, "inter_ch": 32, "dec_base": 32},  # tests: seconds on a CPU
    "small": {"enc_base": 32, "latent": 256, "inter_ch": 256, "dec_base": 256},  # an hour on a 2-core CPU
    "large": {"enc_base": 64, "latent": 512, "inter_ch": 512, "dec_base": 512},  # a GPU
}


def preset_config(preset: str, size: int) -> SwapModelConfig:
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return SwapModelConfig(size=size, **PRESETS[preset])


def build_swap_model(config: SwapModelConfig):
    """An nn.Module with .encoder, .decoders['a'|'b'] and forward(x, who) -> RGB in [0, 1]."""
    import torch
    from torch import nn

    def act() -> nn.Module:
        return nn.LeakyReLU(0.1, inplace=True)

    class Upscale(nn.Sequential):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), act(), nn.PixelShuffle(2))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers, cin = [], 3
            for i in range(config.n_down):
                cout = config.enc_base * min(2**i, 8)
                layers += [nn.Conv2d(cin, cout, 5, stride=2, padding=2), act()]
                cin = cout
            self.convs = nn.Sequential(*layers)
            self.to_latent = nn.Linear(cin * 16, config.latent)
            self.from_latent = nn.Linear(config.latent, config.inter_ch * 16)
            self.up = Upscale(config.inter_ch, config.inter_ch)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.convs(x * 2.0 - 1.0).flatten(1)
            h = self.from_latent(self.to_latent(h)).view(-1, config.inter_ch, 4, 4)
            return self.up(h)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers, cin = [], config.inter_ch
            for i in range(config.n_up):
                cout = max(config.dec_base // 2**i, 8)
                layers.append(Upscale(cin, cout))
                cin = cout
            self.ups = nn.Sequential(*layers)
            self.to_rgb = nn.Conv2d(cin, 3, 5, padding=2)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.to_rgb(self.ups(h)))

    class SwapModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            self.encoder = Encoder()
            self.decoders = nn.ModuleDict({"a": Decoder(), "b": Decoder()})

        def forward(self, x: torch.Tensor, who: str) -> torch.Tensor:
            return self.decoders[who](self.encoder(x))

    return SwapModel()


def count_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))
