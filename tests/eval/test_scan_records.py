"""Scan records: the cached evidence the findings are fitted on."""

from __future__ import annotations

import pytest

from dflab.eval import scan_records


def test_records_keep_the_scanners_evidence_and_are_cached(shared_data, tmp_path, monkeypatch):
    from dflab.detect.scan import ScanOptions, scan_file

    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d20.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} missing from the shared data")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label,group\n{clip},real,d20\n")
    subset = ["face_crop", "boundary"]
    records, errors = scan_records.scan_manifest(manifest, tmp_path / "cache", detectors=subset)
    assert errors == [] and len(records) == 1
    record = records[0]
    assert record["label"] == 0 and record["group"] == "d20" and record["media_type"] == "video"
    assert record["tracks"] and {e["name"] for e in record["evidence"]} == set(subset)
    live = scan_file(clip, ScanOptions(detectors=subset)).to_json()
    assert record["score_at_scan"] == pytest.approx(live["score"], abs=1e-4)
    # a rerun reads the cache: the scanner is not called again
    monkeypatch.setattr("dflab.detect.scan.scan_file", lambda *a, **k: pytest.fail("rescanned"))
    again, _ = scan_records.scan_manifest(manifest, tmp_path / "cache", detectors=subset)
    assert again == records


def test_records_at_another_face_rate_are_scanned_so_and_cached_apart(shared_data, tmp_path, monkeypatch):
    from dflab.config import SamplingPolicy
    from dflab.detect import scan

    clip = shared_data / "liveportrait" / "assets" / "examples" / "driving" / "d20.mp4"
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label,group\n{clip},real,d20\n")
    seen = []
    real_scan_file = scan.scan_file
    monkeypatch.setattr(scan, "scan_file", lambda path, options: seen.append(options.policy) or real_scan_file(path, options))
    default, _ = scan_records.scan_manifest(manifest, tmp_path / "cache", detectors=["blink"])
    slower, _ = scan_records.scan_manifest(manifest, tmp_path / "cache", detectors=["blink"],
                                           policy=SamplingPolicy(face_rate_fps=5.0))  # fmt: skip
    assert [p.face_rate_fps for p in seen] == [SamplingPolicy().face_rate_fps, 5.0]  # the second was not the cache's
    assert default[0]["scanner"] != slower[0]["scanner"]
