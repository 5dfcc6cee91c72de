"""Scan records: the cached evidence the fusion is fitted on, re-fused exactly as the scanner fuses."""

from __future__ import annotations

import pytest

from dflab.detect.fusion import FusionModel
from dflab.eval import scan_records


def test_records_refuse_like_the_scanner_and_are_cached(shared_data, tmp_path, monkeypatch):
    from dflab.detect.scan import ScanOptions, scan_file

    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d20.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} missing from the shared data")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label,group\n{clip},real,d20\n")
    records, errors = scan_records.scan_manifest(manifest, tmp_path / "cache")
    assert errors == [] and len(records) == 1
    record = records[0]
    assert record["label"] == 0 and record["group"] == "d20" and record["media_type"] == "video"
    assert record["tracks"] and {e["name"] for e in record["evidence"]} >= {"face_crop", "boundary", "blink"}
    # Re-fusing the record gives the scanner's own score, for the hand-set table and any other.
    hand = FusionModel()
    assert scan_records.fused_score(record, hand) == pytest.approx(record["score_at_scan"], abs=2e-3)
    other = FusionModel(weights={"face_crop": 2.0, "boundary": 0.1})
    live = scan_file(clip, ScanOptions(fusion=other)).score
    assert scan_records.fused_score(record, other) == pytest.approx(live, abs=2e-3)

    def no_scan(*args, **kwargs):
        raise AssertionError("a cached file was scanned again")

    monkeypatch.setattr("dflab.detect.scan.scan_file", no_scan)
    again, _ = scan_records.scan_manifest(manifest, tmp_path / "cache")
    assert again == records
