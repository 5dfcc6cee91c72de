"""Opening audio/video containers with PyAV and reading their facts without decoding pixels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dflab.errors import BadMedia, LimitExceeded
from dflab.media.guards import media_errors

# Demuxers we accept. FFmpeg also "recognises" text files (tty), image sequences picked by file
# extension (image2) and raw streams; accepting those would let a mislabelled file through.
ACCEPTED_DEMUXERS = frozenset(
    {"mov", "mp4", "m4a", "3gp", "matroska", "webm", "avi", "mpegts", "wav", "w64", "flac", "mp3", "ogg", "aac"}
)


def not_media(path: Path) -> BadMedia:
    """BadMedia for a file FFmpeg cannot open, naming the container when the first bytes show one."""
    from dflab.media.sniff import container_hint, read_head

    try:
        hint = container_hint(read_head(path))
    except OSError:
        hint = None
    if hint:
        return BadMedia(f"{path} starts like {hint} but cannot be opened (truncated or corrupt)")
    return BadMedia(f"{path} is not a recognised image, video or audio file")


def open_container(path: Path):
    """An av InputContainer for a real audio/video file, or BadMedia."""
    import av

    try:
        # "file:" stops FFmpeg from reading protocol prefixes ("concat:", "http:") in the path.
        container = av.open(f"file:{path}", mode="r", metadata_errors="ignore")
    except MemoryError:
        # FFmpeg's ENOMEM while reading the header: a table declaring billions of entries (a hostile or damaged
        # stts/stsz count) asks for more memory than there is. Callers open containers outside media_errors, so
        # say it here in one line rather than let the exception through.
        raise LimitExceeded(
            f"{path}: its header asks for more memory than is available to open it (a damaged or hostile table size)"
        ) from None
    except Exception:  # noqa: BLE001 - anything the probe cannot open is simply not media to us
        raise not_media(path) from None
    names = set((container.format.name or "").split(","))
    if not names & ACCEPTED_DEMUXERS:
        container.close()
        raise not_media(path)
    return container


def is_attached_picture(stream) -> bool:
    """Cover art in mp3/m4a shows up as a one-frame 'video' stream; it is not video."""
    try:
        import av

        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except Exception:  # noqa: BLE001 - older/odd builds: fall back to "not cover art"
        return False


@dataclass(frozen=True)
class StreamFacts:
    """What the container says, before decoding anything."""

    container: str
    has_video: bool
    has_audio: bool
    codec: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration_s: float | None = None
    declared_frames: int = 0
    audio_codec: str = ""
    audio_sample_rate: int = 0
    audio_channels: int = 0


def video_stream(container):
    for stream in container.streams.video:
        if not is_attached_picture(stream) and stream.codec_context is not None:
            return stream
    return None


def audio_stream(container):
    for stream in container.streams.audio:
        if stream.codec_context is not None:
            return stream
    return None


def codec_name(ctx) -> str:
    """The format's name ("av1"), not the decoder library's ("libdav1d")."""
    codec = getattr(ctx, "codec", None)
    return (getattr(codec, "canonical_name", None) or ctx.name or "") if codec is not None else (ctx.name or "")


def stream_facts(path: Path, container) -> StreamFacts:
    with media_errors(path, "read the container"):
        video = video_stream(container)
        audio = audio_stream(container)
        if video is None and audio is None:
            raise BadMedia(f"{path} has no audio or video stream")
        duration = _duration_s(container, video if video is not None else audio)
        facts = dict(container=container.format.name or "", has_video=video is not None, has_audio=audio is not None)
        if video is not None:
            ctx = video.codec_context
            rate = video.average_rate or video.guessed_rate or video.base_rate
            facts.update(
                codec=codec_name(ctx),
                width=int(ctx.width or 0),
                height=int(ctx.height or 0),
                fps=float(rate) if rate else 0.0,
                declared_frames=int(video.frames or 0),
            )
        if audio is not None:
            ctx = audio.codec_context
            facts.update(
                audio_codec=codec_name(ctx),
                audio_sample_rate=int(ctx.sample_rate or 0),
                audio_channels=int(ctx.channels or 0),
            )
            if video is None:
                facts["codec"] = codec_name(ctx)
        return StreamFacts(duration_s=duration, **facts)


def _duration_s(container, stream) -> float | None:
    """Stream duration if declared, else the container's; None when neither is known."""
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        import av

        return container.duration / float(av.time_base)
    return None
