"""Media made from dflab media: one mark per generation, each readable, the newest naming the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dflab.errors import Unsupported
from dflab.provenance.payload import payload_for_record
from dflab.provenance.watermark import EmbedConfig, embed_image
from dflab.provenance.watermark.lineage import GENERATION_KEYS, image_lineage


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_AREA)


def _mark(rgb: np.ndarray, records: list[int]) -> np.ndarray:
    for generation, record in enumerate(records):
        rgb = embed_image(rgb, payload_for_record(record), EmbedConfig(key=GENERATION_KEYS[generation]))
    return rgb


def _jpeg(rgb: np.ndarray, quality: int = 50) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def _attacked(rgb: np.ndarray) -> np.ndarray:
    """JPEG 50 after a 50 % downscale of an 80 % centre crop: the watermark benchmark's combined attack."""
    h, w = rgb.shape[:2]
    crop = rgb[h // 10 : h - h // 10, w // 10 : w - w // 10]
    return _jpeg(cv2.resize(crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA))


def test_two_generations_both_read_after_the_combined_attack(photo):
    marked = _mark(photo, [12, 14])
    for picture in (marked, _attacked(marked)):
        lineage = image_lineage(picture)
        assert lineage.generations == [1, 2]
        assert lineage.records == [12, 14]
        assert lineage.newest.payload == payload_for_record(14)
    assert lineage.next_generation() == 3


def test_unmarked_media_has_no_lineage_and_the_third_generation_is_the_last(photo):
    assert image_lineage(photo).generations == []
    assert image_lineage(photo).next_generation() == 1
    third = _mark(photo, [3, 4, 5])
    lineage = image_lineage(third)
    assert lineage.records == [3, 4, 5]
    with pytest.raises(Unsupported, match="generations"):
        lineage.next_generation()
    # The combined attack may take the older marks, never the newest one.
    assert image_lineage(_attacked(third)).records[-1] == 5


def test_disclosing_an_edit_of_a_disclosed_image_names_the_new_record(photo, tmp_path):
    """The README-strip bug: a crop of disclosed media used to read its parent's record."""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.cues.watermark import WatermarkDetector
    from dflab.make.disclose import disclose_image
    from dflab.media import load
    from dflab.media.load import load_image_rgb
    from dflab.provenance.verify import render_text, verify_file

    first = disclose_image(photo, tmp_path / "first.png", model="test", method="test")
    edited = load_image_rgb(tmp_path / "first.png")[64:-64, 64:-64].copy()
    edited[300:420, 300:420] = edited[300:420, 300:420][::-1]  # an edit, so it is not the same picture
    second = disclose_image(edited, tmp_path / "second.png", sources=[tmp_path / "first.png"], model="test", method="test")
    assert second["watermark_generation"] == 2 and second["record"] != first["record"]

    result = verify_file(tmp_path / "second.png")
    assert result["watermark"]["record"] == second["record"]
    assert [m["record"] for m in result["watermark"]["lineage"]] == [first["record"], second["record"]]
    assert result["ledger"]["consistent"] is True and result["synthetic"] is True
    assert f"earlier generations: payload {first['payload']} -> record {first['record']}" in render_text(result)

    evidence = WatermarkDetector().detect(AnalysedMedia(load(tmp_path / "second.png")))
    assert evidence.decisive and evidence.details["record"] == second["record"]
    assert f"earlier record {first['record']}" in evidence.summary


def test_one_shared_view_search_reads_every_key_as_separate_searches_do(photo) -> None:
    from dflab.provenance.watermark.detect import detect_residual
    from dflab.provenance.watermark.embed import luma
    from dflab.provenance.watermark.grid import detector_residual

    # two generations, mirrored after JPEG: views beyond the upright one are searched for both marks
    for picture in (photo, np.ascontiguousarray(_jpeg(_mark(photo, [5, 6]), 75)[:, ::-1])):
        residual = detector_residual(luma(picture))
        shared = image_lineage(picture).results
        alone = tuple(detect_residual(residual, key=key) for key in GENERATION_KEYS)
        assert [r.to_json() for r in shared] == [r.to_json() for r in alone]
    assert [r.detected for r in shared] == [True, True, False]


def test_an_edit_of_a_disclosed_image_lists_the_inherited_record_among_its_parents(photo, tmp_path, capsys):
    """No source given: the mark the edit inherited is what ties it to the first output, and the ledger shows it."""
    import json

    from dflab.cli.main import main
    from dflab.make.disclose import disclose_image
    from dflab.media.load import load_image_rgb

    first = disclose_image(photo, tmp_path / "first.png", model="test", method="test")
    assert first["parents"] == []
    edited = load_image_rgb(tmp_path / "first.png")[64:-64, 64:-64].copy()
    edited[300:420, 300:420] = edited[300:420, 300:420][::-1]
    second = disclose_image(edited, tmp_path / "second.png", model="test", method="test")
    assert second["parents"] == [first["record"]]

    capsys.readouterr()
    assert main(["ledger", "show", str(second["record"]), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["record"]
    assert record["parents"] == [first["record"]]
    [mark] = record["extra"]["inherited_watermarks"]
    assert (mark["generation"], mark["record"], mark["linked"]) == (1, first["record"], True)


def test_a_mark_naming_a_record_of_another_ledger_is_noted_not_linked(photo, tmp_path):
    from dflab.make.disclose import disclose_image
    from dflab.provenance.ledger import open_ledger

    foreign = embed_image(photo, payload_for_record(4242), EmbedConfig(key=GENERATION_KEYS[0]))
    out = disclose_image(foreign, tmp_path / "out.png", model="test", method="test")
    assert out["parents"] == [] and out["watermark_generation"] == 2
    with open_ledger() as ledger:
        record = ledger.get_json(out["record"])
    assert record["parents"] == []
    assert [(m["record"], m["linked"]) for m in record["extra"]["inherited_watermarks"]] == [(4242, False)]
