"""Audio-only `dflab compare`: real LibriSpeech speech, re-timed and cut copies made in tmp."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dflab.cli.main import main
from dflab.provenance.registry.align import Segment
from dflab.shallow.audio_align import edits_from_segments
from dflab.shallow.compare import compare_files

RATE = 16_000
CUT_AT_S, CUT_LEN_S = 4.0, 1.0  # source seconds removed from the 0.8x copy


def _speech(shared_data, speaker: str, seconds: float) -> np.ndarray:
    from dflab.media import load_audio

    parts, total = [], 0
    for path in sorted((shared_data / "librispeech" / speaker).glob("*.flac")):
        parts.append(load_audio(path).samples)
        total += len(parts[-1])
        if total >= seconds * RATE:
            break
    return np.concatenate(parts)[: int(seconds * RATE)]


@pytest.fixture(scope="module")
def copies(shared_data, tmp_path_factory):
    """original (10 s), a 0.8x atempo copy with 1 s removed, a 1.25x tape-style copy, another speaker."""
    import soundfile as sf

    from dflab.train.speed_testset import atempo, resample_speed

    out = tmp_path_factory.mktemp("compare_audio")
    source = _speech(shared_data, "1688", 12.0)
    cut = np.concatenate([source[: int(CUT_AT_S * RATE)], source[int((CUT_AT_S + CUT_LEN_S) * RATE) : int(9 * RATE)]])
    files = {"original": source[: 10 * RATE], "slow_cut": atempo(cut, RATE, 0.8),
             "tape": resample_speed(source[: int(12.0 * RATE)], 1.25)[: 8 * RATE],
             "other": _speech(shared_data, "3080", 10.0)}  # fmt: skip
    paths = {}
    for name, samples in files.items():
        paths[name] = out / f"{name}.wav"
        sf.write(paths[name], samples, RATE, subtype="PCM_16")
    return paths


def test_slowed_pitch_corrected_copy_with_a_cut(copies):
    result = compare_files(copies["slow_cut"], copies["original"])
    assert result["aligned"] and result["mode"] == "audio"
    assert result["speed_factor"] == pytest.approx(0.8, rel=0.05)
    assert result["pitch_follows_speed"] is False
    # the cut sits at suspect time 4 s / 0.8 = 5 s and removes original 4-5 s
    assert len(result["removed"]) == 1, result["removed"]
    cut = result["removed"][0]
    assert cut["suspect_s"] == pytest.approx(CUT_AT_S / 0.8, abs=0.3)
    assert cut["duration_s"] == pytest.approx(CUT_LEN_S, abs=0.15)
    assert cut["original"][0] == pytest.approx(CUT_AT_S, abs=0.3)


def test_sped_up_tape_style_copy(copies):
    result = compare_files(copies["tape"], copies["original"])
    assert result["aligned"]
    assert result["speed_factor"] == pytest.approx(1.25, rel=0.05)
    assert result["pitch_follows_speed"] is True
    assert result["removed"] == []
    # only the first 10 / 1.25 = 8 s of the suspect lie in the original; the whole copy is 8 s here
    assert result["segments"][0]["original"][0] < 1.0


def test_another_speaker_does_not_align(copies):
    result = compare_files(copies["other"], copies["original"])
    assert result["aligned"] is False


def test_edits_from_segments_tells_removed_inserted_and_repeated():
    line = [Segment(0.0, 3.0, 0.0, 3.0, 30), Segment(3.1, 5.0, 4.1, 6.0, 20)]  # original jumps 1 s ahead
    removed, inserted = edits_from_segments(line, 1.0)
    assert [r["duration_s"] for r in removed] == [1.0] and inserted == []
    foreign = [Segment(0.0, 3.0, 0.0, 3.0, 30), Segment(5.0, 7.0, 3.0, 5.0, 20)]  # 2 s the original lacks
    removed, inserted = edits_from_segments(foreign, 1.0)
    assert removed == [] and inserted[0]["suspect"] == [3.0, 5.0]
    repeat = [Segment(0.0, 3.0, 0.0, 3.0, 30), Segment(3.0, 5.0, 1.0, 3.0, 20)]  # original 1-3 s again
    removed, inserted = edits_from_segments(repeat, 1.0)
    assert removed == [] and inserted[0]["repeats_original"] == [1.0, 3.0]


def test_cli_audio_compare_json_and_bad_input(copies, tmp_path, capsys):
    import soundfile as sf

    assert main(["compare", str(copies["tape"]), "--original", str(copies["original"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "audio" and result["speed_factor"] == pytest.approx(1.25, rel=0.05)
    short, silent, text = tmp_path / "short.wav", tmp_path / "silent.wav", tmp_path / "notes.wav"
    sf.write(short, np.zeros(RATE // 2, np.float32) + 0.1, RATE)
    sf.write(silent, np.zeros(3 * RATE, np.float32), RATE)
    text.write_text("not audio")
    cases = [["compare", str(bad), "--original", str(copies["original"])]
             for bad in (short, silent, text, tmp_path / "missing.wav")]
    cases.append(["compare", str(copies["tape"])])  # no --original and nothing registered: no original to find
    for argv in cases:
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
