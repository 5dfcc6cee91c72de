"""How far a container's streams reach, read from its packets alone (no decoding), against what it declares.

Reading every packet costs a few milliseconds per minute of video (it is file I/O, not decoding), and it finds
the commonest damage: a file cut short, which FFmpeg otherwise plays up to the cut without complaint (an MP4
keeps its index at the front, so a copy cut to 10 % opens as a 0.44 s clip of a 7 s file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dflab.config import Limits
from dflab.errors import BadMedia, LimitExceeded
from dflab.media.completeness import StreamReach, frame_duration_s
from dflab.media.container import audio_stream, video_stream
from dflab.media.bmff import bmff_problem, declares_boxes
from dflab.media.guards import media_errors, one_line

# Demuxers whose duration comes from the file's own header or index. Others estimate it (raw ADTS AAC from the
# bitrate: 0.2 s off on a 14 s clip here; MPEG-TS and Ogg from the last timestamps, which a cut file moves too),
# so a shortfall against them means nothing. MP3 declares a length only in a Xing/Info/VBRI header.
_DECLARING_DEMUXERS = frozenset({"mov", "mp4", "m4a", "3gp", "matroska", "webm", "avi", "wav", "w64", "flac"})
# No real stream sends more packets per second than this (192 kHz PCM in 4 KiB packets is under 1,000).
_MAX_PACKETS_PER_S = 2000


@dataclass(frozen=True)
class Extent:
    """The video and audio streams dflab reads, as far as their packets go."""

    streams: list[StreamReach]  # video first when there is one
    damage: str = ""  # why reading stopped early ("" when the packets ran to their end)


def declares_length(container, path: Path) -> bool:
    names = set((container.format.name or "").split(","))
    if names & _DECLARING_DEMUXERS:
        return True
    return "mp3" in names and _mp3_has_length_header(path)


def _mp3_has_length_header(path: Path) -> bool:
    """True when the first MPEG audio frame carries a Xing, Info or VBRI header (frame count of the file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(10)
            skip = 0
            if head[:3] == b"ID3" and len(head) == 10:
                size = 0
                for byte in head[6:10]:  # a "syncsafe" integer: 7 bits per byte
                    size = (size << 7) | (byte & 0x7F)
                skip = 10 + size + (10 if head[5] & 0x10 else 0)
            fh.seek(skip)
            data = fh.read(4096)
    except OSError:
        return False
    for sync in range(len(data) - 1):
        if data[sync] == 0xFF and data[sync + 1] & 0xE0 == 0xE0:
            frame = data[sync : sync + 200]
            return b"Xing" in frame or b"Info" in frame or frame[36:40] == b"VBRI"
    return False


def wave_header(path: Path) -> tuple[float | None, str]:
    """(the length a WAV's own header declares, why the header does not fit the file or "").

    The length is the data chunk's bytes / block align / rate: FFmpeg clamps the data size to what is on disk,
    so its duration of a cut WAV is the cut length, while the header still tells the truth. None for streamed
    WAVs (size 0 or 0xFFFFFFFF), RF64 and headers that do not parse. A RIFF size beyond the end of the file is
    a cut too, and a RIFF size of 0xFFFFFFFF (a streamed WAV's "unknown") is a damaged header (the C2PA reader, for one, refuses such a file), even when it only lost chunks after the data,
    and so is a data chunk that runs past the end of the file by any amount (a missing pad byte after an
    odd-sized last chunk is not).
    """
    import struct

    try:
        size_on_disk = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None, ""
            riff_end = 8 + struct.unpack_from("<I", head, 4)[0]
            problem = ""
            if riff_end == 8 + 0xFFFFFFFF and size_on_disk < riff_end:
                # a streamed WAV's "unknown length": FFmpeg reads it, the C2PA reader refuses it
                problem = "its RIFF header leaves the length unknown (0xFFFFFFFF, a streamed WAV: rewrite it)"
            elif riff_end > size_on_disk:
                problem = f"its RIFF header declares {riff_end:,} bytes, the file has {size_on_disk:,}"
            rate = align = 0
            for _ in range(64):  # a WAV has a handful of chunks before its data
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None, problem
                kind, size = struct.unpack("<4sI", chunk)
                if kind == b"fmt " and size >= 16:
                    fmt = fh.read(16)
                    rate, align = struct.unpack_from("<I", fmt, 4)[0], struct.unpack_from("<H", fmt, 12)[0]
                    fh.seek(size - 16 + (size & 1), 1)
                elif kind == b"data":
                    if size in (0, 0xFFFFFFFF) and not problem and size_on_disk > fh.tell():
                        # a streamed WAV's "unknown" (0 or 0xFFFFFFFF) before samples: the C2PA writer refuses it
                        problem = (f"its data chunk leaves the length unknown ({size:#x}, a streamed WAV: "
                                   "rewrite it)")
                    if size in (0, 0xFFFFFFFF) or not rate or not align:
                        return None, problem
                    held = size_on_disk - fh.tell()
                    if size > held and not problem:
                        # even by a byte: FFmpeg reads what is there, the C2PA reader refuses the file
                        problem = f"its data chunk declares {size:,} bytes, the file holds {held:,}"
                    return size // align / rate, problem
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None, ""
    return None, ""


def declared_duration_s(stream, container, trusted: bool, path: Path | None = None) -> float | None:
    if not trusted:
        return None
    if path is not None and _is_wave(container) and stream.type == "audio":
        wave, _ = wave_header(path)
        if wave is not None:
            return wave
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        import av

        return container.duration / float(av.time_base)
    return None


def _is_wave(container) -> bool:
    return "wav" in (container.format.name or "").split(",")


def _is_mp3(container) -> bool:
    return "mp3" in (container.format.name or "").split(",")


def mp3_head_problem(path: Path) -> str:
    """Why an MP3's first bytes are damaged, or "": FFmpeg skips leading garbage to the first frame, the C2PA
    reader (and so sign and verify) needs an ID3 tag or an MPEG audio frame at byte 0."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(3)
    except OSError:
        return ""
    if head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ""
    return "it starts with neither an ID3 tag nor an MPEG audio frame (a damaged header)"


def _frame_s(stream) -> float:
    ctx = stream.codec_context
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return frame_duration_s(fps=float(rate) if rate else 0.0)
    if (ctx.name or "").startswith("pcm_") and ctx.sample_rate:
        return 1.0 / ctx.sample_rate  # uncompressed: every sample is a "frame", and a cut shows to the sample
    return frame_duration_s(frame_size=int(ctx.frame_size or 0), sample_rate=int(ctx.sample_rate or 0))


def packet_extent(path: Path, container, limits: Limits = Limits()) -> Extent:
    """Read every packet of the video and audio streams dflab uses; `container` is left at its end."""
    with media_errors(path, "read the container"):
        streams = [s for s in (video_stream(container), audio_stream(container)) if s is not None]
        if not streams:
            raise BadMedia(f"{path} has no audio or video stream")
        trusted = declares_length(container, path)
        declared = {s.index: declared_duration_s(s, container, trusted, path) for s in streams}
        frames = {s.index: _frame_s(s) for s in streams}
        starts = {s.index: s.start_time for s in streams}
    reached: dict[int, float] = {}
    damage = wave_header(path)[1] if _is_wave(container) else ""
    if not damage and _is_mp3(container):
        damage = mp3_head_problem(path)
    if not damage and declares_boxes(container):
        damage = bmff_problem(path)
    max_packets = int(limits.max_duration_s * _MAX_PACKETS_PER_S)
    packets = 0
    demux = container.demux(*streams)
    while True:
        try:
            with media_errors(path, "read the container"):
                packet = next(demux, None)
        except BadMedia as exc:
            damage = "; ".join(filter(None, (damage, f"the container breaks off ({one_line(exc)})")))
            break
        if packet is None:
            break
        packets += 1
        if packets > max_packets:
            raise LimitExceeded(f"{path} has over {max_packets:,} packets, more than {limits.max_duration_s:.0f} s of media")
        end = _packet_end_s(packet, starts)
        if end is None:
            continue
        index = packet.stream.index
        if end > reached.get(index, 0.0):
            reached[index] = end
            if end > limits.max_duration_s + 1.0:
                raise LimitExceeded(f"{path} runs past {limits.max_duration_s:.0f} s, the duration limit")
    reaches = [StreamReach(s.type, declared[s.index], reached.get(s.index), frames[s.index]) for s in streams]
    return Extent(reaches, damage)


def _packet_end_s(packet, starts: dict[int, int | None]) -> float | None:
    """Where this packet's presentation ends, in seconds from its stream's start (None: no timestamp)."""
    if packet.size == 0:
        return None  # the empty packets that end demuxing
    stamp = packet.pts if packet.pts is not None else packet.dts
    time_base = packet.time_base
    if stamp is None or time_base is None:
        return None
    start = starts.get(packet.stream.index)
    if start is None:
        start = stamp
        starts[packet.stream.index] = start
    return max(0.0, float((stamp + (packet.duration or 0) - start) * time_base))


def extent_of(path: Path, limits: Limits = Limits()) -> Extent:
    """packet_extent of a file, opening and closing it."""
    from dflab.media.container import open_container

    container = open_container(path)
    try:
        return packet_extent(path, container, limits)
    finally:
        container.close()
