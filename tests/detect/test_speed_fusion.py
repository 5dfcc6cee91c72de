"""The speed decision from the sound's reading and the frames' pattern: known answers, and for any input the
reported direction is the factor's side of 1."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dflab.detect.cues.speed_fusion import CONTRADICTED, NOT_RETIMING, VIDEO_CONFIDENCE, fuse
from dflab.shallow.speed_video import VideoSpeed


def _video(factor, confidence=1.0, method="drop", ratio=None, doubt=None):
    return VideoSpeed(factor, confidence, 0.0, 0.0, 300, method=method if factor else None, rate_ratio=ratio,
                      doubt=doubt)


def test_a_strong_pattern_sets_the_factor_against_the_sounds_side():
    # 1.25x drops no conversion explains; the sound found the change but read 0.73x (LivePortrait d9)
    decision = fuse(1.0, 0.73, 0.5, _video(1.249))
    assert decision.changed and decision.factor == pytest.approx(1.249) and decision.direction == "sped_up"
    assert decision.factor_from == "video" and decision.confidence == pytest.approx(0.9)


def test_a_conversion_pattern_the_other_way_leaves_the_sounds_factor_with_less_trust():
    decision = fuse(0.99, 0.75, 0.5, _video(1.2, ratio="30/25"))
    assert decision.factor == pytest.approx(0.75) and decision.direction == "slowed" and decision.contradicted
    assert decision.factor_from == "audio"
    assert decision.confidence == pytest.approx(0.5 * (1 - NOT_RETIMING) * CONTRADICTED)


def test_a_conversion_pattern_refines_an_agreeing_factor_and_lends_no_trust():
    near = fuse(0.99, 0.75, 0.5, _video(0.833, method="repeat", ratio="25/30"))
    assert near.factor == pytest.approx(0.833) and near.factor_from == "video" and not near.contradicted
    # a natural 30 fps clip converted to 60 fps (0.5x repeats) whose noisy sound reads 0.75x: no confident 0.5x
    far = fuse(0.9999, 0.749, 0.5, _video(0.499, method="repeat", ratio="29.97/60"))
    assert far.factor == pytest.approx(0.749) and far.factor_from == "audio"
    for decision in (near, far):
        assert decision.confidence == pytest.approx(0.5 * (1 - NOT_RETIMING)) and decision.direction == "slowed"


def test_an_unclear_pattern_the_same_way_sets_the_exact_factor():
    decision = fuse(0.99, 0.6, 0.5, _video(0.749, confidence=0.9, method="repeat", doubt="repeats or drops unclear"))
    assert decision.factor == pytest.approx(0.749) and decision.factor_from == "video"
    assert decision.confidence == pytest.approx(VIDEO_CONFIDENCE * 0.9)


def test_frames_without_a_pattern_lower_the_trust_in_the_sounds_factor():
    alone = fuse(0.95, 0.8, 0.5, None)
    watched = fuse(0.95, 0.8, 0.5, _video(None, confidence=0.3))
    assert alone.factor == watched.factor == pytest.approx(0.8) and watched.direction == "slowed"
    assert watched.confidence == pytest.approx(0.7 * alone.confidence)


def test_a_pattern_just_over_its_threshold_alone_is_no_confident_change():
    # natural LivePortrait d18 at its own size: drops at 1.43x, z 8.3 against 7.7 (confidence 0.65), no speech
    decision = fuse(None, None, 0.0, _video(1.433, confidence=0.651))
    assert decision.confidence * abs(2 * decision.score - 1) < 0.5
    clear = fuse(None, None, 0.0, _video(1.249, confidence=1.0))
    assert clear.changed and clear.confidence * abs(2 * clear.score - 1) > 0.85


def test_a_conversion_or_blend_pattern_alone_is_natural():
    # 25 fps footage in a 30 fps file (LivePortrait s20, s29, s32) repeats one frame in six; natural d9 blends
    for video in (_video(0.833, method="repeat", ratio="25/30"), _video(0.933, method="blend", doubt="blend")):
        decision = fuse(None, None, 0.0, video)
        assert not decision.changed and decision.direction == "natural" and decision.factor == 1.0


def test_a_blend_lends_no_trust_to_the_sound():
    # the sound reads natural d9's hiss as slowed to 0.75x; its frames show a 0.93x blend: no more trusted for it
    decision = fuse(0.9999, 0.749, 0.5, _video(0.931, confidence=0.54, method="blend", doubt="blend"))
    assert decision.factor_from == "audio" and decision.factor == pytest.approx(0.749)
    assert decision.confidence <= 0.5 * (1 - NOT_RETIMING * 0.54) + 1e-9


def test_natural_reads_one_and_natural():
    decision = fuse(0.1, 1.3, 0.5, _video(None, confidence=0.3))
    assert not decision.changed and decision.factor == 1.0 and decision.direction == "natural"


@given(
    audio_p=st.one_of(st.none(), st.floats(0.0, 1.0)),
    audio_factor=st.floats(0.25, 4.0),
    video_factor=st.one_of(st.none(), st.floats(0.3, 1.95).filter(lambda f: abs(f - 1.0) > 0.01)),
    video_confidence=st.floats(0.0, 1.0),
    ratio=st.sampled_from([None, "25/30"]),
    doubt=st.sampled_from([None, "blend"]),
)
@example(audio_p=1.0, audio_factor=1.0, video_factor=None, video_confidence=0.0, ratio=None, doubt=None)
def test_the_direction_is_always_the_factors_side_of_one(audio_p, audio_factor, video_factor, video_confidence,
                                                         ratio, doubt):
    video = _video(video_factor, video_confidence, ratio=ratio, doubt=doubt)
    decision = fuse(audio_p, audio_factor if audio_p is not None else None, 0.5, video)
    if not decision.changed or decision.factor == 1.0:  # a factor of exactly 1 is on neither side
        expected = "natural"
    else:
        expected = "slowed" if decision.factor < 1 else "sped_up"
    assert decision.direction == expected and 0.0 <= decision.confidence <= 1.0
    assert decision.changed or decision.factor == 1.0


def test_an_unclear_pattern_against_a_less_supported_sound_sets_the_factor():
    # a 1.25x copy of footage converted as shot (a composite fit, 0.9) while the sound found the change but read
    # 0.88x (0.49): the frames' side of 1 stands, never a factor between the two, and the disagreement is reported
    decision = fuse(0.99, 0.88, 0.5, _video(1.249, confidence=0.9, doubt="re-timed after a 25/30 fps conversion"))
    assert decision.factor == pytest.approx(1.249) and decision.direction == "sped_up" and decision.contradicted
    assert decision.factor_from == "video"
    assert decision.confidence == pytest.approx(VIDEO_CONFIDENCE * 0.9 * CONTRADICTED)


def test_a_faint_pattern_against_a_sure_sound_leaves_the_sounds_factor():
    decision = fuse(0.99, 0.7, 0.5, _video(1.1, confidence=0.4, doubt="repeats or drops unclear"))
    assert decision.factor == pytest.approx(0.7) and decision.factor_from == "audio" and decision.contradicted


@given(
    audio_p=st.floats(0.5, 1.0),
    audio_factor=st.floats(0.25, 4.0).filter(lambda f: abs(f - 1.0) > 0.01),
    video_factor=st.floats(0.3, 1.95).filter(lambda f: abs(f - 1.0) > 0.01),
    video_confidence=st.floats(0.0, 1.0),
    ratio=st.sampled_from([None, "25/30"]),
    doubt=st.sampled_from([None, "blend", "repeats or drops unclear"]),
)
def test_the_factor_is_one_of_the_two_readings_never_a_mix(audio_p, audio_factor, video_factor, video_confidence,
                                                           ratio, doubt):
    decision = fuse(audio_p, audio_factor, 0.5, _video(video_factor, video_confidence, ratio=ratio, doubt=doubt))
    if decision.changed:
        assert decision.factor in (pytest.approx(audio_factor), pytest.approx(video_factor))
