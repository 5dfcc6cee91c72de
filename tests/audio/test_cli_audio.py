"""`dflab scan` on audio files (with --reference), `dflab eval` on an audio manifest, train refusals."""

import csv
import json

import numpy as np
import pytest

from dflab.cli.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _utt(shared_data, speaker, index):
    return sorted((shared_data / "librispeech" / speaker).glob("*.flac"))[index]


def test_scan_audio_file_json(shared_data, capsys):
    code, out, err = _run(capsys, "scan", str(_utt(shared_data, "2609", 0)), "--json")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["media_type"] == "audio"
    names = {e["name"]: e for e in result["evidence"]}
    assert {"speed", "synthetic_speech", "speaker_match"} <= set(names)
    assert names["speaker_match"]["confidence"] == 0.0  # no --reference given
    assert isinstance(result["shallow"]["speed_factor"], float) and result["shallow"]["speed_confidence"] is not None
    assert names["synthetic_speech"]["score"] < 0.5  # a real LibriSpeech reading


def test_scan_with_reference_voice(shared_data, capsys):
    clip = str(_utt(shared_data, "367", 0))
    code, out, _ = _run(capsys, "scan", clip, "--json", "--reference", str(_utt(shared_data, "367", 4)),
                        "--detectors", "speaker_match")  # fmt: skip
    assert code == 0
    match = json.loads(out.strip())["evidence"][0]
    assert match["name"] == "speaker_match" and match["details"]["same_speaker"] is True
    code, out, _ = _run(capsys, "scan", clip, "--json", "--reference", str(_utt(shared_data, "2414", 0)),
                        "--detectors", "speaker_match")  # fmt: skip
    match = json.loads(out.strip())["evidence"][0]
    assert match["details"]["same_speaker"] is False and match["score"] > 0.5


def test_missing_reference_is_one_line_exit_2(shared_data, tmp_path, capsys):
    code, out, err = _run(capsys, "scan", str(_utt(shared_data, "367", 0)), "--reference", str(tmp_path / "none.wav"))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_silent_wav_scans_without_traceback(tmp_path, capsys):
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16_000 * 4, np.float32), 16_000)
    code, out, err = _run(capsys, "scan", str(path), "--json")
    assert "Traceback" not in err
    if code == 0:
        assert all(e["confidence"] == 0.0 for e in json.loads(out.strip())["evidence"])
    else:
        assert code == 2


def test_eval_on_speech_manifest_subset(shared_data, tmp_path, capsys):
    with open(shared_data / "manifests/speech_audio.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = [r for r in rows if r["method"] == "ground_truth"][:2] + [r for r in rows if r["label"] == "fake"][:2]
    manifest = tmp_path / "speech.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "method"])
        writer.writeheader()
        for r in picked:
            writer.writerow({"path": str((shared_data / "manifests" / r["path"]).resolve()), "label": r["label"],
                             "method": r["method"]})  # fmt: skip
    code, out, err = _run(capsys, "eval", str(manifest), "--json", "--bootstrap", "0")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 4 and result["n_errors"] == 0
    assert all(row["error"] is None and 0.0 <= row["score"] <= 1.0 for row in result["rows"])


def test_train_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "w.json"
    existing.write_text("{}")
    code, _, err = _run(capsys, "train", "synthetic-speech", "--out", str(existing))
    assert code == 2 and "already exists" in err
