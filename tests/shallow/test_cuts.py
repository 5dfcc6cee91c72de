"""Cuts on real clips: a removed piece (jump cut), two clips joined (hard cut), re-encoding only (no cut)."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.registry import create_detector
from dflab.faces import analyse
from dflab.media import load
from dflab.media.types import Audio, Frame
from dflab.shallow.audio_splice import audio_discontinuities, flux_series
from dflab.shallow.continuity import acceleration_of, nonrigid_residual
from dflab.shallow.cuts import find_cuts, local_ratio
from dflab.train.edits import concatenate, remove_span, write_clip

D6 = "liveportrait/assets/examples/driving/d6.mp4"
D11 = "liveportrait/assets/examples/driving/d11.mp4"
D20 = "liveportrait/assets/examples/driving/d20.mp4"


def _analysed(path) -> AnalysedMedia:
    media = load(path)
    return AnalysedMedia(media, analyse(media, max_faces=1, embed_every_s=None))


@pytest.fixture(scope="module")
def edited(clip_reader, shallow_dir):
    d6 = clip_reader(D6)
    return {
        "reencoded": _analysed(write_clip(shallow_dir / "d6_re.mp4", d6)),
        "cut": _analysed(write_clip(shallow_dir / "d6_cut.mp4", remove_span(d6, 4.0, 5.0))),
        "concat": _analysed(write_clip(shallow_dir / "d6_d20.mp4", concatenate(clip_reader(D6, 4.0), clip_reader(D20, 4.0)))),
    }


def test_removed_piece_is_a_jump_cut_at_the_splice(edited):
    subject = edited["cut"]
    cuts, _ = find_cuts(subject.media.frames, subject.tracks, subject.media.audio)
    near = [c for c in cuts if abs(c.time_s - 4.0) <= 0.07]
    assert near and near[0].kind == "jump", [c.to_json() for c in cuts]
    assert len(cuts) == 1


def test_joined_clips_give_one_hard_cut(edited):
    subject = edited["concat"]
    cuts, signals = find_cuts(subject.media.frames, subject.tracks, subject.media.audio)
    assert [(round(c.time_s, 2), c.kind) for c in cuts] == [(4.0, "hard")]
    assert cuts[0].audio_z > 6  # the soundtrack changes there too
    assert signals.hist_distance.argmax() == int(np.argmin(np.abs(signals.times - 4.0)))


def test_reencoding_alone_gives_no_cut(edited):
    subject = edited["reencoded"]
    cuts, _ = find_cuts(subject.media.frames, subject.tracks, subject.media.audio)
    assert cuts == []


def test_native_hard_cuts_of_the_hamilton_clip(shared_data):
    media = load(shared_data / "face_recognition/examples/short_hamilton_clip.mp4")
    cuts, _ = find_cuts(media.frames, [], media.audio)
    found = [c for c in cuts if c.kind == "hard"]
    truth = [20 / 29.97, 82 / 29.97, 211 / 29.97]  # frames verified in tests/faces/test_analyse.py
    assert all(any(abs(c.time_s - t) < 0.05 for c in found) for t in truth), [c.to_json() for c in cuts]
    assert len(cuts) == 3


def test_detector_reports_cut_times_for_the_scan(edited):
    evidence = create_detector("cuts").detect(edited["cut"])
    assert evidence.details["cuts"] == pytest.approx([4.0], abs=0.07)
    assert evidence.details["jump_cuts"] == 1 and evidence.score > 0.6
    clean = create_detector("cuts").detect(edited["reencoded"])
    assert clean.details["cuts"] == [] and clean.score < 0.5
    assert len(evidence.series["score"]) == len(evidence.times)


def test_spliced_soundtracks_are_an_audio_discontinuity(clip_reader):
    # Two loud soundtracks (music) joined: the spectrum jumps at the splice. Joins of quiet speech
    # (d11+d6, d6+d20) reach only z 6-7 there, below natural peaks (~12): audio alone misses those.
    a = clip_reader("liveportrait/assets/examples/driving/d10.mp4", 4.0).audio
    b = clip_reader("liveportrait/assets/examples/driving/d12.mp4", 4.0).audio
    spliced = Audio(np.concatenate([a.samples, b.samples]), a.sample_rate)
    found = audio_discontinuities(spliced)
    assert any(abs(t - 4.0) <= 0.05 for t, _ in found), found
    assert audio_discontinuities(a) == [] and audio_discontinuities(b) == []


def test_local_ratio_ignores_duplicated_frames():
    # Every other frame duplicated (difference 0), ordinary motion 0.01, one jump of 0.08.
    values = np.tile([0.0, 0.01], 20)
    values[21] = 0.08
    ratio = local_ratio(values, floor=0.003)
    assert ratio[21] == pytest.approx(8.0)
    assert np.nanmax(np.delete(ratio, 21)) <= 1.0 + 1e-9


def test_silence_and_tiny_inputs_say_nothing():
    assert flux_series(Audio(np.zeros(16000, np.float32), 16000)) is None
    assert audio_discontinuities(None) == []
    frames = [Frame(i, i / 25, np.full((36, 64, 3), 128, np.uint8)) for i in range(3)]
    cuts, signals = find_cuts(frames)
    assert cuts == [] and len(signals.times) == 3


D19 = "liveportrait/assets/examples/driving/d19.mp4"


@pytest.fixture(scope="module")
def d19(clip_reader, shallow_dir):
    clip = clip_reader(D19)
    return {
        "reencoded": _analysed(write_clip(shallow_dir / "d19_re.mp4", clip)),
        "cut": _analysed(write_clip(shallow_dir / "d19_cut.mp4", remove_span(clip, 3.0, 4.0))),
    }


def test_small_jump_cut_found_by_face_continuity(d19):
    # A second removed while the man in glasses talks: the picture barely changes (its ratio alone is below
    # the no-face bar), but the landmark motion and the expression break at the splice.
    subject = d19["cut"]
    cuts, signals = find_cuts(subject.media.frames, subject.tracks, subject.media.audio)
    assert [(round(c.time_s, 1), c.kind) for c in cuts] == [(3.0, "jump")], [c.to_json() for c in cuts]
    at = int(np.argmin(np.abs(signals.times - 3.0)))
    assert signals.picture_ratio[at] < 4.5
    assert signals.acceleration_ratio[at] >= 2.0 and signals.expression_ratio[at] > 1.0
    clean, _ = find_cuts(d19["reencoded"].media.frames, d19["reencoded"].tracks, d19["reencoded"].media.audio)
    assert clean == []


def test_nonrigid_residual_ignores_head_turns_and_sees_the_mouth():
    rng = np.random.default_rng(3)
    face = rng.normal(size=(478, 3)) * 40.0
    angle = np.deg2rad(12.0)  # a head turn (yaw) plus a zoom and a shift: all rigid
    yaw = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    turned = 1.1 * face @ yaw.T + np.array([5.0, -3.0, 2.0])
    assert nonrigid_residual(face, turned) < 1e-9
    opened = turned.copy()
    opened[:40, 1] += 8.0  # a mouth opening moves some points only
    assert nonrigid_residual(face, opened) > 1.0


def test_acceleration_is_zero_for_steady_motion_and_high_at_a_break():
    steady = {t: np.full((478, 2), 0.05) for t in range(1, 10)}
    assert np.nanmax(acceleration_of(steady, 10)) == pytest.approx(0.0)
    broken = dict(steady)
    broken[5] = np.full((478, 2), 0.05) + np.array([0.3, 0.0])  # one transition jumps, neither neighbour does
    accel = acceleration_of(broken, 10)
    assert accel[5] == pytest.approx(0.3) and np.nanargmax(accel) == 5
    onset = {t: np.full((478, 2), 0.0 if t < 5 else 0.2) for t in range(1, 10)}  # motion starts and keeps going
    assert acceleration_of(onset, 10)[5] == pytest.approx(0.0)


def test_a_long_track_gives_the_same_spectral_bands_in_blocks(shared_data):
    """Past 1.5 blocks the spectrogram is taken block by block (bounded memory); the frames are the same ones."""
    from dflab.audio.stft_blocks import BLOCK_FRAMES
    from dflab.media import load_audio
    from dflab.shallow import audio_splice
    from dflab.shallow.lipsync import speech_band_energy

    def _whole_bands(x):  # one transform of the whole track, as before the blocks
        from scipy import signal

        freqs, t, spec = signal.stft(x, 16_000, nperseg=400, noverlap=240, boundary=None, padded=False)
        return t, audio_splice._log_bands(freqs, spec)

    speech = load_audio(shared_data / "liveportrait/assets/examples/driving/d6.mp4").samples
    samples = np.tile(speech, 3)[: 16_000 * 95]  # 95 s of real speech: 9,498 frames, two blocks
    whole_times, whole_bands = _whole_bands(samples)
    times, bands = audio_splice.band_log_spectrum(samples, 16_000)
    assert bands.shape == whole_bands.shape and bands.shape[1] > 1.5 * BLOCK_FRAMES
    np.testing.assert_array_equal(bands, whole_bands)
    np.testing.assert_allclose(times, whole_times, rtol=0, atol=1e-9)
    # lip sync's speech-band energy goes through the same blocks
    short_times, short_energy = speech_band_energy(Audio(samples[: 16_000 * 60], 16_000))
    long_times, long_energy = speech_band_energy(Audio(samples, 16_000))
    np.testing.assert_array_equal(long_energy[: len(short_energy)], short_energy)
