"""Speed-change traces at the clip's own sample rate: the WSOLA grid line, the cut negatives, and `dflab scan`
on slowed clips (atempo at 44.1 kHz, phase vocoder at 16 kHz) and on a natural one."""

import json

import numpy as np
import pytest

from dflab.audio.artefacts import grid_lines, line_strength, wsola_window
from dflab.train.speed_testset import atempo, jump_cuts, time_stretch


@pytest.fixture(scope="module")
def d6_speech(shared_data):
    """10 s of 44.1 kHz voice over music from a LivePortrait clip the shipped speed model never saw."""
    from dflab.media import load_audio
    from dflab.media.load import NATIVE_RATE

    audio = load_audio(shared_data / "liveportrait/assets/examples/driving/d6.mp4", NATIVE_RATE)
    assert audio.sample_rate == 44_100
    return audio.samples[: 10 * 44_100]


def test_wsola_window_follows_ffmpeg():
    assert [wsola_window(r) for r in (16_000, 22_050, 44_100, 48_000)] == [1024, 1024, 2048, 2048]


def test_atempo_leaves_a_line_at_its_hop_only_at_the_native_rate(d6_speech):
    from scipy.signal import resample_poly

    rate = 44_100
    natural = grid_lines(d6_speech, rate)["line_wsola_hop"]
    slowed = atempo(d6_speech, rate, 0.75)[: 8 * rate]
    at_native = line_strength(slowed, rate, wsola_window(rate) // 2)
    # resampled to 16 kHz, the 1024-sample hop becomes 371.5 samples: a 16 kHz analysis looking for atempo's
    # 16 kHz hop (512) finds nothing
    at_16k = resample_poly(slowed, 160, 441)
    assert natural < 5.0 and at_native > 10.0
    assert line_strength(at_16k, 16_000, 512) < 5.0


def test_jump_cuts_remove_pieces_and_crossfade_every_other_join():
    rate = 16_000
    index = np.arange(20 * rate, dtype=np.float32)  # each output sample says which input sample it came from
    out = jump_cuts(index, rate, seed=7)
    assert len(out) == 10 * rate
    step = np.diff(out)
    faded = np.abs(out - np.round(out)) > 1e-3  # crossfaded samples mix two input samples
    jumps = np.flatnonzero((step > 1.5) & ~faded[1:] & ~faded[:-1])  # plain joins jump over the removed piece
    removed = step[jumps] - 1
    assert len(jumps) == 2 and np.all((removed >= 0.3 * rate) & (removed <= 2.0 * rate))
    assert 0.8 * 10 * rate // 1000 <= faded.sum() <= 10 * rate // 1000  # one 10 ms crossfade (the first join)
    assert np.all(out[: rate // 2] == index[: rate // 2])  # no cut in the first 0.5 s: the input untouched


def _scan_speed(capsys, path):
    from dflab.cli.main import main

    code = main(["scan", str(path), "--json", "--detectors", "speed"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    return result["shallow"], next(e for e in result["evidence"] if e["name"] == "speed")


def test_scan_catches_atempo_at_441_khz_and_phase_vocoder_at_16_khz(speaker_audio, tmp_path, capsys):
    """Speaker 3080 is held out from the shipped model. The atempo file is 44.1 kHz, so the scan has to
    re-decode it at that rate to see the grid; the factor estimate is only about +-15 %, so only its
    direction is checked."""
    import soundfile as sf
    from scipy.signal import resample_poly

    atempo_path, stretch_path, natural_path = tmp_path / "3080_atempo.wav", tmp_path / "3080_pv.wav", tmp_path / "3080.wav"
    speech = speaker_audio("3080", 21.0)
    at_441 = resample_poly(speech, 441, 160).astype(np.float32)
    sf.write(atempo_path, atempo(at_441, 44_100, 0.75)[: 10 * 44_100], 44_100, subtype="PCM_16")
    sf.write(stretch_path, time_stretch(speech, 0.75)[: 10 * 16_000], 16_000, subtype="PCM_16")
    sf.write(natural_path, speech[: 10 * 16_000], 16_000, subtype="PCM_16")
    grids = {}
    for path in (atempo_path, stretch_path):
        shallow, evidence = _scan_speed(capsys, path)
        assert evidence["score"] > 0.5, (path.name, evidence["summary"])
        assert 0.5 <= shallow["speed_factor"] < 0.95, (path.name, shallow)
        grids[path] = evidence["details"]["audio_p_grid"]
    shallow, evidence = _scan_speed(capsys, natural_path)
    assert evidence["score"] < 0.5 and shallow["speed_factor"] == 1.0
    # the grid test names WSOLA (atempo) only: the phase vocoder and the natural clip leave no line at atempo's hop
    assert grids[atempo_path] > 0.5 > max(grids[stretch_path], evidence["details"]["audio_p_grid"])
