"""Informed detection: a mark too damaged to decode, tested against the payloads the lab's ledger issued."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from dflab.provenance.payload import payload_for_record
from dflab.provenance.watermark import ecc
from dflab.provenance.watermark.attacks import combined
from dflab.provenance.watermark.informed import Candidate, best_match, coded_signs, threshold_z, upper_tail

# A 300 x 300 face crop (faces/ciplab_photoshop_fake): after the combined attack it is ~107 px of JPEG 50, where
# blind decoding fails (bench/watermark_small.py) but the tile still correlates (bench/watermark_informed.py).
SMALL_PHOTO = "faces/ciplab_photoshop_fake/mid_418_1101.jpg"
UNMARKED_PHOTO = "faces/ciplab_real/real_00004.jpg"


def test_the_coded_bits_of_many_payloads_at_once_are_those_of_the_encoder() -> None:
    payloads = [payload_for_record(r) for r in (0, 1, 500, 2**47 + 3)] + [bytes.fromhex("0123456789abcdef")]
    for payload, signs in zip(payloads, coded_signs(payloads)):
        assert np.array_equal((signs > 0).astype(np.uint8), ecc.conv_encode(ecc.frame_message(payload)))


def test_the_threshold_rises_with_the_number_of_statistics_searched() -> None:
    assert threshold_z(1) == pytest.approx(-NormalDist().inv_cdf(1e-6))
    assert threshold_z(10**3) < threshold_z(10**6) < threshold_z(10**9)
    # the max of 10**8 N(0, 1) draws passes it with probability at most 1e-6: 10**8 * Q(t) = 1e-6
    assert 10**8 * upper_tail(threshold_z(10**8)) == pytest.approx(1e-6, rel=1e-6)


def _disclose_among(lab, rgb: np.ndarray, tmp_path, others: int) -> int:
    """Disclose `rgb` after `others` earlier disclosed records (a dense ledger); its record id."""
    from dflab.make.disclose import disclose_image
    from dflab.provenance import adapters

    for i in range(others):
        adapters.ledger_append({"action": "generate", "content_sha256": f"{i:064x}", "media_type": "image",
                                "extra": {"synthetic": True, "watermark_generation": 1}}, lab)  # fmt: skip
    return int(disclose_image(rgb, tmp_path / "disclosed.png", model="test", method="test", lab=lab)["record"])


@pytest.fixture
def lab():
    from dflab.lab import Lab

    with Lab.memory() as opened:
        yield opened


def test_a_small_disclosed_photo_after_the_combined_attack_is_named_after_its_ledger_record(
    shared_data, lab, tmp_path
) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.media.write import write_image
    from dflab.provenance.issued import lab_lineage
    from dflab.provenance.verify import verify_file

    record = _disclose_among(lab, load_image_rgb(shared_data / SMALL_PHOTO), tmp_path, others=20)
    attacked = tmp_path / "attacked.png"
    write_image(attacked, combined(load_image_rgb(tmp_path / "disclosed.png")))

    assert not image_lineage_blind(attacked).newest.detected  # 64 unknown bits need more signal than this
    lineage = lab_lineage(attacked, lab)
    match = lineage.informed.to_json()
    assert match["present"] and match["identified"] and match["best_record"] == record
    assert match["candidates_tested"] == 21 and match["informed_z"] >= match["informed_threshold_z"]
    assert match["false_match_odds"] <= 1e-6 and match["misattribution_odds"] <= 1e-3
    # Format 2 (payload.py) puts its neighbours far away in code space: the record is named, not just "one of ours".
    assert lineage.newest.detected and lineage.records == [record] and lineage.method == "informed"

    verified = verify_file(attacked, lab=lab)
    section = verified["watermark"]
    assert section["detected"] is True and section["record"] == record and section["method"] == "informed"


def test_a_300_px_disclosed_photo_after_the_64_percent_combined_attack_is_named_after_its_record(
    shared_data, lab, tmp_path
) -> None:
    """64 % crop + half size + JPEG 50 leave ~120 px of JPEG: the small-picture weighting (embed.py) keeps enough of
    the tile for the informed test, and payload format 2 lets it name the record, not just "one of ours"."""
    from dflab.media.load import load_image_rgb
    from dflab.media.write import write_image
    from dflab.provenance.issued import lab_lineage
    from dflab.provenance.watermark.attacks import combined_hard

    photo = load_image_rgb(shared_data / "faces/ciplab_real/real_00924.jpg")
    assert min(photo.shape[:2]) == 300
    record = _disclose_among(lab, photo, tmp_path, others=20)
    attacked = tmp_path / "attacked.png"
    write_image(attacked, combined_hard(load_image_rgb(tmp_path / "disclosed.png")))

    lineage = lab_lineage(attacked, lab)
    assert lineage.newest.detected and lineage.method == "informed" and lineage.records == [record]
    assert lineage.informed.identified and lineage.informed.misattribution_odds <= 1e-3


def test_a_format_1_mark_is_read_as_before_present_but_not_named_among_its_neighbours(shared_data, lab, tmp_path):
    """Marks issued before payload format 2 (record id as is) keep their old reading: neighbouring records share
    ~70 % of their chips, so the damaged mark says "a mark this ledger issued" without naming the record."""
    from dflab.media.load import load_image_rgb
    from dflab.media.write import write_image
    from dflab.provenance import adapters
    from dflab.provenance.issued import lab_lineage
    from dflab.provenance.verify import verify_file
    from dflab.provenance.watermark import embed_image

    for i in range(21):  # records as disclosure wrote them before format 2: no watermark_payload_format
        adapters.ledger_append({"action": "generate", "content_sha256": f"{i:064x}", "media_type": "image",
                                "extra": {"synthetic": True, "watermark_generation": 1}}, lab)  # fmt: skip
    record = 20
    attacked = tmp_path / "attacked.png"
    write_image(attacked, combined(embed_image(load_image_rgb(shared_data / SMALL_PHOTO), payload_for_record(record))))

    lineage = lab_lineage(attacked, lab)
    assert not lineage.newest.detected
    match = lineage.informed.to_json()
    assert match["present"] and not match["identified"] and match["best_record"] == record
    verified = verify_file(attacked, lab=lab)
    assert "a mark this ledger issued is present" in verified["summary"]
    assert verified["watermark"]["detected"] is False


def image_lineage_blind(path):
    from dflab.provenance.watermark.lineage import file_lineage

    return file_lineage(path)


def test_the_scan_cue_calls_a_damaged_mark_of_this_ledger_decisive_only_with_the_ledger(shared_data, lab, tmp_path):
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.cues.watermark import WatermarkDetector
    from dflab.media import load
    from dflab.media.load import load_image_rgb
    from dflab.media.write import write_image
    from dflab.provenance.issued import lab_candidates

    record = _disclose_among(lab, load_image_rgb(shared_data / SMALL_PHOTO), tmp_path, others=20)
    attacked = tmp_path / "attacked.png"
    write_image(attacked, combined(load_image_rgb(tmp_path / "disclosed.png")))

    blind = WatermarkDetector().detect(AnalysedMedia(load(attacked)))
    assert not blind.decisive and blind.details["informed"] is None
    informed = WatermarkDetector().detect(AnalysedMedia(load(attacked), watermark_candidates=tuple(lab_candidates(lab))))
    assert informed.decisive and informed.score == 1.0
    assert informed.details["informed"]["identified"] and informed.details["informed"]["best_record"] == record
    assert f"ledger record {record}" in informed.summary


def test_an_unmarked_picture_matches_none_of_a_thousand_issued_payloads(shared_data) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark.lineage import image_lineage

    candidates = [Candidate(payload_for_record(r), record=r) for r in range(1000)]
    for rgb in (load_image_rgb(shared_data / UNMARKED_PHOTO), combined(load_image_rgb(shared_data / UNMARKED_PHOTO))):
        lineage = image_lineage(rgb, candidates)
        assert not lineage.newest.detected
        assert lineage.informed is not None and lineage.informed.candidates == 1000
        assert not lineage.informed.present and lineage.informed.z < lineage.informed.threshold


def test_a_marked_picture_is_never_named_after_a_payload_it_does_not_carry(shared_data) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark import embed_image
    from dflab.provenance.watermark.detect import FallbackGrids, detect_residual, retry_on_fallback_grids
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual

    gray = luma(combined(embed_image(load_image_rgb(shared_data / SMALL_PHOTO), payload_for_record(500))))
    folds: list = []
    blind = retry_on_fallback_grids(detect_residual(detector_residual(gray), folds_out=folds), FallbackGrids(gray),
                                    folds_out=folds)  # fmt: skip
    assert not blind.detected and folds
    with_truth = best_match(folds, [Candidate(payload_for_record(r), record=r) for r in range(490, 511)])
    assert with_truth.present and with_truth.candidate.record == 500
    wrong = best_match(folds, [Candidate(payload_for_record(r), record=r) for r in range(490, 511) if r != 500])
    # Its neighbours share ~70 % of its chips, so one of them still scores high (the mark is there), but none
    # beats the others by enough to be named.
    assert not wrong.identified


def test_marks_that_decode_blindly_are_read_as_before_and_never_tested_against_the_ledger(shared_data) -> None:
    from dflab.media.load import load_image_rgb
    from dflab.provenance.watermark import embed_image
    from dflab.provenance.watermark.lineage import image_lineage

    marked = embed_image(load_image_rgb(shared_data / SMALL_PHOTO), payload_for_record(7))
    candidates = [Candidate(payload_for_record(r), record=r) for r in range(100)]
    plain, informed = image_lineage(marked), image_lineage(marked, candidates)
    assert plain.newest.detected and plain.newest.payload == payload_for_record(7)
    assert informed.informed is None and informed.newest == plain.newest
    assert "method" not in informed.newest.details
