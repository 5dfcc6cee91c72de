"""Playback speed: was the clip slowed down or sped up (with or without pitch correction), and by how much?

Two estimators, fused: the audio one (method traces of phase vocoders and WSOLA at the clip's own sample
rate, or pitch, formants, rate and band edge moved together by tape-style resampling; speaking rate, pitch and
spectrum against natural speech for the factor; dflab.audio.speed) and the video one (the periodic pattern of
repeated, dropped or blended frames that re-timing at an unchanged frame rate leaves; dflab.shallow.speed_video),
which sees slowing and speeding up and reads the factor almost exactly. A video pattern is strong evidence
(it sets the factor, and can overrule the audio once clearly above its threshold) when no frame-rate conversion
into the file's rate explains it (dflab.shallow.rate_conversion: 25 -> 30 fps looks like 0.833x slowing in a
30 fps file, 30 -> 25 like 1.2x speeding up in a 25 fps one) and its repeats or drops are clear; a weak pattern
only nudges the decision. dflab.detect.cues.speed_fusion decides, and takes the factor from the frames whenever
they show a pattern the sound does not contradict: the sound's factor is +-10-20 % and can sit on the wrong side
of 1. `speed_direction` ("slowed", "sped_up", "natural") is always the factor's side of 1. r = 1.0 and 2.0 (every
other frame dropped) leave no pattern. Audio longer than 15 s is also judged in 10 s windows 5 s apart
(dflab.audio.speed.windowed_reading): they say where (the evidence's time ranges, a per-window score series for
the timeline, `speed_windows` in the details) and, up to 30 s, decide too: a re-timed stretch is diluted in the
whole recording. The scan JSON's `shallow` block reads `speed_factor` and `speed_confidence` from the details
(docs/speed.md).
"""

from __future__ import annotations

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector

MIN_AUDIO_S = 3.0
FULL_CONFIDENCE_S = 8.0  # the model was calibrated on 10 s clips
AUDIO_CONFIDENCE = 0.5
NOT_CLEAN_CONFIDENCE = 0.5  # music, hiss or noise fills the speech's pauses (dflab.audio.speed.speech_quality)
# A long clip's frames are read over its first 20 s: the length a scan analyses whole, on which the pattern fit
# was measured (over 30-60 s its composite fit can take a 0.75x repeat pattern for 1.25x drops).
VIDEO_RUN_S = 20.0
CLEARLY_CHANGED = 0.6  # from this p(changed) the summary says "looks changed", below it "may be changed"


def _native_rate(media) -> int:
    """The audio's own sample rate where a scan's 16 kHz copy is not it and the file can be read again, else 0."""
    rate = int(media.meta.get("source_sample_rate") or 0)
    if rate <= 0 or rate == media.audio.sample_rate or media.path is None:
        return 0
    return rate


def _native_chunks(media, rate: int):
    """The audio at its own rate as chunks decoded on demand (a long recording is never held whole at 44.1 or
    48 kHz); a decode error ends them, and what is missing is judged on the 16 kHz copy instead."""
    from dflab.errors import DflabError
    from dflab.media.audio import AudioChunks

    try:
        yield from AudioChunks(media.path, rate)
    except DflabError:
        return


def _native_audio(media) -> tuple[np.ndarray, int] | None:
    """The audio at its own sample rate when that is not the scan's 16 kHz: the time-scale artefacts sit on a
    grid of whole samples at that rate. Re-decoded here so no other detector pays for it."""
    from dflab.errors import DflabError
    from dflab.media.audio import decode_audio

    rate = _native_rate(media)
    if not rate:
        return None
    try:
        audio, _ = decode_audio(media.path, rate)
    except DflabError:
        return None  # the 16 kHz track decoded, so judge on that (exact only for 16 kHz sources)
    return audio.samples, audio.sample_rate


def _consecutive_frames(media) -> bool:
    return media.fps > 0 and len(media.frames) > 1 and abs(media.sampled_fps - media.fps) < 0.05 * media.fps


