"""Lip sync on real talking clips: the natural soundtrack agrees with the mouth better than another clip's
soundtrack (a dub) or the same soundtrack 500 ms late."""

from __future__ import annotations

import numpy as np
import pytest

from dflab.detect.context import AnalysedMedia
from dflab.detect.registry import create_detector
from dflab.faces import analyse
from dflab.media import load
from dflab.train.edits import replace_audio, write_clip
from dflab.shallow.lipsync import lagged_ncc, lip_sync

DRIVING = "liveportrait/assets/examples/driving/"


def _subject(path) -> AnalysedMedia:
    media = load(path)
    return AnalysedMedia(media, analyse(media, max_faces=1, embed_every_s=None))


@pytest.mark.parametrize("name,other", [("d6", "d20"), ("d11", "d6")])
def test_natural_beats_dubbed_and_shifted(name, other, clip_reader, shallow_dir):
    clip = clip_reader(DRIVING + f"{name}.mp4", 8.0, 256)
    versions = {
        "natural": clip,
        "dub": replace_audio(clip, clip_reader(DRIVING + f"{other}.mp4", 8.0, 256).audio),
        "shift": replace_audio(clip, clip.audio, 0.5),
    }
    results, evidence = {}, {}
    for kind, version in versions.items():
        subject = _subject(write_clip(shallow_dir / f"ls_{name}_{kind}.mp4", version))
        results[kind] = lip_sync(subject.tracks[0], subject.media.audio)
        evidence[kind] = create_detector("lip_sync").detect(subject)
    assert results["natural"].correlation > results["dub"].correlation + 0.05
    assert results["natural"].correlation > results["shift"].correlation + 0.05
    assert abs(results["natural"].lag_s) <= 0.2
    assert evidence["natural"].score < evidence["dub"].score and evidence["natural"].score < evidence["shift"].score
    assert evidence["natural"].details["sync_correlation"] == pytest.approx(results["natural"].correlation, abs=1e-3)


def test_lagged_ncc_finds_a_known_delay():
    rng = np.random.default_rng(1)
    mouth = np.convolve(rng.standard_normal(300), np.ones(5) / 5, mode="same")
    voice = np.roll(mouth, 3)  # the voice 3 steps after the mouth
    lags, ncc = lagged_ncc(mouth, voice, 5)
    assert lags[np.nanargmax(ncc)] == 3 and np.nanmax(ncc) > 0.95


def test_silent_video_is_not_applicable(clip_reader, shallow_dir):
    clip = clip_reader(DRIVING + "d6.mp4", 4.0, 256)
    subject = _subject(write_clip(shallow_dir / "ls_silent.mp4", replace_audio(clip, None)))
    evidence = create_detector("lip_sync").detect(subject)
    assert evidence.confidence == 0.0 and evidence.score == 0.5
