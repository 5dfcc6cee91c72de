"""Open and check: the one set of rules every command applies to the media it reads.

    check_media(path, limits) -> CheckedMedia     for commands that do not decode through load() (sign,
                                                  verify, watermark); load() applies the same rules itself

The rules, each with one message wherever it fails:
  - a regular, readable, non-empty file under limits.max_file_bytes, recognised by its bytes (sniff.py);
  - pictures and video frames within limits.max_pixels and at least limits.min_side on each side;
  - at most limits.max_duration_s of audio or video;
  - whole: a JPEG/PNG/WebP with its end markers (image_end.py), every stream reaching the length its
    container declares and no packet the decoder refuses (completeness.py). Partial audio and video pass only
    with limits.allow_partial; a cut picture never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import BadMedia, PartialMedia, Unsupported
from dflab.media.completeness import WHOLE_STILL, Completeness, StreamReach, combine, judge, require_complete
from dflab.media.container import StreamFacts, open_container, stream_facts
from dflab.media.extent import Extent, packet_extent
from dflab.media.guards import check_duration, check_file, check_min_side, check_pixels, media_errors
from dflab.media.image import read_image_rgb
from dflab.media.image_end import cut_short
from dflab.media.sniff import SUPPORTED_IMAGE_FORMATS, image_format, other_image_format, read_head
from dflab.media.types import MediaType


@dataclass(frozen=True)
class CheckedMedia:
    """A file that passed every rule (or, with allow_partial, every rule but completeness)."""

    path: Path
    media_type: MediaType
    format: str  # "jpeg", "png", "webp", another image format, or the container ("mov,mp4,...", "wav")
    width: int = 0
    height: int = 0
    has_audio: bool = False
    completeness: Completeness = field(default=WHOLE_STILL)


def sniff_image(path: Path, limits: Limits) -> str | None:
    """The still-image format we decode, or None for "ask PyAV". Refuses what cannot be media at all."""
    check_file(path, limits)
    with media_errors(path, "read"):
        head = read_head(path)
    fmt = image_format(head)
    if fmt is None and (other := other_image_format(head)):
        raise Unsupported(
            f"{path} is a {other.upper()} image; supported images are {', '.join(SUPPORTED_IMAGE_FORMATS)}"
        )
    return fmt


def read_whole_image(path: Path, fmt: str, limits: Limits) -> tuple[np.ndarray, dict]:
    """Full-resolution RGB of a JPEG/PNG/WebP that is whole, within the pixel limit and not too small."""
    if why := cut_short(path, fmt):
        raise PartialMedia(f"{path} is truncated or damaged: {why}")
    rgb, info = read_image_rgb(path, limits)
    check_min_side(path, info["width"], info["height"], limits)
    return rgb, info


def checked_facts(path: Path, limits: Limits) -> tuple[StreamFacts, Extent]:
    """What an audio/video container declares, checked against the limits, and how far its packets reach."""
    container = open_container(path)
    try:
        facts = stream_facts(path, container)
        if facts.has_video:
            if facts.width and facts.height:
                check_pixels(path, facts.width, facts.height, limits)
                check_min_side(path, facts.width, facts.height, limits)
        check_duration(path, facts.duration_s, limits)
        return facts, packet_extent(path, container, limits)
    finally:
        container.close()


def extent_completeness(extent: Extent) -> Completeness:
    return judge(extent.streams, extent.damage)


def video_completeness(decoder, extent: Extent) -> Completeness:
    """What decoding the video stream showed (VideoDecoder after iteration), with what its packets showed."""
    video = extent.streams[0]
    damage = []
    error = strip_path_prefix(decoder.error, decoder.path)
    if decoder.decode_errors:
        damage.append(f"{decoder.decode_errors} video packet(s) could not be decoded ({error})")
    elif decoder.truncated and error:
        damage.append(f"the video stream breaks off ({error})")
    if decoder.corrupt_frames:
        # None of the 34 videos of the development data has one; a flipped bit in a key frame does.
        damage.append(f"{decoder.corrupt_frames} video frame(s) decode with errors the decoder had to conceal")
    # A decoder that gives a few frames fewer than the index counts, with no error, is not damage: a real
    # QuickTime file here (C-recorded-as-mov.mov) indexes 313 frames, decodes 310, and reaches its declared end.
    if decoder.capped or decoder.decoded == 0:
        reached = video.reached_s  # the decoder stopped early on purpose: the packets tell how far it goes
    else:
        reached = decoder.last_time_s + video.frame_s
    decoded = StreamReach("video", video.declared_s, reached, video.frame_s)
    return combine(extent_completeness(extent), judge([decoded] + extent.streams[1:], "; ".join(damage)))


def strip_path_prefix(message: str, path: Path) -> str:
    """A decoder message without its leading "PATH: " (the whole line already starts with the path)."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def audio_completeness(audio_duration_s: float | None, damage: str, extent: Extent) -> Completeness:
    """What decoding the audio track showed, with what the packets showed. For a video, the audio is the
    second stream and only adds its damage; for an audio file it is the stream whose durations are reported."""
    audio = next((s for s in extent.streams if s.kind == "audio"), None)
    if audio is None:
        return extent_completeness(extent)
    decoded = StreamReach("audio", audio.declared_s, audio_duration_s, audio.frame_s)
    streams = [decoded] if extent.streams[0] is audio else [extent.streams[0], decoded]
    return combine(extent_completeness(extent), judge(streams, damage))


