"""The front door: `load`, `iter_frames`, `probe`. The file's content, not its name, picks the decoder.

Every function here applies the rules of check.py (limits, minimum size, whole files) with the same
messages, so every command that reads media through them refuses the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, Unsupported
from dflab.media.audio import DEFAULT_SAMPLE_RATE, decode_audio
from dflab.media.check import (
    audio_completeness,
    checked_facts,
    extent_completeness,
    read_whole_image,
    sniff_image,
    strip_path_prefix,
    video_completeness,
)
from dflab.media.completeness import WHOLE_STILL, Completeness, combine, require_complete
from dflab.media.container import StreamFacts, open_container, stream_facts
from dflab.media.extent import Extent
from dflab.media.frame_store import RUN_MAX_FRAMES, StreamedFrames
from dflab.media.guards import media_errors
from dflab.media.image import image_header
from dflab.media.sampling import analysis_scale, scaled_size
from dflab.media.types import Audio, Frame, Media
from dflab.media.video import FrameArena, VideoDecoder, resize_area


def _sniff(path: Path, limits: Limits) -> str | None:
    """The image format, or None for 'ask PyAV'. Raises for files that cannot be media at all."""
    return sniff_image(path, limits)


def _container_facts(path: Path) -> StreamFacts:
    container = open_container(path)
    try:
        return stream_facts(path, container)
    finally:
        container.close()


def probe(path: str | Path, limits: Limits = Limits()) -> dict:
    """What a file is, without decoding pixels or samples.

    Keys: path, type ("image" | "video" | "audio"), container, codec, width, height, fps, duration,
    frames, has_audio, audio_codec, sample_rate. Limits are only applied to the file size; the
    numbers are reported as declared so a caller can explain a later LimitExceeded.
    """
    path = Path(path)
    fmt = _sniff(path, limits)
    if fmt is not None:
        header = image_header(path, limits)
        return {
            "path": str(path), "type": "image", "container": fmt, "codec": header["format"] or fmt,
            "width": header["width"], "height": header["height"], "fps": 0.0, "duration": 0.0,
            "frames": header["n_frames"], "has_audio": False, "audio_codec": "", "sample_rate": 0,
        }  # fmt: skip
    facts = _container_facts(path)
    return {
        "path": str(path), "type": "video" if facts.has_video else "audio", "container": facts.container,
        "codec": facts.codec, "width": facts.width, "height": facts.height, "fps": round(facts.fps, 6),
        "duration": facts.duration_s, "frames": facts.declared_frames, "has_audio": facts.has_audio,
        "audio_codec": facts.audio_codec, "sample_rate": facts.audio_sample_rate,
    }  # fmt: skip



def load_image_rgb(path: str | Path, limits: Limits = Limits()):
    """Full-resolution RGB uint8 pixels of a JPEG/PNG/WebP, EXIF-oriented and never downscaled.

    For code that must see every source pixel (watermark decoding, perceptual hashes).
    """
    path = Path(path)
    fmt = _sniff(path, limits)
    if fmt is None:
        raise Unsupported(f"{path} is not a JPEG, PNG or WebP image")
    return read_whole_image(path, fmt, limits)[0]


NATIVE_RATE = 0  # load_audio(path, NATIVE_RATE): keep the stream's own sample rate


def load_audio(path: str | Path, sample_rate: int = DEFAULT_SAMPLE_RATE, limits: Limits = Limits()) -> Audio:
    """Mono float32 audio (16 kHz by default, the stream's own rate with NATIVE_RATE) of any audio file or video
    with an audio track. A file cut short or damaged is PartialMedia unless limits.allow_partial."""
    path = Path(path)
    if _sniff(path, limits) is not None:
        raise Unsupported(f"{path} is an image; it has no audio")
    facts, extent = checked_facts(path, limits)
    if not facts.has_audio:
        raise Unsupported(f"{path} has no audio stream")
    require_complete(path, extent_completeness(extent), limits)
    if sample_rate == NATIVE_RATE:
        sample_rate = facts.audio_sample_rate or DEFAULT_SAMPLE_RATE
    audio, truncated = decode_audio(path, sample_rate, limits)
    require_complete(path, _audio_completeness(audio, truncated, extent), limits)
    return audio


def _audio_completeness(audio: Audio, truncated: bool, extent: Extent) -> Completeness:
    return audio_completeness(audio.duration_s, "the audio track breaks off" if truncated else "", extent)


def iter_frames(
    path: str | Path, policy: SamplingPolicy = SamplingPolicy(), limits: Limits = Limits()
) -> Iterator[Frame]:
    """The analysis frames one at a time (constant memory). An image yields its single frame.

    Raises Unsupported for audio-only files (there are no frames to give). A file cut short is refused before
    the first frame; packets the decoder refuses raise PartialMedia after the last one (unless
    limits.allow_partial), so a caller that writes as it goes must write atomically.
    """
    path = Path(path)
    fmt = _sniff(path, limits)
    if fmt is not None:
        media = _load_image(path, fmt, policy, limits)
        yield from media.frames
        return
    facts, extent = checked_facts(path, limits)
    if not facts.has_video:
        raise Unsupported(f"{path} has no video stream")
    require_complete(path, extent_completeness(extent), limits)
    decoder = VideoDecoder(path, facts, policy, limits)
    yield from decoder
    require_complete(path, video_completeness(decoder, extent), limits)


def load(
    path: str | Path,
    policy: SamplingPolicy = SamplingPolicy(),
    limits: Limits = Limits(),
    with_audio: bool = True,
    require_video: bool = False,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    frame_sink: Callable[[Frame], None] | None = None,
    keep_frames: bool = True,
    frame_features: dict[str, Callable] | None = None,
    grey_run: int = 0,
) -> Media:
    """Decode an image, video or audio file into Media.

    require_video=True refuses audio-only files with Unsupported (for callers that need frames; images
    are still accepted). `frame_sink` sees each video frame as soon as it is decoded, so a caller can
    start work on it while the rest decodes (images and audio never call it). `keep_frames=False` keeps the
    pixels of only a few video frames: Media.frames is then a StreamedFrames (frame_store.py) that decodes any
    other frame again when it is asked for, so memory does not grow with the clip's length; `frame_features`
    (name -> function of a frame's pixels) are then computed for every frame as it decodes (`frames.feature`),
    and with `grey_run` > 0 a clip whose analysis frames skip some (a long one) also keeps a grey thumbnail of
    that side for each of its first decoded frames, kept or not (`frames.consecutive_run`).
    Every failure is a DflabError: NotFound, BadMedia (PartialMedia for a file cut short or damaged, unless
    limits.allow_partial), Unsupported, LimitExceeded. meta always holds `complete`, `decoded_duration_s`
    and `declared_duration_s` (check.py).
    """
    path = Path(path)
    fmt = _sniff(path, limits)
    if fmt is not None:
        return _load_image(path, fmt, policy, limits)
    facts, extent = checked_facts(path, limits)
    if not facts.has_video and require_video:
        raise Unsupported(f"{path} has no video stream (audio only)")
    # A file cut short is refused here, before any decoding; damage inside it is found while decoding.
    require_complete(path, extent_completeness(extent), limits)
    if not facts.has_video:
        return _load_audio_only(path, facts, extent, limits, sample_rate)
    return _load_video(path, facts, extent, policy, limits, with_audio, sample_rate, frame_sink, keep_frames,
                       frame_features, grey_run)


def _load_image(path: Path, fmt: str, policy: SamplingPolicy, limits: Limits) -> Media:
    rgb, info = read_whole_image(path, fmt, limits)
    height, width = rgb.shape[:2]
    scale = analysis_scale(width, height, policy.max_side)
    with media_errors(path, "resize the image"):
        analysis = resize_area(rgb, scaled_size(width, height, scale))
    return Media(
        path=path, media_type="image", frames=[Frame(index=0, time_s=0.0, rgb=analysis)], fps=0.0,
        duration_s=0.0, width=width, height=height, codec=info["format"], scale=scale,
        meta={"format": info["format"], "mode": info["mode"], "exif_orientation": info["exif_orientation"],
              "n_frames": info["n_frames"], **WHOLE_STILL.to_json()},
    )  # fmt: skip


def _load_audio_only(path: Path, facts: StreamFacts, extent: Extent, limits: Limits, sample_rate: int) -> Media:
    audio, truncated = decode_audio(path, sample_rate, limits)
    completeness = require_complete(path, _audio_completeness(audio, truncated, extent), limits)
    meta = {"container": facts.container, "source_sample_rate": facts.audio_sample_rate,
            "source_channels": facts.audio_channels, **completeness.to_json()}  # fmt: skip
    if truncated:
        meta["truncated"] = True
    return Media(
        path=path, media_type="audio", frames=[], fps=0.0, duration_s=audio.duration_s, width=0, height=0,
        audio=audio, codec=facts.audio_codec, meta=meta,
    )  # fmt: skip


def _load_video(
    path: Path,
    facts: StreamFacts,
    extent: Extent,
    policy: SamplingPolicy,
    limits: Limits,
    with_audio: bool,
    sample_rate: int,
    frame_sink: Callable[[Frame], None] | None = None,
    keep_frames: bool = True,
    frame_features: dict[str, Callable] | None = None,
    grey_run: int = 0,
) -> Media:
    # Kept frames are carved from blocks (FrameArena); streamed ones are not, since one frame kept in the cache
    # would pin its whole block.
    # Streamed frames are converted to RGB only when their pixels are read (VideoDecoder.lazy_rgb).
    decoder = VideoDecoder(path, facts, policy, limits, arena=FrameArena() if keep_frames else None,
                           lazy_rgb=not keep_frames)
    frames: list[Frame] | StreamedFrames = (
        [] if keep_frames else StreamedFrames(path, facts, policy, limits, features=frame_features)
    )
    # A run only where the sampling skips frames (a long clip, or one of unknown length): otherwise the analysis
    # frames are every frame.
    if not keep_frames and grey_run > 0 and (decoder.rate_fps is not None or facts.duration_s is None):
        decoder.run_sink, decoder.run_frames, decoder.run_side = frames.add_to_run, RUN_MAX_FRAMES, grey_run
    add = frames.append if keep_frames else frames.add
    for frame in decoder:
        add(frame)
        if frame_sink is not None:
            frame_sink(frame)
    if not frames:
        raise BadMedia(f"{path}: no video frame could be decoded")
    if not keep_frames:
        frames.frame_shape = decoder.analysis_shape()
    completeness = video_completeness(decoder, extent)
    meta: dict = {"container": facts.container, "decoded_frames": decoder.decoded,
                  "source_sample_rate": facts.audio_sample_rate,
                  "declared_frames": facts.declared_frames, "sampled_rate_fps": decoder.rate_fps}  # fmt: skip
    if decoder.rotation:
        meta["rotation_deg"] = decoder.rotation
    if decoder.decode_errors:
        meta["decode_errors"] = decoder.decode_errors
        meta["decode_error"] = decoder.error
    if decoder.capped:
        meta["frames_capped"] = True
    width, height = facts.width, facts.height
    if decoder.rotation in (90, 270):
        width, height = height, width  # report the displayed (upright) size, as for EXIF-rotated images
    fps = facts.fps
    duration = facts.duration_s
    if not completeness.complete:  # only with limits.allow_partial: the duration is what decoded
        meta["truncated"] = True
        if decoder.error:
            meta["decode_error"] = decoder.error
        duration = decoder.last_time_s + (1.0 / fps if fps > 0 else 0.0)
    elif duration is None:
        duration = decoder.last_time_s + (1.0 / fps if fps > 0 else 0.0)
    audio = None
    if with_audio and facts.has_audio:
        try:
            audio, audio_truncated = decode_audio(path, sample_rate, limits)
            if audio_truncated:
                meta["audio_truncated"] = True
            damage, audio_s = ("the audio track breaks off" if audio_truncated else ""), audio.duration_s
        except BadMedia as exc:
            # With allow_partial the frames are still used; the broken track is reported.
            meta["audio_error"] = str(exc)
            damage, audio_s = f"the audio track cannot be decoded ({strip_path_prefix(str(exc), path)})", None
        completeness = combine(completeness, audio_completeness(audio_s, damage, extent))
    meta.update(require_complete(path, completeness, limits).to_json())
    return Media(
        path=path, media_type="video", frames=frames, fps=fps, duration_s=float(duration), width=width,
        height=height, audio=audio, codec=facts.codec, scale=decoder.scale, meta=meta,
    )  # fmt: skip
