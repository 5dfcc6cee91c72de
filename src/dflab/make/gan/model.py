"""A DCGAN (Radford et al. 2016) for 64x64 aligned faces: the generator draws a face from random noise,
the discriminator tells real aligned faces from generated ones, and each is trained against the other.

Generator: z (latent) -> 4x4 -> 8 -> 16 -> 32 -> 64 with transposed convs, batch norm, ReLU, tanh out.
Discriminator: the mirror image with strided convs, LeakyReLU(0.2), one logit out (no sigmoid: the loss
uses BCE-with-logits, which is numerically stable). Only torch is imported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dflab.errors import UsageError

GAN_SIZE = 64


@dataclass(frozen=True)
class GanConfig:
    latent: int = 128
    g_base: int = 64  # generator channels at the last (64 px) level; 8x at 4x4
    d_base: int = 64

    def __post_init__(self) -> None:
        if min(self.latent, self.g_base, self.d_base) < 4:
            raise UsageError("GAN widths must be at least 4")

    def to_json(self) -> dict:
        return asdict(self)


GAN_PRESETS = {"tiny": GanConfig(latent=16, g_base=8, d_base=8), "dcgan": GanConfig()}


def build_gan(config: GanConfig):
    """(generator, discriminator) modules; generator(z (n, latent)) -> images in [-1, 1] (n, 3, 64, 64)."""
    import torch
    from torch import nn

    g, d = config.g_base, config.d_base

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.latent = config.latent
            self.net = nn.Sequential(
                nn.ConvTranspose2d(config.latent, g * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(g * 8), nn.ReLU(True),
                nn.ConvTranspose2d(g * 8, g * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(g * 4), nn.ReLU(True),
                nn.ConvTranspose2d(g * 4, g * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(g * 2), nn.ReLU(True),
                nn.ConvTranspose2d(g * 2, g, 4, 2, 1, bias=False), nn.BatchNorm2d(g), nn.ReLU(True),
                nn.ConvTranspose2d(g, 3, 4, 2, 1, bias=False), nn.Tanh(),
            )  # fmt: skip

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.net(z.view(-1, self.latent, 1, 1))

    class Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(3, d, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                nn.Conv2d(d, d * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(d * 2), nn.LeakyReLU(0.2, True),
                nn.Conv2d(d * 2, d * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(d * 4), nn.LeakyReLU(0.2, True),
                nn.Conv2d(d * 4, d * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(d * 8), nn.LeakyReLU(0.2, True),
                nn.Conv2d(d * 8, 1, 4, 1, 0, bias=False),
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x).view(-1)

    def init_weights(m: nn.Module) -> None:  # the DCGAN paper's N(0, 0.02) initialisation
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    gen, disc = Generator(), Discriminator()
    gen.apply(init_weights)
    disc.apply(init_weights)
    return gen, disc
