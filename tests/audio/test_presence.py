import numpy as np

from dflab.audio.presence import sounds_like_speech, syllabic_modulation
from dflab.media import load_audio


def test_tone_and_noise_are_not_speech():
    t = np.arange(16000 * 4) / 16000
    assert not sounds_like_speech(0.3 * np.sin(2 * np.pi * 440 * t), 16000)
    faded = np.minimum(1, np.minimum(t, 4 - t) / 0.3)  # a fade in and out is not syllable rhythm
    assert not sounds_like_speech(0.2 * faded * np.sin(2 * np.pi * 440 * t), 16000)
    assert not sounds_like_speech(0.05 * np.random.default_rng(0).standard_normal(16000 * 4), 16000)


def test_real_speech_is_speech(shared_data):
    for path in [
        shared_data / "liveportrait/assets/examples/driving/d6.mp4",
        *sorted((shared_data / "ljspeech_tts/ground_truth").rglob("*.wav"))[:2],
        *sorted((shared_data / "librispeech").rglob("*.flac"))[:2],
    ]:
        audio = load_audio(path)
        assert syllabic_modulation(audio.samples, audio.sample_rate) > 0.3, path
        assert sounds_like_speech(audio.samples, audio.sample_rate), path


def test_slowed_and_sped_up_speech_is_speech(speaker_audio):
    """Playback at 0.5x moves the syllable rhythm below 2 Hz: the speed cue must still get to judge such a clip."""
    from dflab.train.speed_testset import atempo, time_stretch

    speech = speaker_audio("3080", 21.0)
    for changed in (time_stretch(speech, 0.5), time_stretch(speech, 2.0), atempo(speech, 16_000, 0.5)):
        assert sounds_like_speech(changed[: 10 * 16_000], 16_000)


def test_voice_detectors_abstain_on_a_tone(tmp_path):
    """A clip whose soundtrack is a steady tone: nothing to say about the voice or its playback speed."""
    from dflab.detect.context import AnalysedMedia
    from dflab.detect.registry import create_detector
    from dflab.media import Audio, Media

    t = np.arange(16000 * 6) / 16000
    tone = Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    media = Media(path=tmp_path / "tone.wav", media_type="audio", frames=[], fps=0.0, duration_s=6.0,
                  width=0, height=0, audio=tone)  # fmt: skip
    for name in ("synthetic_speech", "speed"):
        evidence = create_detector(name).detect(AnalysedMedia(media))
        assert evidence.confidence == 0, (name, evidence.summary)
