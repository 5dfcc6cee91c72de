"""The watermarker registry: `create_watermarker(name)` / `list_watermarkers()`.

A watermarker embeds a fixed-size payload into pictures and files and detects it again. The name is what a
C2PA soft-binding assertion records (`alg`), so a verifier knows which detector to run. Registering a name
twice is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from dflab.registry import Registry


class Watermarker(Protocol):
    name: str
    payload_bytes: int
    media_types: tuple[str, ...]

    def embed_image(self, rgb: np.ndarray, payload: bytes) -> np.ndarray: ...

    def detect_image(self, rgb: np.ndarray): ...

    def embed_file(self, src: str | Path, dst: str | Path, payload: bytes, **options) -> dict: ...

    def detect_file(self, path: str | Path): ...


WATERMARKERS: Registry[Callable[..., Watermarker]] = Registry("watermarker")


def register_watermarker(name: str):
    return WATERMARKERS.register(name)


def list_watermarkers(pattern: str | None = None) -> list[str]:
    return WATERMARKERS.list(pattern)


def create_watermarker(name: str, **config) -> Watermarker:
    return WATERMARKERS.create(name, **config)


@register_watermarker("dflab-v1")
class DflabV1:
    """Tiled spread-spectrum luma mark, 64-bit payload, CRC-24 + K=7 rate-1/3 convolutional code."""

    name = "dflab-v1"
    payload_bytes = 8
    media_types = ("image", "video")

    def __init__(self, target_psnr: float = 40.75, texture_gamma: float = 0.4, key: str | None = None) -> None:
        from dflab.provenance.watermark.embed import EmbedConfig
        from dflab.provenance.watermark.pattern import DEFAULT_KEY

        self.config = EmbedConfig(target_psnr=target_psnr, texture_gamma=texture_gamma, key=key or DEFAULT_KEY)

    def embed_image(self, rgb: np.ndarray, payload: bytes) -> np.ndarray:
        from dflab.provenance.watermark.embed import embed_image

        return embed_image(rgb, payload, self.config)

    def detect_image(self, rgb: np.ndarray):
        from dflab.provenance.watermark.detect import detect_image

        return detect_image(rgb, key=self.config.key)

    def embed_file(self, src: str | Path, dst: str | Path, payload: bytes, **options) -> dict:
        from dflab.provenance.watermark.files import embed_file

        return embed_file(src, dst, payload, self.config, **options)

    def detect_file(self, path: str | Path):
        from dflab.provenance.watermark.files import detect_file

        return detect_file(path, key=self.config.key)
