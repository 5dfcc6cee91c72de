"""The shipped face_manipulated tables on whole scans: `make run`'s crude paste is flagged, and by its paste seam;
real development media is not flagged."""

from __future__ import annotations

import pytest

from dflab.detect.scan import ScanOptions, scan_file


def _face(result):
    return next(f for f in result.findings if f.name == "face_manipulated")


def test_the_paste_fake_sample_is_flagged_by_its_seam(tmp_path):
    from dflab.samples import FAKE_NAME, write_samples

    fake = next(p for p, _ in write_samples(tmp_path) if p.name == FAKE_NAME)
    result = scan_file(fake, ScanOptions())
    face = _face(result)
    assert face.verdict in ("suspicious", "manipulated") and result.verdict == face.verdict
    by_name = {e["name"]: e for e in face.evidence}
    # paste drives it: its own calibrated probability is the finding's, and the words name it
    assert by_name["paste"]["probability"] == pytest.approx(face.score, abs=1e-4)
    assert "Strongest: paste" in face.summary and "(paste " in face.headline
    assert "paste" in result.summary


@pytest.mark.parametrize("relative", ["face_recognition/examples/obama.jpg",
                                      "liveportrait/assets/examples/driving/d0.mp4"])
def test_real_development_media_is_not_flagged(shared_data, relative):
    result = scan_file(shared_data / relative, ScanOptions())
    face = _face(result)
    assert face.score is not None and face.verdict == "authentic"
    # the paste seam of an untouched face stays far from its line, where it runs at all
    seam = {e["name"]: e for e in face.evidence}.get("paste")
    assert seam is None or seam["probability"] < 0.7
