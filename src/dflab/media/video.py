"""Video frames through PyAV: threaded decoding, RGB conversion only for kept frames (and, when streaming, only
for frames whose pixels are read), timestamps in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, LimitExceeded
from dflab.media.container import StreamFacts, open_container, video_stream
from dflab.media.guards import media_errors, one_line
from dflab.media.sampling import FrameSelector, analysis_rate, analysis_scale, scaled_size
from dflab.media.types import Frame

# Fewer decoded frames than declared by more than this many means the file ends early.
_TRUNCATION_SLACK_FRAMES = 2
# Damaged packets skipped before the rest of the stream is given up as garbage.
_MAX_DECODE_ERRORS = 25
_PICT_TYPES = {1: "I", 2: "P", 3: "B"}  # av.video.frame.PictureType values; others (S, SI, SP, BI) are rare
# Frames at least this large on their short side get a half-size copy made from the YUV planes (`half_size`), from
# which the every-frame features (thumbnails, signatures) are computed: they are 64 px or smaller, so a 640x360 copy
# gives them the same averages as the 1280x720 frame. Smaller frames are read whole, as before.
HALF_SIZE_MIN_SIDE = 512


class FrameArena:
    """Hands out HxWx3 uint8 arrays carved from blocks of several frames.

    Why: load() keeps every analysis frame. Allocated one by one, each 720p frame (2.7 MB) is fresh
    memory that costs a page fault per 4 KiB: 170k faults for 10 s of 720p, which took longer than
    decoding itself on a busy 2-core machine. Blocks of >= 4 MiB get transparent huge pages from
    numpy, so the faults all but disappear. At most one partly used block is wasted.
    """

    def __init__(self, frames_per_block: int = 8) -> None:
        self.frames_per_block = frames_per_block
        self._block: np.ndarray | None = None
        self._next = 0

    def take(self, shape: tuple[int, int, int]) -> np.ndarray:
        block = self._block
        if block is None or block.shape[1:] != shape or self._next == len(block):
            block = self._block = np.empty((self.frames_per_block, *shape), np.uint8)
            self._next = 0
        self._next += 1
        return block[self._next - 1]


def frame_to_rgb(frame, out: np.ndarray | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB from an av.VideoFrame.

    For limited-range 4:2:0 (almost every H.264/H.265/VP9/AV1 file) OpenCV's I420 conversion is about
    2.5x faster than swscale's rgb24 path on this machine; anything else goes through swscale.
    """
    import cv2

    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        planes = frame.to_ndarray()  # (H * 3 / 2, W): Y, then U, then V, line padding removed
        if out is not None and out.shape == (frame.height, frame.width, 3):
            return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420, dst=out)
        return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def resize_area(rgb: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Downscale with INTER_AREA (no aliasing); `out`, when given, receives the result."""
    import cv2

    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    if out is not None and out.shape == (size[1], size[0], 3):
        return cv2.resize(rgb, size, dst=out, interpolation=cv2.INTER_AREA)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def half_size_from_planes(frame) -> np.ndarray | None:
    """A half-size RGB copy (exact 2x2 means of the luma, chroma at a quarter) of a limited-range 4:2:0 frame, made
    without converting the whole frame: about a third of the cost of `frame_to_rgb`. None for any other layout."""
    import cv2

    width, height = int(frame.width), int(frame.height)
    if frame.format.name != "yuv420p" or width % 4 or height % 4:
        return None
    luma = plane_view(frame, 0, height, width)
    u, v = (plane_view(frame, i, height // 2, width // 2) for i in (1, 2))
    half_w, half_h = width // 2, height // 2
    i420 = np.empty((half_h * 3 // 2, half_w), np.uint8)  # Y, then U, then V: OpenCV's I420 layout
    cv2.resize(luma, (half_w, half_h), dst=i420[:half_h], interpolation=cv2.INTER_AREA)
    chroma = i420[half_h:].reshape(-1)
    quarter = (half_w // 2) * (half_h // 2)
    chroma[:quarter] = cv2.resize(u, (half_w // 2, half_h // 2), interpolation=cv2.INTER_AREA).reshape(-1)
    chroma[quarter:] = cv2.resize(v, (half_w // 2, half_h // 2), interpolation=cv2.INTER_AREA).reshape(-1)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def plane_view(frame, index: int, height: int, width: int) -> np.ndarray:
    """One 8-bit plane of a decoded frame as a (height, width) uint8 array over the decoder's buffer (no copy; the
    rows' padding cut off)."""
    plane = frame.planes[index]
    return np.frombuffer(plane, np.uint8).reshape(height, plane.line_size)[:, :width]


def area_thumbnail(grey: np.ndarray, side: int) -> np.ndarray:
    """side x side area means of a float32 grey image. Halved first (exact 2x2 means, OpenCV's fast path) while it
    is over 4x side: the same averages as one INTER_AREA step to 1/20th of 720p, at a third of the cost (OpenCV's
    general area resize is the slow path), and in float so nothing is rounded on the way."""
    import cv2

    while min(grey.shape) >= 4 * side and grey.shape[0] % 2 == 0 and grey.shape[1] % 2 == 0:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA)


