"""Known answers and properties of the watermark's CRC-24 and K=7 rate-1/3 convolutional code."""

from __future__ import annotations

import numpy as np

from dflab.provenance.watermark import ecc
from dflab.provenance.watermark.pattern import CODED_BITS, INFO_BITS, SYNC_CHIPS, TILE, layout_for_key, tile_for_payload


def test_crc24_openpgp_check_value():
    bits = ecc.bytes_to_bits(b"123456789")
    assert ecc.bits_to_bytes(ecc.crc24(bits)) == bytes.fromhex("21cf02")  # CRC-24/OpenPGP catalogue check


def test_message_round_trip_and_crc_rejects_a_flip():
    payload = bytes.fromhex("df01000000001234")
    info = ecc.frame_message(payload)
    assert len(info) == INFO_BITS == 88
    assert ecc.check_message(info) == payload
    bad = info.copy()
    bad[5] ^= 1
    assert ecc.check_message(bad) is None


def test_viterbi_corrects_errors_and_noise():
    rng = np.random.default_rng(7)
    payload = rng.bytes(8)
    coded = ecc.conv_encode(ecc.frame_message(payload))
    assert len(coded) == CODED_BITS == 282
    hard = 2.0 * coded - 1.0
    flipped = hard.copy()
    flipped[rng.choice(len(coded), 20, replace=False)] *= -1  # 7 % of the coded bits wrong
    assert ecc.check_message(ecc.viterbi_decode(flipped, INFO_BITS)) == payload
    noisy = hard + rng.normal(0.0, 0.8, len(coded))
    assert ecc.check_message(ecc.viterbi_decode(noisy * 3.7, INFO_BITS)) == payload  # scale-free metric


def test_noise_decodes_to_nothing():
    rng = np.random.default_rng(11)
    accepted = sum(ecc.check_message(ecc.viterbi_decode(rng.normal(size=CODED_BITS), INFO_BITS)) is not None for _ in range(300))
    assert accepted == 0


def test_tile_layout_partitions_the_tile():
    layout = layout_for_key()
    used = np.concatenate([layout.sync_index, layout.data_index.reshape(-1)])
    assert len(used) == TILE * TILE and len(np.unique(used)) == TILE * TILE
    assert len(layout.sync_index) == SYNC_CHIPS
    tile = tile_for_payload(bytes(8))
    assert set(np.unique(tile)) == {-1.0, 1.0}
    coded = ecc.conv_encode(ecc.frame_message(bytes(8)))
    assert np.array_equal(layout.soft_bits(tile) > 0, coded.astype(bool))
    assert not np.array_equal(layout_for_key("other").sync_index, layout.sync_index)