SPEED_THUMB = "speed_thumb"  # grey_thumbnail of each frame, computed while a scan decodes (detect/scan.py)


def _video_speed(frames, fps: float):
    """estimate_video_speed, on the thumbnails computed while decoding when the frames were streamed (the same
    grey_thumbnail values, so the same result without holding every frame)."""
    from dflab.shallow.speed_video import estimate_video_speed, speed_from_thumbnails

    pict_types = [f.pict_type for f in frames]
    feature = getattr(frames, "feature", None)
    thumbs = feature(SPEED_THUMB) if feature is not None else None
    if thumbs is None:
        return estimate_video_speed([f.rgb for f in frames], pict_types=pict_types, fps=fps)
    return speed_from_thumbnails(np.stack(thumbs).astype(np.float32), pict_types=pict_types, fps=fps)


def _run_speed(media):
    """The re-timing pattern of a sampled (long) clip's first stretch of consecutive frames, from the thumbnails
    kept for every decoded frame while it was decoded (media/frame_store.py, `consecutive_run`); None without."""
    from dflab.shallow.speed_video import longest_shot, speed_from_thumbnails

    run = getattr(media.frames, "consecutive_run", None)
    found = run() if run is not None and media.fps > 0 else None
    if found is None:
        return None
    n = int(round(VIDEO_RUN_S * media.fps))
    thumbs, pict_types = found[0][:n], found[1][:n]
    reading = speed_from_thumbnails(thumbs, pict_types=pict_types, fps=media.fps)
    shot = longest_shot(thumbs)
    if reading.factor is None or shot.stop - shot.start == len(thumbs):
        return reading
    # Across a cut a frame-rate conversion's pattern changes phase and no longer explains itself, so where the
    # longest shot alone shows no re-timing, or one its conversion explains, that reading stands; a re-timing seen
    # in it too is read over all the frames (a short shot can take a 0.75x repeat pattern for 1.25x drops).
    in_shot = speed_from_thumbnails(thumbs[shot], pict_types=pict_types[shot], fps=media.fps)
    return in_shot if in_shot.factor is None or in_shot.rate_ratio else reading


def _window_details(window) -> dict:
    estimate = window.estimate  # None: no speech in the window
    return {"start_s": round(window.start_s, 2), "end_s": round(window.end_s, 2),
            "p_changed": round(estimate.p_changed, 4) if estimate else None,
            "factor": round(estimate.factor, 3) if estimate else None}  # fmt: skip


