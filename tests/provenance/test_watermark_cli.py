"""`dflab watermark embed|detect`: JSON output, and bad input -> one line on stderr and exit code 2."""

from __future__ import annotations

import json

import pytest

from dflab.cli.main import main

PHOTO = "invisible_watermark/test_vectors/peppers.png"
PAYLOAD = "df01000000000777"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_embed_then_detect_json(shared_data, tmp_path, capsys):
    out = tmp_path / "marked.png"
    code, stdout, _ = _run(capsys, "watermark", "embed", str(shared_data / PHOTO), str(out), "--payload", PAYLOAD, "--json")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["payload"] == PAYLOAD and summary["psnr_db"] >= 40.0
    code, stdout, _ = _run(capsys, "watermark", "detect", str(out), "--json")
    assert code == 0
    lines = stdout.strip().splitlines()
    assert len(lines) == 1
    got = json.loads(lines[0])
    assert got["detected"] is True and got["payload"] == PAYLOAD and got["media_type"] == "image"
    assert 0.9 <= got["confidence"] <= 1.0 and isinstance(got["bit_errors_corrected"], int)
    code, stdout, _ = _run(capsys, "watermark", "detect", str(shared_data / PHOTO), "--json")
    got = json.loads(stdout)
    assert code == 0 and got["detected"] is False and got["payload"] is None


@pytest.mark.parametrize(
    "payload, why",
    [("xyz", "not hex"), ("df01", "16 hex digits"), ("df0100000000000000", "16 hex digits")],
)
def test_bad_payload(shared_data, tmp_path, capsys, payload, why):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "watermark", "embed", str(shared_data / PHOTO), str(out), "--payload", payload)
    assert code == 2 and why in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_not_media_missing_and_existing_output(shared_data, tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture\n")
    cases = [
        (str(text), str(tmp_path / "a.png")),
        (str(tmp_path / "missing.jpg"), str(tmp_path / "b.png")),
        (str(shared_data / PHOTO), str(text)),  # output exists
        (str(shared_data / PHOTO), str(tmp_path / "c.gif")),  # unsupported output format
        (str(shared_data / PHOTO), str(tmp_path / "no_dir" / "d.png")),
    ]
    for src, dst in cases:
        code, _, err = _run(capsys, "watermark", "embed", src, dst, "--payload", PAYLOAD)
        assert code == 2, (src, dst)
        assert err.startswith("dflab watermark: error:") and len(err.strip().splitlines()) == 1
    assert text.read_text() == "this is not a picture\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.png"]  # nothing half-written
    code, _, err = _run(capsys, "watermark", "detect", str(text))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_detect_says_how_it_found_the_mark_and_tests_the_ledger_only_when_blind_decoding_fails(
    shared_data, tmp_path, capsys
):
    from dflab.lab import Lab
    from dflab.provenance import adapters

    with Lab.default() as lab:  # the test session's home: one disclosed record makes one candidate
        adapters.ledger_append({"action": "generate", "content_sha256": "ab" * 32, "media_type": "image",
                                "extra": {"synthetic": True, "watermark_generation": 1}}, lab)  # fmt: skip
    marked = tmp_path / "marked.png"
    _run(capsys, "watermark", "embed", str(shared_data / PHOTO), str(marked), "--payload", PAYLOAD)
    code, stdout, _ = _run(capsys, "watermark", "detect", str(marked), "--json")
    found = json.loads(stdout)
    assert code == 0 and found["payload"] == PAYLOAD and found["method"] == "blind" and found["informed"] is None
    code, stdout, _ = _run(capsys, "watermark", "detect", str(shared_data / PHOTO), "--json")
    unmarked = json.loads(stdout)
    assert code == 0 and not unmarked["detected"] and unmarked["method"] is None
    assert unmarked["informed"]["candidates_tested"] >= 1 and unmarked["informed"]["present"] is False
    code, stdout, _ = _run(capsys, "watermark", "detect", str(shared_data / PHOTO), "--no-ledger", "--json")
    assert code == 0 and json.loads(stdout)["informed"] is None