def grey_thumbnail_from_planes(frame, side: int) -> np.ndarray:
    """side x side area means of the frame's grey (full-range luma), float32, from the decoder's luma plane: about
    half a millisecond for 1080p, against 7 for a colour conversion. Grey from RGB is 1.164 (Y - 16) for limited-
    range BT.601 and BT.709 alike (the chroma terms cancel), so this is the grey of the RGB frame up to rounding
    and clipping. Rotation is left out (frame-to-frame change does not depend on it)."""
    import cv2

    name = frame.format.name
    if name in _EIGHT_BIT_PLANAR_YUV:
        grey = plane_view(frame, 0, int(frame.height), int(frame.width))
        full_range = name.startswith("yuvj") or int(getattr(frame, "color_range", 0) or 0) == 2
    else:  # other layouts (10-bit, RGB, palette): let FFmpeg make the grey
        grey, full_range = frame.to_ndarray(format="gray"), True
    if min(grey.shape) >= 4 * side and grey.shape[0] % 2 == 0 and grey.shape[1] % 2 == 0:
        # the first halving on the 8-bit plane (OpenCV's fastest path), the rest in float
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    thumbnail = area_thumbnail(grey.astype(np.float32), side)
    return thumbnail if full_range else (thumbnail - 16.0) * np.float32(255.0 / 219.0)


_EIGHT_BIT_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}


def half_size(rgb: np.ndarray) -> np.ndarray:
    """The half-size copy of RGB pixels, for frames `half_size_from_planes` cannot serve (and to check re-decoded
    frames against signatures made from one): the same area means, rounded once."""
    import cv2

    return cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)


def wants_half_size(width: int, height: int) -> bool:
    """Whether frames of this size are read through a half-size copy for the every-frame features."""
    return min(width, height) >= HALF_SIZE_MIN_SIDE and width % 4 == 0 and height % 4 == 0


class DecodedFrame:
    """A Frame (same attributes) whose RGB pixels are converted from the decoder's YUV only when `.rgb` is first
    read. Streaming scans read the pixels of about half of the frames (the faces' ones, at 15 of 30 fps); the
    others are seen only through `small`, a half-size copy for the every-frame features (None: use `.rgb`)."""

    __slots__ = ("index", "time_s", "pict_type", "small", "_source", "_convert", "_rgb")

    def __init__(self, index: int, time_s: float, pict_type: str, source, convert, small: np.ndarray | None) -> None:
        self.index, self.time_s, self.pict_type, self.small = index, time_s, pict_type, small
        self._source, self._convert, self._rgb = source, convert, None

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            # Two threads may convert at once (the same pixels either way); the decoded frame is dropped after.
            self._rgb = self._convert(self._source)
            self._source = None
        return self._rgb

    def __repr__(self) -> str:
        return f"DecodedFrame(index={self.index}, time_s={self.time_s:.3f}, pict_type={self.pict_type!r})"


