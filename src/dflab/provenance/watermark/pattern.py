"""The secret tile: which of its T x T chips carry the sync code, which carry which coded bit, and their signs.

The mark is one T x T tile of +-1 chips repeated over the whole picture (in the working grid, see geometry).
Repetition is what makes it survive cropping and rescaling: the tile period shows up in the autocorrelation of
any large enough piece of the picture, and folding all tiles onto one averages the host picture away.

Of the T*T chips, SYNC_CHIPS carry a fixed pseudo-random +-1 code (found by cyclic cross-correlation, it gives
the tile's offset after a crop and doubles as the presence test); the rest carry the 282 coded bits, each
REPEATS times at scattered positions (interleaving, so a damaged region hurts many bits a little, never one bit
a lot), multiplied by a pseudo-random chip sign (spreading). Everything derives from the key via SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from dflab.provenance.watermark import ecc

TILE = 32  # chips per tile side, in working-grid pixels
PAYLOAD_BITS = 64
INFO_BITS = PAYLOAD_BITS + ecc.CRC_BITS
CODED_BITS = ecc.coded_length(INFO_BITS)  # 282
REPEATS = 3
SYNC_CHIPS = TILE * TILE - CODED_BITS * REPEATS  # 178
DEFAULT_KEY = "dflab-v1"


@dataclass(frozen=True)
class TileLayout:
    key: str
    sync_index: np.ndarray  # flat positions of the sync chips
    sync_sign: np.ndarray  # +-1 at those positions
    data_index: np.ndarray  # (CODED_BITS, REPEATS) flat positions of each coded bit's chips
    data_sign: np.ndarray  # (CODED_BITS, REPEATS) +-1 spreading signs
    sync_template: np.ndarray  # T x T float32: sync signs at sync positions, 0 elsewhere
    # conj(FFT2) of sync_template: sync_peak correlates hundreds of folded tiles with it per picture
    sync_spectrum: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sync_spectrum", np.conj(np.fft.fft2(self.sync_template)))

    def tile(self, coded: np.ndarray) -> np.ndarray:
        """The T x T +-1 tile for a coded bit string."""
        flat = np.zeros(TILE * TILE, dtype=np.float32)
        flat[self.sync_index] = self.sync_sign
        symbols = (2.0 * np.asarray(coded, dtype=np.float32) - 1.0)[:, None]
        flat[self.data_index] = self.data_sign * symbols
        return flat.reshape(TILE, TILE)

    def soft_bits(self, folded: np.ndarray) -> np.ndarray:
        """Despread an aligned folded tile into one soft value per coded bit (positive = bit 1)."""
        flat = folded.reshape(-1)
        return (flat[self.data_index] * self.data_sign).sum(axis=1)


@lru_cache(maxsize=8)
def layout_for_key(key: str = DEFAULT_KEY) -> TileLayout:
    seed = int.from_bytes(hashlib.sha256(f"dflab-watermark-tile:{key}".encode()).digest()[:16], "big")
    rng = np.random.default_rng(seed)
    order = rng.permutation(TILE * TILE)
    signs = rng.integers(0, 2, TILE * TILE).astype(np.float32) * 2.0 - 1.0
    sync_index = np.sort(order[:SYNC_CHIPS])
    data_index = order[SYNC_CHIPS:].reshape(CODED_BITS, REPEATS)
    template = np.zeros(TILE * TILE, dtype=np.float32)
    template[sync_index] = signs[sync_index]
    return TileLayout(
        key=key,
        sync_index=sync_index,
        sync_sign=signs[sync_index],
        data_index=data_index,
        data_sign=signs[data_index],
        sync_template=template.reshape(TILE, TILE),
    )


@lru_cache(maxsize=64)
def tile_for_payload(payload: bytes, key: str = DEFAULT_KEY) -> np.ndarray:
    """The +-1 tile that carries `payload` (8 bytes). Cached: video frames reuse it."""
    coded = ecc.conv_encode(ecc.frame_message(payload))
    out = layout_for_key(key).tile(coded)
    out.setflags(write=False)
    return out
