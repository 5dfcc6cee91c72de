"""Compare against a registered original: a real clip registered, then a copy sped up 1.25x with 1.5 s cut
out and the face blurred/recoloured for 1 s; each edit must be reported at the right time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dflab.cli.main import main
from dflab.faces.detect import find_faces_in_image
from dflab.shallow.compare import compare_files, hamming_matrix
from dflab.train.edits import alter_region, change_speed, remove_span, write_clip

D6 = "liveportrait/assets/examples/driving/d6.mp4"
SPEED, CUT, FACE = 1.25, (3.0, 4.5), (6.0, 7.0)  # original-timeline seconds


@pytest.fixture(scope="module")
def pair(clip_reader, shallow_dir):
    clip = clip_reader(D6, 10.0)
    original = write_clip(shallow_dir / "cmp_original.mp4", clip)
    box = tuple(int(v) for v in find_faces_in_image(clip.frames[int(FACE[0] * clip.fps)], 1)[0].box)
    edited = change_speed(remove_span(alter_region(clip, box, *FACE), *CUT), SPEED)
    return original, write_clip(shallow_dir / "cmp_suspect.mp4", edited)


def _check(result: dict) -> None:
    assert result["speed_factor"] == pytest.approx(SPEED, abs=0.02)
    assert len(result["removed"]) == 1 and result["inserted"] == []
    removed = result["removed"][0]
    assert removed["suspect_s"] == pytest.approx(CUT[0] / SPEED, abs=0.15)
    assert removed["original"] == pytest.approx(list(CUT), abs=0.15)
    assert removed["duration_s"] == pytest.approx(CUT[1] - CUT[0], abs=0.1)
    assert len(result["changed"]) == 1, result["changed"]
    changed = result["changed"][0]
    removed_s = CUT[1] - CUT[0]
    expected = [(FACE[0] - removed_s) / SPEED, (FACE[1] - removed_s) / SPEED]
    assert changed["suspect"] == pytest.approx(expected, abs=0.15)
    assert changed["original"] == pytest.approx(list(FACE), abs=0.15)
    assert all(seg["audio"]["correlation"] > 0.8 for seg in result["segments"])
    assert all(t >= 0 for seg in result["segments"] for t in seg["suspect"] + seg["original"])  # never -0.001 s


def test_cli_compare_finds_the_original_through_the_registry(pair, capsys):
    original, suspect = pair
    assert main(["register", str(original), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["record"]
    assert main(["compare", str(suspect), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["record"] == record and result["original"] == str(original.resolve())
    _check(result)
    assert main(["compare", str(suspect), "--original", str(original)]) == 0
    text = capsys.readouterr().out
    assert "removed at suspect" in text and "changed content" in text


def test_untouched_copy_shows_no_edit(pair):
    original, _ = pair
    result = compare_files(original, original)
    assert result["speed_factor"] == pytest.approx(1.0, abs=0.01)
    assert result["removed"] == [] and result["inserted"] == [] and result["changed"] == []


def test_compare_bad_input_is_one_line(pair, tmp_path, capsys):
    original, suspect = pair
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    for argv in (["compare", str(tmp_path / "missing.mp4"), "--original", str(original)],
                 ["compare", str(text), "--original", str(original)],
                 ["compare", str(suspect)]):  # empty registry: nothing to trace to
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_hamming_matrix_counts_differing_bits():
    rng = np.random.default_rng(0)
    a = rng.random((3, 256)) < 0.5
    b = a.copy()
    b[1, :10] ^= True
    dist = hamming_matrix(a, b)
    assert dist[0, 0] == 0 and dist[1, 1] == 10 and dist[0, 1] == int((a[0] != b[1]).sum())