def feature_pixels(frame) -> np.ndarray:
    """What the every-frame features read: the half-size copy when the frame carries one, else its pixels."""
    small = getattr(frame, "small", None)
    return small if small is not None else frame.rgb


class VideoDecoder:
    """Iterates the analysed frames of one video stream.

    After iteration, `decoded` is the number of source frames decoded, `truncated` says whether the file
    ended before its declared length (or the container broke off), `decode_errors` counts damaged
    packets that were skipped, `corrupt_frames` the frames the decoder flagged as concealed damage, and `last_time_s` is the last timestamp seen. It raises BadMedia when not a single frame decodes.
    """

    def __init__(
        self, path: Path, facts: StreamFacts, policy: SamplingPolicy, limits: Limits, arena: FrameArena | None = None,
        lazy_rgb: bool = False,
    ) -> None:
        self.path = path
        self.arena = arena  # load() passes one when it keeps every frame; streaming callers do not
        # Streaming: yield DecodedFrames, converted to RGB only when read, with a half-size copy for the features.
        self.lazy_rgb = lazy_rgb and arena is None
        self.facts = facts
        self.limits = limits
        self.max_side = policy.max_side
        self.scale = analysis_scale(facts.width, facts.height, policy.max_side)
        self.kept_size: tuple[int, int] | None = None
        self.rate_fps = analysis_rate(facts.duration_s, facts.fps, policy, limits)
        unknown_length = facts.duration_s is None
        self.selector = FrameSelector(
            self.rate_fps,
            limits.max_analysis_frames,
            source_fps=facts.fps,
            switch_after_s=policy.all_frames_up_to_s if unknown_length else None,
            fallback_rate_fps=policy.rate_fps if unknown_length else None,
        )
        # Handed the grey thumbnail (`run_side` pixels square) and frame type of each of the first `run_frames`
        # decoded frames, kept or not (StreamedFrames.add_to_run).
        self.run_sink: Callable[[np.ndarray, str], None] | None = None
        self.run_frames = 0
        self.run_side = 64
        self.decoded = 0
        self.truncated = False
        self.capped = False
        self.last_time_s = 0.0
        self.error = ""
        self.decode_errors = 0
        self.corrupt_frames = 0
        self.rotation = 0

    def __iter__(self) -> Iterator[Frame]:
        container = open_container(self.path)
        try:
            yield from self._frames(container)
        finally:
            container.close()

    def _frames(self, container) -> Iterator[Frame]:
        with media_errors(self.path, "read the video stream"):
            stream = video_stream(container)
            if stream is None:
                raise BadMedia(f"{self.path} has no video stream")
            stream.thread_type = "AUTO"  # frame + slice threads: the decode is the hot loop
            start_pts = stream.start_time
            time_base = stream.time_base
        fps = self.facts.fps
        packets = container.demux(stream)  # ends with empty packets that flush the decoder
        while True:
            try:
                with media_errors(self.path, "read the video"):
                    packet = next(packets, None)
            except BadMedia as exc:
                # The container breaks off (cut or corrupt file): keep what decoded, say why it stopped.
                self.truncated, self.error = True, one_line(exc)
                break
            if packet is None:
                break
            try:
                with media_errors(self.path, "decode the video"):
                    frames = packet.decode()
            except BadMedia as exc:
                # A damaged packet: the decoder resynchronises at the next one, as players do.
                self.decode_errors += 1
                self.error = one_line(exc)
                if self.decode_errors > _MAX_DECODE_ERRORS:
                    self.truncated = True
                    break
                continue
            for frame in frames:
                index = self.decoded
                self.decoded += 1
                if frame.is_corrupt:
                    # Damage the decoder concealed: what it shows is a guess, and with frame threads a different
                    # guess on each decode, so a frame read again would not be the frame analysed.
                    self.corrupt_frames += 1
                time_s = self.time_s(frame, index, start_pts, time_base, fps)
                self.last_time_s = time_s
                if time_s > self.limits.max_duration_s:
                    raise LimitExceeded(
                        f"{self.path} runs past {self.limits.max_duration_s:.0f} s, the duration limit"
                    )
                if self.selector.full:
                    self.capped = True
                    return
                pict_type = _PICT_TYPES.get(int(frame.pict_type), "")
                if self.run_sink is not None and index < self.run_frames:
                    with media_errors(self.path, "convert a video frame"):
                        self.run_sink(grey_thumbnail_from_planes(frame, self.run_side), pict_type)
                if not self.selector.keep(time_s):
                    continue
                if self.lazy_rgb:
                    yield self.decoded_frame(frame, index, time_s, pict_type)
                else:
                    yield Frame(index=index, time_s=time_s, rgb=self.analysis_rgb(frame), pict_type=pict_type)
        if self.decoded == 0:
            detail = f" ({self.error})" if self.error else ""
            raise BadMedia(f"{self.path}: no video frame could be decoded{detail}")
        declared = self.facts.declared_frames
        if declared and self.decoded < declared - _TRUNCATION_SLACK_FRAMES:
            self.truncated = True

    def time_s(self, frame, index: int, start_pts, time_base, fps: float) -> float:
        pts = frame.pts
        if pts is None or time_base is None:
            return index / fps if fps > 0 else float(index)
        if start_pts is None:
            start_pts = 0
        return max(0.0, float((pts - start_pts) * time_base))

    def decoded_frame(self, frame, index: int, time_s: float, pict_type: str) -> DecodedFrame:
        """The frame with its RGB conversion deferred; the half-size copy is made now, while the decoder's planes
        are at hand, when the analysis frame is the decoded one (no scaling, no rotation) and large enough."""
        width, height = self._check_size(frame)
        small = None
        if self.kept_size == (width, height) and not self.rotation and wants_half_size(width, height):
            with media_errors(self.path, "convert a video frame"):
                small = half_size_from_planes(frame)
                if small is None:
                    rgb = self.analysis_rgb(frame)
                    return DecodedFrame(index, time_s, pict_type, rgb, lambda pixels: pixels, half_size(rgb))
        return DecodedFrame(index, time_s, pict_type, frame, self.analysis_rgb, small)

    def analysis_shape(self) -> tuple[int, int, int] | None:
        """(height, width, 3) of the analysis frames `analysis_rgb` makes (scaled, then turned upright); None
        before the first frame is decoded."""
        if self.kept_size is None:
            return None
        width, height = self.kept_size
        if self.rotation in (90, 270):
            width, height = height, width
        return height, width, 3

    def _check_size(self, frame) -> tuple[int, int]:
        width, height = int(frame.width), int(frame.height)
        if width * height > self.limits.max_pixels:
            raise LimitExceeded(f"{self.path}: a {width}x{height} frame is over the pixel limit")
        if self.kept_size is None:
            # Decided once from the first kept frame, so every analysis frame has the same size.
            self.scale = analysis_scale(width, height, self.max_side)
            self.kept_size = scaled_size(width, height, self.scale)
            self.rotation = display_rotation(frame)
        return width, height

    def analysis_rgb(self, frame) -> np.ndarray:
        width, height = self._check_size(frame)
        out_w, out_h = self.kept_size
        out = self.arena.take((out_h, out_w, 3)) if self.arena is not None and not self.rotation else None
        with media_errors(self.path, "convert a video frame"):
            if self.kept_size == (width, height):
                rgb = frame_to_rgb(frame, out)
            else:
                rgb = resize_area(frame_to_rgb(frame), self.kept_size, out)
            if out is not None and rgb is not out:
                out[...] = rgb  # a path that could not write in place: keep the arena slot, drop the temporary
                rgb = out
        if self.rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self.rotation // 90))
        return rgb


def display_rotation(frame) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) the frame must turn to display upright.

    Phones store portrait video as landscape plus a display matrix; PyAV reports its angle
    counter-clockwise, which np.rot90 (also counter-clockwise) applies directly. Checked against the
    ffmpeg command line's autorotation on a clip tagged rotate=90.
    """
    angle = int(round(float(getattr(frame, "rotation", 0) or 0))) % 360
    return angle if angle in (90, 180, 270) else 0