@register_detector("speed")
class SpeedDetector:
    media_types = ("audio", "video")
    needs_faces = False
    # A minute of sound at the source's rate at a time (about 170 MB of feature temporaries), for most of a
    # long recording's scan: the runner keeps the frame and face cues from running beside it (detect/cue_runner.py)
    memory_heavy = True

    def __init__(self, weights: str | None = None) -> None:
        self.weights = weights

    def detect(self, media: AnalysedMedia) -> Evidence:
        from dflab.audio.presence import sounds_like_speech
        from dflab.audio.speed import (
            DEFAULT_WEIGHTS,
            SpeedModel,
            estimate_speed,
            speed_windows,
            windowed_reading,
        )
        from dflab.audio.speed_blocks import WHOLE_MAX_S, long_recording_speed
        from dflab.detect.cues.speed_fusion import fuse
        from dflab.errors import BadMedia

        m = media.media
        audio_est, audio_conf, audio_note, windows, reading = None, 0.0, "no audio track", [], None
        if m.audio is not None and m.audio.duration_s >= MIN_AUDIO_S and not sounds_like_speech(m.audio.samples, m.audio.sample_rate):
            audio_note = "the audio does not sound like speech (no syllable rhythm)"
        elif m.audio is not None and m.audio.duration_s >= MIN_AUDIO_S:
            try:
                model = SpeedModel.load(self.weights or DEFAULT_WEIGHTS)
                windows = None
                if m.audio.duration_s > WHOLE_MAX_S:  # in blocks, never the whole recording at its own rate
                    rate = _native_rate(m)
                    audio_est, windows = long_recording_speed(m.audio.samples, m.audio.sample_rate, model,
                                                              _native_chunks(m, rate) if rate else None, rate)
                else:
                    native = _native_audio(m)
                    audio_est = estimate_speed(m.audio.samples, m.audio.sample_rate, model, native=native)
                if not audio_est.judged:  # hiss or music with hardly any voice: the tests were fitted on speech
                    audio_est, windows = None, []
                    audio_note = "the audio holds too little voiced speech (hiss or music)"
                else:
                    if windows is None:
                        windows = speed_windows(m.audio.samples, m.audio.sample_rate, model, native=native)
                    reading = windowed_reading(audio_est, windows, m.audio.duration_s)
                    # leave-one-speaker-out on the speed test set: 95.3 % of natural clips kept, 99.1 % of
                    # pitch-corrected slowing and 95.9 % of speed-ups caught, 39.0 % of tape-style (resampled)
                    # changes; factor error median 9.8 % (bench/speed_accuracy.py)
                    audio_conf = AUDIO_CONFIDENCE * min(1.0, m.audio.duration_s / FULL_CONFIDENCE_S)
                    if audio_est.speech != "clean":  # music or noise under the voice: its factor is rougher too
                        audio_conf *= NOT_CLEAN_CONFIDENCE
                    audio_note = ""
            except BadMedia as exc:
                audio_note = str(exc)
        elif m.audio is not None:
            audio_note = f"only {m.audio.duration_s:.1f} s of audio"
        # re-timing patterns (bench/video_speed_accuracy.py, thresholds held out by source group): nearest-frame
        # re-timing found on 89-95 % of 0.5-0.75x and 55-83 % of 1.1-1.5x clips, factor error median < 0.5 %, and
        # strong (setting the factor) on 10-15 of 18-19 at 0.75-1.5x; blending mostly missed and never strong; no
        # natural clip strong. With the sound (bench/speed_video_audio.py) no natural copy is confident.
        frames = m.frames if _consecutive_frames(m) else []
        video = _video_speed(frames, m.fps) if frames else _run_speed(m)
        duration = m.duration_s or (m.audio.duration_s if m.audio else 0.0)
        # a long clip's frames are read near its start only (the run): say so
        read_s = video.n_frames / m.fps if video is not None and m.fps > 0 else 0.0
        from_run = video is not None and not frames and read_s < duration - 1
        frames_span = f" (its first {read_s:.0f} s)" if from_run else ""

        if audio_est is None and (video is None or video.confidence == 0):
            why = audio_note if m.media_type == "audio" else f"{audio_note}; the frames show no sign of retiming either"
            return not_applicable(self.name, f"Speed could not be judged: {why}.")

        # where music or noise fills the pauses only the WSOLA grid judges the sound, and no line there is no sign of
        # natural speed (atempo of LivePortrait d10's music leaves a line of 2.3): the sound then abstains, so that
        # it does not outvote the frames' clear pattern
        # (with nothing else to go on the reading is natural at confidence 0: no evidence either way)
        abstains = audio_est is not None and audio_est.speech != "clean" and not reading.p_changed >= 0.5
        heard = reading is not None and not abstains
        decision = fuse(reading.p_changed if heard else None, reading.factor_estimate if heard else None,
                        audio_conf if heard else 0.0, video)
        score, factor, confidence, changed = decision.score, decision.factor, decision.confidence, decision.changed
        parts = []
        judged = [w for w in windows if w.estimate is not None]  # windows with speech
        if audio_est is not None:
            parts.append(f"audio: p(changed) {audio_est.p_changed:.2f} (phase-vocoder traces {audio_est.p_method:.2f}, "
                         f"WSOLA crossfade grid {audio_est.p_grid:.2f}, pitch/rate moved {audio_est.p_resampled:.2f}), "
                         f"factor ~{audio_est.factor_estimate:.2f}x")
            if audio_est.speech != "clean":
                parts.append("music or noise fills the speech's pauses: only the WSOLA grid, at a stricter line, "
                             f"judges the sound (p {audio_est.p_changed:.2f}"
                             + (", no sign either way)" if abstains else ")"))
            if judged:
                parts.append(f"{len(judged)} windows of 10 s, highest p(changed) {max(w.estimate.p_changed for w in judged):.2f}"
                             + ("" if reading.windows_decide else " (past 30 s the windows point, the whole decides)"))
        if video is not None and video.factor is not None:
            ratio = f", what a {video.rate_ratio} fps conversion leaves" if video.rate_ratio else ""
            doubt = f", {video.doubt}" if video.doubt and not video.rate_ratio else ""
            parts.append(f"video{frames_span}: {video.method} pattern of {video.factor:.3f}x (score "
                         f"{video.pattern_score:.2f}{ratio}{doubt})")
            if decision.contradicted:  # never averaged across 1: the better-supported reading stands
                parts.append("the frames and the sound point different ways, the "
                             + ("frames' clear pattern sets the factor" if video.strong else
                                "frames' pattern, the stronger evidence, sets the factor"
                                if decision.factor_from == "video" else "sound's factor stands"))
        elif video is not None and video.confidence > 0:
            parts.append(f"video{frames_span}: no re-timing pattern, "
                         f"{100 * (video.repeat_fraction + video.blend_fraction):.0f}% "
                         "of frames repeated or blended")
        if not changed:
            lead = "Playback looks natural (1.0x)"
        else:  # just over the midline the sound's regression alone can read a natural clip as 0.9x or 1.1x
            lead = f"Playback {'looks' if score >= CLEARLY_CHANGED else 'may be'} changed to about {factor:.2f}x"
        # where: the windows that read as changed, joined (10 s windows 5 s apart: within about 5 s)
        flagged = reading.changed_ranges if reading is not None else []
        where = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in flagged)
        if flagged and changed:
            lead += f" in {where}"
        elif flagged:
            lead += (f" overall, though {where} alone reads as changed in its 10 s windows (about 1 natural 10 s "
                     "window in 20 does)")
        return Evidence(
            name=self.name,
            score=score,
            confidence=confidence,
            summary=f"{lead} ({'; '.join(parts)}).",
            time_ranges=(flagged or [(0.0, float(duration))]) if changed else [],
            times=np.array([(w.start_s + w.end_s) / 2 for w in judged]) if judged else None,
            series={"score": np.array([w.estimate.p_changed for w in judged])} if judged else {},
            details={
                "speed_windows": [_window_details(w) for w in windows],
                "speed_windows_decide": reading.windows_decide if reading else False,
                "speed_factor": round(factor, 3),
                "speed_confidence": round(confidence * abs(2 * score - 1), 3),
                "speed_direction": decision.direction,
                "speed_factor_from": decision.factor_from,
                "audio_p_changed": round(audio_est.p_changed, 4) if audio_est else None,
                "audio_p_resampled": round(audio_est.p_resampled, 4) if audio_est else None,
                "audio_p_grid": round(audio_est.p_grid, 4) if audio_est else None,
                "audio_factor_estimate": round(audio_est.factor_estimate, 3) if audio_est else None,
                "audio_speech": audio_est.speech if audio_est else None,
                "video_factor": round(video.factor, 3) if video and video.factor else None,
                "video_repeat_fraction": round(video.repeat_fraction, 3) if video else None,
                "video_blend_fraction": round(video.blend_fraction, 3) if video else None,
                "video_method": video.method if video else None,
                "video_direction": video.direction if video else None,
                "video_pattern_score": round(video.pattern_score, 3) if video else None,
                "video_confidence": round(video.confidence, 3) if video else None,
                "video_frames_read": video.n_frames if video else None,  # consecutive frames the pattern was read on
                "video_rate_ratio": video.rate_ratio if video else None,
                "video_strong": bool(video is not None and video.strong),
                "video_preset": bool(video is not None and video.preset),
                "video_doubt": video.doubt if video else None,
            },
        )