# A decode pass that keeps almost nothing: one small frame per 10 s, so it costs the decoding alone.
_DECODE_ONLY = SamplingPolicy(all_frames_up_to_s=0.0, rate_fps=0.1, max_side=64)


def check_media(path: str | Path, limits: Limits = Limits(), *, decode: bool = True,
                other_images: bool = False) -> CheckedMedia:  # fmt: skip
    """Apply every rule to one file and say what it is; raises NotFound, BadMedia (PartialMedia for cut or
    damaged media), Unsupported or LimitExceeded.

    decode=False reads audio/video packets without decoding them: it finds files cut short but not packets
    the decoder would refuse (for callers that decode the frames they use themselves).
    other_images=True also accepts pictures Pillow reads but dflab does not analyse (GIF, TIFF, BMP, ...),
    with the same pixel and size rules (for `dflab sign`, which signs them).
    """
    path = Path(path)
    try:
        fmt = sniff_image(path, limits)
    except Unsupported:
        if not other_images:
            raise
        return _check_other_image(path, limits)
    if fmt is not None:
        rgb, _ = read_whole_image(path, fmt, limits)
        return CheckedMedia(path, "image", fmt, int(rgb.shape[1]), int(rgb.shape[0]))
    facts, extent = checked_facts(path, limits)
    completeness = extent_completeness(extent)
    if not completeness.complete:
        require_complete(path, completeness, limits)  # a cut file fails here, before any decoding
    elif decode:
        completeness = _decoded_completeness(path, facts, extent, limits)
    require_complete(path, completeness, limits)
    return CheckedMedia(
        path, "video" if facts.has_video else "audio", facts.container, facts.width, facts.height,
        facts.has_audio, completeness,
    )  # fmt: skip


def _decoded_completeness(path: Path, facts: StreamFacts, extent: Extent, limits: Limits) -> Completeness:
    from dflab.media.audio import decode_audio
    from dflab.media.video import VideoDecoder

    completeness = extent_completeness(extent)
    if facts.has_video:
        decoder = VideoDecoder(path, facts, _DECODE_ONLY, limits)
        for _ in decoder:
            pass
        completeness = video_completeness(decoder, extent)
    if facts.has_audio:
        try:
            audio, truncated = decode_audio(path, limits=limits)
            duration, damage = audio.duration_s, "the audio track breaks off" if truncated else ""
        except BadMedia as exc:
            if not facts.has_video:
                raise  # an audio file with no decodable audio is not media at all (as in load())
            duration, damage = None, f"the audio track cannot be decoded ({strip_path_prefix(str(exc), path)})"
        completeness = combine(completeness, audio_completeness(duration, damage, extent))
    return completeness


def _check_other_image(path: Path, limits: Limits) -> CheckedMedia:
    """A picture in a format Pillow reads but dflab does not analyse: the same pixel and size rules, decoded
    once to prove it is whole."""
    from dflab.media.image import _open, _quiet

    with media_errors(path, "decode the image"), _quiet(), _open(path, limits) as im:
        width, height = im.size
        check_pixels(path, width, height, limits)
        check_min_side(path, width, height, limits)
        im.load()
        fmt = (im.format or "").lower()
    return CheckedMedia(path, "image", fmt, int(width), int(height))
