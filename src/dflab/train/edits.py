"""Shallow edits of real clips, for building test sets: remove a piece, splice two clips, re-time, alter a region.

These are the manipulations the shallowfake detectors must find, done the way an editor would do them: video
and audio are cut at the same instant and the result is re-encoded (H.264 + AAC through dflab.media.write_video).
Everything works on a decoded `Clip` (all frames at one size, mono 16 kHz audio) so that edits compose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dflab.config import SamplingPolicy
from dflab.errors import UsageError
from dflab.media.types import Audio

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Clip:
    frames: list[np.ndarray]  # HxWx3 uint8 RGB, every frame of the source (constant frame rate)
    fps: float
    audio: Audio | None

    @property
    def duration_s(self) -> float:
        return len(self.frames) / self.fps


def read_clip(path: str | Path, max_side: int = 512, max_seconds: float | None = None) -> Clip:
    """Every frame of a video (downscaled so the longer side is at most max_side) and its audio."""
    from dflab.media import load

    policy = SamplingPolicy(all_frames_up_to_s=1e9, rate_fps=1000.0, max_side=max(64, max_side))
    media = load(path, policy=policy)
    if media.media_type != "video" or not media.frames:
        raise UsageError(f"{path}: a video is needed to make an edited clip")
    frames = [f.rgb for f in media.frames]
    fps = media.fps if media.fps > 0 else media.sampled_fps
    audio = media.audio
    if max_seconds is not None:
        frames = frames[: max(1, int(round(max_seconds * fps)))]
        if audio is not None:
            audio = Audio(audio.samples[: int(round(len(frames) / fps * audio.sample_rate))], audio.sample_rate)
    return Clip(frames, float(fps), _fit_audio(audio, len(frames) / fps))


def _fit_audio(audio: Audio | None, duration_s: float) -> Audio | None:
    """Audio padded with silence or trimmed to the video's duration, so cut instants line up."""
    if audio is None:
        return None
    n = int(round(duration_s * audio.sample_rate))
    samples = audio.samples[:n]
    if len(samples) < n:
        samples = np.concatenate([samples, np.zeros(n - len(samples), np.float32)])
    return Audio(samples.astype(np.float32), audio.sample_rate)


def remove_span(clip: Clip, start_s: float, end_s: float) -> Clip:
    """The clip with [start_s, end_s) removed from video and audio at the same frame boundary."""
    i0, i1 = int(round(start_s * clip.fps)), int(round(end_s * clip.fps))
    if not 0 < i0 < i1 < len(clip.frames):
        raise UsageError(f"cannot remove {start_s:.2f}-{end_s:.2f} s from a {clip.duration_s:.2f} s clip")
    frames = clip.frames[:i0] + clip.frames[i1:]
    audio = None
    if clip.audio is not None:
        sr = clip.audio.sample_rate
        a0, a1 = int(round(i0 / clip.fps * sr)), int(round(i1 / clip.fps * sr))
        audio = Audio(np.concatenate([clip.audio.samples[:a0], clip.audio.samples[a1:]]), sr)
    return Clip(frames, clip.fps, audio)


def concatenate(first: Clip, second: Clip) -> Clip:
    """`second` appended to `first` (resized to its frame size, re-sampled to its frame rate): a hard cut.

    Frames of `second` are picked at first.fps, so its own timing (and its soundtrack) is kept."""
    import cv2

    height, width = first.frames[0].shape[:2]
    n_out = int(round(second.duration_s * first.fps))
    picks = np.minimum(np.round(np.arange(n_out) * second.fps / first.fps).astype(int), len(second.frames) - 1)
    resized = [cv2.resize(second.frames[i], (width, height), interpolation=cv2.INTER_AREA) for i in picks]
    frames = first.frames + resized
    duration = len(frames) / first.fps
    if first.audio is None and second.audio is None:
        return Clip(frames, first.fps, None)
    a = first.audio.samples if first.audio is not None else np.zeros(int(first.duration_s * SAMPLE_RATE), np.float32)
    b = second.audio.samples if second.audio is not None else np.zeros(0, np.float32)
    return Clip(frames, first.fps, _fit_audio(Audio(np.concatenate([a, b]), SAMPLE_RATE), duration))


def change_speed(clip: Clip, factor: float) -> Clip:
    """Played `factor` times faster (frames picked at the new rate, audio resampled: the pitch changes too)."""
    if not 0.1 <= factor <= 10:
        raise UsageError(f"speed factor must be in [0.1, 10], got {factor}")
    n_out = int(np.floor(len(clip.frames) / factor))
    # nearest frame, halves rounded up as ffmpeg's fps filter does (np.round's half-to-even would break the
    # periodic step pattern a real re-timing leaves)
    picks = np.minimum(np.floor(np.arange(n_out) * factor + 0.5).astype(int), len(clip.frames) - 1)
    frames = [clip.frames[i] for i in picks]
    audio = None
    if clip.audio is not None:
        src = clip.audio.samples
        t_out = np.arange(int(len(src) / factor)) * factor
        audio = Audio(np.interp(t_out, np.arange(len(src)), src).astype(np.float32), clip.audio.sample_rate)
    return Clip(frames, clip.fps, _fit_audio(audio, n_out / clip.fps))


def alter_region(clip: Clip, box: tuple[int, int, int, int], start_s: float, end_s: float) -> Clip:
    """A strong blur and a colour shift inside `box` (x0, y0, x1, y1) for the frames in [start_s, end_s)."""
    import cv2

    x0, y0, x1, y1 = box
    frames = list(clip.frames)
    for i in range(int(round(start_s * clip.fps)), min(len(frames), int(round(end_s * clip.fps)))):
        frame = frames[i].copy()
        patch = cv2.GaussianBlur(frame[y0:y1, x0:x1], (0, 0), sigmaX=6)
        frame[y0:y1, x0:x1] = np.clip(patch.astype(np.int16) + np.array([30, -10, -20]), 0, 255).astype(np.uint8)
        frames[i] = frame
    return replace(clip, frames=frames)


def replace_audio(clip: Clip, audio: Audio | None, shift_s: float = 0.0) -> Clip:
    """The same pictures with another soundtrack (a dub), optionally delayed by shift_s (negative: earlier)."""
    if audio is None:
        return replace(clip, audio=None)
    shift = int(round(shift_s * audio.sample_rate))
    samples = audio.samples
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return replace(clip, audio=_fit_audio(Audio(samples, audio.sample_rate), clip.duration_s))


def write_clip(path: str | Path, clip: Clip, crf: int = 20) -> Path:
    """Encode the clip as H.264 + AAC (atomic)."""
    from dflab.media import write_video

    return write_video(path, clip.frames, clip.fps, audio=clip.audio, crf=crf, preset="veryfast")
