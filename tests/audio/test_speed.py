"""The speed test-set builder, the shipped speed model on a held-out speaker, and the video estimator."""

import csv

import numpy as np
import pytest

from dflab.audio.speed import SpeedModel, estimate_speed
from dflab.audio.speed_features import FEATURE_NAMES
from dflab.media import load_audio
from dflab.train.speed_testset import CALIB_SPEAKERS, build_testset
from dflab.shallow.speed_video import estimate_video_speed


@pytest.fixture(scope="module")
def small_set(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("speedset")
    manifest = build_testset(out, shared_data, bases_per_speaker=1, factors=(0.5, 2.0), methods=("stretch", "resample"),
                             librispeech_speakers=["3080"], liveportrait=False, ljspeech=False)  # fmt: skip
    with open(manifest, newline="") as handle:
        return out, list(csv.DictReader(handle))


def test_testset_manifest_lists_every_variant(small_set):
    out, rows = small_set
    assert "3080" not in CALIB_SPEAKERS  # the shipped model never saw this speaker
    assert {(r["method"], r["factor"]) for r in rows} == {
        ("original", "1.00"), ("aac", "1.00"), ("mp3", "1.00"), ("cut", "1.00"),
        ("stretch", "0.50"), ("stretch", "2.00"), ("resample", "0.50"), ("resample", "2.00"),
    }  # fmt: skip
    for r in rows:
        assert r["label"] == ("real" if r["factor"] == "1.00" else "fake") and r["split"] == "test"
        audio = load_audio(out / r["path"])
        assert audio.duration_s == pytest.approx(10.0, abs=0.2)


def test_shipped_model_on_an_unseen_speaker(small_set):
    out, rows = small_set
    model = SpeedModel.load()
    assert model.mean.shape == (len(FEATURE_NAMES),)
    by_key = {(r["method"], r["factor"]): estimate_speed(load_audio(out / r["path"]).samples, model=model) for r in rows}
    # Held out (bench/speed_accuracy.py): phase-vocoder stretch is caught at every factor (100 %) and 90 % of
    # natural clips are called natural; this speaker's are all four. Tape-style resampling is not learnt by
    # the classifier (no method trace), so only its factor estimate is checked.
    assert by_key[("stretch", "2.00")].changed and by_key[("stretch", "0.50")].changed
    for method in ("original", "aac", "mp3", "cut"):
        assert not by_key[(method, "1.00")].changed, method
    # the factor estimate moves the right way for tape-style changes and for the phase vocoder
    assert by_key[("resample", "2.00")].factor_estimate > by_key[("resample", "0.50")].factor_estimate
    assert by_key[("stretch", "2.00")].factor_estimate > by_key[("stretch", "0.50")].factor_estimate


def test_phase_vocoder_destroys_the_residual_pulses(small_set):
    """The phasiness detector on its own: natural voiced speech has a pulse-like LPC residual (kurtosis well
    above 0), the phase vocoder leaves near-Gaussian residual at any factor, codecs do not."""
    from dflab.audio.artefacts import residual_peakiness

    out, rows = small_set
    kurt = {(r["method"], r["factor"]): residual_peakiness(load_audio(out / r["path"]).samples, 16_000)["residual_kurtosis"]
            for r in rows}  # fmt: skip
    for natural in ("original", "aac", "mp3"):
        assert kurt[(natural, "1.00")] > 1.0
    assert kurt[("stretch", "0.50")] < 0.3 and kurt[("stretch", "2.00")] < 0.3


def test_wsola_slowing_repeats_the_high_band(shared_data):
    """ffmpeg atempo at 0.5x copies every input window twice: the high band repeats within 50 ms."""
    from dflab.audio.artefacts import highband_repetition
    from dflab.train.speed_testset import atempo

    samples = load_audio(sorted((shared_data / "librispeech" / "3080").glob("*.flac"))[0]).samples[: 5 * 16_000]
    natural = highband_repetition(samples, 16_000)
    slowed = highband_repetition(atempo(samples, 16_000, 0.5), 16_000)
    assert slowed["repeat_share"] > natural["repeat_share"] + 0.25
    assert slowed["repeat_corr_median"] > 0.6 > natural["repeat_corr_median"]


def test_artefact_features_refuse_nothing_on_noise_and_short_input():
    from dflab.audio.artefacts import artefact_features

    rng = np.random.default_rng(0)
    noise = artefact_features(rng.standard_normal(16_000 * 3).astype(np.float32) * 0.1, 16_000)
    assert abs(noise["residual_kurtosis"]) < 0.5 and noise["repeat_share"] < 0.05  # white noise: no pulses, no copies
    short = artefact_features(np.zeros(100, np.float32), 16_000)
    assert all(np.isnan(v) for v in short.values())


def _clip(shared_data, name):
    from dflab.train.edits import read_clip

    return read_clip(shared_data / f"liveportrait/assets/examples/driving/{name}.mp4", max_side=128, max_seconds=10)


@pytest.mark.parametrize("factor", [0.5, 0.75, 0.9])
def test_video_repeats_give_the_slowdown_factor(shared_data, factor):
    from dflab.train.edits import change_speed

    clip = _clip(shared_data, "d14")  # shot without frame-rate conversion: no repeated frames of its own
    assert estimate_video_speed(clip.frames).factor is None
    slowed = estimate_video_speed(change_speed(clip, factor).frames)
    assert slowed.factor == pytest.approx(factor, abs=0.04)


def test_video_still_picture_gives_no_opinion():
    frames = [np.full((64, 64, 3), 90, np.uint8)] * 60
    assert estimate_video_speed(frames).confidence == 0.0


def test_testset_script_refuses_a_folder_without_the_data(tmp_path, capsys):
    from dflab.train.speed_testset import main

    assert main([str(tmp_path / "out"), "--data", str(tmp_path)]) == 2
    assert "does not look like the shared data folder" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_speed_windows_find_the_changed_stretch_of_a_long_recording(small_set):
    """30 s of an unseen speaker: natural, then 10 s slowed to 0.5x by the phase vocoder, then natural again:
    the window on the slowed stretch reads as changed, the two on the natural ends do not."""
    from dflab.audio.speed import merge_ranges, speed_windows

    out, rows = small_set
    path = {(r["method"], r["factor"]): out / r["path"] for r in rows}
    natural = load_audio(path[("original", "1.00")]).samples
    slowed = load_audio(path[("stretch", "0.50")]).samples
    windows = speed_windows(np.concatenate([natural, slowed, natural]), model=SpeedModel.load())
    assert [(w.start_s, w.end_s) for w in windows] == [(0, 10), (5, 15), (10, 20), (15, 25), (20, 30)]
    flagged = {w.start_s for w in windows if w.estimate.changed}
    assert 10 in flagged and not flagged & {0, 20}
    (start, end), = merge_ranges([(w.start_s, w.end_s) for w in windows if w.estimate.changed])
    assert 5 <= start <= 10 and 20 <= end <= 25
    assert speed_windows(natural) == []  # 10 s: the whole-clip estimate is the one window


def test_speech_under_noise_is_not_read_as_re_timed_but_atempo_still_is(shared_data):
    # LibriSpeech 3080 (never fitted on) under white noise at 10 dB SNR read p(changed) 0.97 before the
    # speech-likeness gate: the phase-vocoder classifier takes masked glottal pulses for a vocoder's smearing
    from dflab.audio.speed import speech_quality
    from dflab.train.speed_testset import atempo

    files = sorted((shared_data / "librispeech/3080").glob("*.flac"))
    speech = np.concatenate([load_audio(f).samples for f in files])[: 10 * 16_000]
    noise = np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    noisy = speech + noise * np.sqrt(np.mean(speech**2) / np.mean(noise**2)) / 10 ** (10 / 20)
    model = SpeedModel.load()
    noisy_estimate = estimate_speed(noisy.astype(np.float32), model=model)
    assert noisy_estimate.speech == "not_clean" and not noisy_estimate.changed
    sped_up = estimate_speed(atempo(speech, 16_000, 1.25).astype(np.float32), model=model)
    assert sped_up.speech == "clean" and sped_up.changed
    assert speech_quality(speech, 16_000, noisy_estimate.features | {"voiced_fraction": 0.01}) == "unvoiced"
