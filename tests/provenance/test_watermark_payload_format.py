"""Payload format 2 (record ids permuted under tag 0xDF02): neighbours far apart in code space, format 1 still read."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dflab.errors import UsageError
from dflab.provenance.payload import (
    CURRENT_PAYLOAD_FORMAT,
    MAX_RECORD_ID,
    payload_for_record,
    payload_in_format,
    record_from_payload,
    spread_payload_for_record,
    spread_record,
    unspread_record,
)
from dflab.provenance.watermark.informed import coded_signs


def test_format_2_names_every_record_and_format_1_is_read_as_before() -> None:
    ids = [0, 1, 2, 499, 500, MAX_RECORD_ID - 1, MAX_RECORD_ID] + [random.Random(7).getrandbits(48) for _ in range(200)]
    for record in ids:
        spread = spread_payload_for_record(record)
        assert spread[:2] == b"\xdf\x02" and len(spread) == 8
        assert record_from_payload(spread) == record and record_from_payload(spread.hex()) == record
        assert unspread_record(spread_record(record)) == record
        assert record_from_payload(payload_for_record(record)) == record  # marks issued before format 2
    assert payload_for_record(258) == bytes.fromhex("df01000000000102")  # format 1 unchanged, byte for byte
    assert payload_in_format(258, 1) == payload_for_record(258)
    assert payload_in_format(258, 2) == spread_payload_for_record(258) != payload_for_record(258)
    assert len({spread_record(r) for r in range(10_000)}) == 10_000
    assert record_from_payload(bytes.fromhex("df03000000000102")) is None  # a tag no version issued
    with pytest.raises(UsageError):
        payload_in_format(1, 3)
    with pytest.raises(UsageError):
        spread_payload_for_record(MAX_RECORD_ID + 1)


def _nearest_coded_distance(payloads: list[bytes]) -> np.ndarray:
    signs = coded_signs(payloads)
    distance = (signs[:, None, :] != signs[None, :, :]).sum(axis=2)
    np.fill_diagonal(distance, 10**6)
    return distance.min(axis=1)


def test_neighbouring_records_are_far_apart_in_code_space_only_in_format_2() -> None:
    records = range(1, 1001)  # a dense ledger: the hardest case
    old = _nearest_coded_distance([payload_for_record(r) for r in records])
    new = _nearest_coded_distance([spread_payload_for_record(r) for r in records])
    assert old.max() <= 50  # consecutive ids differ in their low bits: 44 of 282 coded bits
    assert new.min() >= 70 and np.median(new) >= 85  # measured 74 / 90


def _ledger_with(lab, formats: list[int | None]) -> list[int]:
    from dflab.provenance import adapters

    ids = []
    for i, payload_format in enumerate(formats):
        extra = {"synthetic": True, "watermark_generation": 1}
        if payload_format is not None:
            extra["watermark_payload_format"] = payload_format
        entry = adapters.ledger_append({"action": "generate", "content_sha256": f"{i:064x}", "media_type": "image",
                                        "extra": extra}, lab)  # fmt: skip
        ids.append(int(entry["record"]))
    return ids


@pytest.fixture
def lab():
    from dflab.lab import Lab

    with Lab.memory() as opened:
        yield opened


def test_issued_candidates_rebuild_each_record_in_the_format_it_was_issued_with(lab) -> None:
    from dflab.provenance.issued import issued_candidates

    old, explicit_old, new, unknown = _ledger_with(lab, [None, 1, 2, 9])
    found = {c.record: c.payload for c in issued_candidates(lab.ledger())}
    assert found[old] == payload_for_record(old) and found[explicit_old] == payload_for_record(explicit_old)
    assert found[new] == spread_payload_for_record(new)
    assert unknown not in found  # a format this version cannot rebuild is left to blind decoding


def test_disclosure_issues_the_current_format_and_records_it(shared_data, lab, tmp_path) -> None:
    from dflab.make.disclose import disclose_image
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark.lineage import file_lineage

    rgb = load_image_rgb(shared_data / "faces/ciplab_photoshop_fake/mid_418_1101.jpg")
    out = disclose_image(rgb, tmp_path / "disclosed.png", model="test", method="test", lab=lab)
    record = int(out["record"])
    assert CURRENT_PAYLOAD_FORMAT == 2 and out["payload"] == spread_payload_for_record(record).hex()
    assert lab.ledger().get(record).extra["watermark_payload_format"] == 2
    lineage = file_lineage(tmp_path / "disclosed.png")
    assert lineage.newest.payload == spread_payload_for_record(record) and lineage.records == [record]


def test_the_strength_aware_odds_fall_as_the_winner_stands_out_and_never_name_an_identical_tile() -> None:
    from dflab.provenance.watermark.informed import strength_aware_odds, upper_tail

    chips = np.array([300.0])  # a format-2 rival: ~100 coded bits x 3 chips differ
    weak, strong = (strength_aware_odds(z, np.array([2.0]), chips, tests=1) for z in (4.0, 9.0))
    assert strong < 1e-6 < weak
    # Never more permissive than "noise alone put the winner at z" or than the margin alone.
    spread = 2.0 * np.sqrt(300 / 1024)
    assert strength_aware_odds(9.0, np.array([2.0]), chips, tests=1) <= upper_tail(2.0 / spread)
    assert strength_aware_odds(9.0, np.array([2.0]), chips, tests=10**6) >= 10**6 * upper_tail(9.0)
    # A rival that carries the same chips cannot be told apart, however strong the mark.
    assert strength_aware_odds(30.0, np.array([0.0]), np.array([0.0]), tests=1) == 1.0


def test_a_format_2_mark_is_never_named_after_a_record_it_does_not_carry(shared_data) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark import embed_image
    from dflab.provenance.watermark.attacks import combined
    from dflab.provenance.watermark.detect import FallbackGrids, detect_residual, retry_on_fallback_grids
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual
    from dflab.provenance.watermark.informed import Candidate, best_match

    marked = embed_image(load_image_rgb(shared_data / "faces/ciplab_photoshop_fake/mid_418_1101.jpg"),
                         spread_payload_for_record(500))  # fmt: skip
    gray = luma(combined(marked))
    folds: list = []
    blind = retry_on_fallback_grids(detect_residual(detector_residual(gray), folds_out=folds), FallbackGrids(gray),
                                    folds_out=folds)  # fmt: skip
    assert not blind.detected and folds
    dense = range(490, 511)  # a dense ledger around it (21 records: the threshold of a small ledger)
    with_truth = best_match(folds, [Candidate(spread_payload_for_record(r), record=r) for r in dense])
    assert with_truth.identified and with_truth.candidate.record == 500
    without = best_match(folds, [Candidate(spread_payload_for_record(r), record=r) for r in dense if r != 500])
    assert not without.present and not without.identified  # its neighbours are far away: nothing else matches
    # The same folds against the format-1 payloads of the same records: the mark is not theirs either.
    assert not best_match(folds, [Candidate(payload_for_record(r), record=r) for r in dense]).present


def test_small_pictures_get_the_flatter_weighting_and_marks_of_the_old_profile_still_read(shared_data) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark import EmbedConfig, detect_image, embed_image, psnr
    from dflab.provenance.watermark.attacks import jpeg
    from dflab.provenance.watermark.embed import SMALL_PICTURE_SIDE, texture_gamma_for

    config = EmbedConfig()
    assert texture_gamma_for(SMALL_PICTURE_SIDE - 1, config) == 0.2
    assert texture_gamma_for(SMALL_PICTURE_SIDE, config) == config.texture_gamma == 0.4
    assert texture_gamma_for(300, EmbedConfig(small_texture_gamma=None)) == 0.4  # the profile before it
    with pytest.raises(UsageError):
        EmbedConfig(small_texture_gamma=3.0)

    photo = load_image_rgb(shared_data / "faces/ciplab_real/real_00924.jpg")  # 300 px
    new, old = embed_image(photo, spread_payload_for_record(9)), embed_image(
        photo, payload_for_record(9), EmbedConfig(small_texture_gamma=None))  # fmt: skip
    assert not np.array_equal(new, old) and psnr(photo, new) >= 40.0 and psnr(photo, old) >= 40.0
    for marked, payload in ((new, spread_payload_for_record(9)), (old, payload_for_record(9))):
        found = detect_image(jpeg(marked, 50))
        assert found.detected and found.payload == payload and record_from_payload(found.payload) == 9
