"""Which video frames are analysed and at what size: pure functions, no decoding here."""

from __future__ import annotations

from dflab.config import Limits, SamplingPolicy


def analysis_rate(duration_s: float | None, fps: float, policy: SamplingPolicy, limits: Limits) -> float | None:
    """Frames per second to keep, or None to keep every frame.

    Short clips keep every frame (blink and flicker cues need the full rate); longer ones drop to
    policy.rate_fps; very long ones go lower still so that at most limits.max_analysis_frames are kept.
    An unknown duration returns None here; FrameSelector then switches rate after all_frames_up_to_s.
    """
    if duration_s is None or duration_s <= 0:
        return None
    expected_frames = duration_s * fps if fps > 0 else float("inf")
    if duration_s <= policy.all_frames_up_to_s and expected_frames <= limits.max_analysis_frames:
        return None
    rate = policy.rate_fps if duration_s > policy.all_frames_up_to_s else (fps or policy.rate_fps)
    rate = min(rate, limits.max_analysis_frames / duration_s)
    if fps > 0 and rate >= fps and expected_frames <= limits.max_analysis_frames:
        return None
    return rate


def analysis_scale(width: int, height: int, max_side: int) -> float:
    """Factor that brings the long side down to max_side (never upscales)."""
    long_side = max(width, height)
    return 1.0 if long_side <= max_side else max_side / float(long_side)


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(width, height) after scaling, at least 1 pixel each."""
    if scale == 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


class FrameSelector:
    """Decides, frame by frame in presentation order, whether a frame is kept.

    A frame at time t is kept when it is the first at or after the next sampling instant, with half a
    source frame of tolerance for timestamp jitter. `switch_after_s` handles streams of unknown length:
    every frame is kept up to that time, then the fallback rate applies.
    """

    def __init__(
        self,
        rate_fps: float | None,
        max_frames: int,
        source_fps: float = 0.0,
        switch_after_s: float | None = None,
        fallback_rate_fps: float | None = None,
    ) -> None:
        self.rate_fps = rate_fps
        self.max_frames = max_frames
        self.tolerance_s = 0.5 / source_fps if source_fps > 0 else 1e-3
        self.switch_after_s = switch_after_s
        self.fallback_rate_fps = fallback_rate_fps
        self.kept = 0
        self._next_t: float | None = None

    @property
    def full(self) -> bool:
        return self.kept >= self.max_frames

    def keep(self, time_s: float) -> bool:
        if self.full:
            return False
        rate = self.rate_fps
        if rate is None and self.switch_after_s is not None and time_s > self.switch_after_s:
            rate = self.fallback_rate_fps
        if rate is None:
            self.kept += 1
            return True
        step = 1.0 / rate
        if self._next_t is None:
            self._next_t = time_s
        if time_s + self.tolerance_s < self._next_t:
            return False
        while self._next_t <= time_s + self.tolerance_s:
            self._next_t += step
        self.kept += 1
        return True
