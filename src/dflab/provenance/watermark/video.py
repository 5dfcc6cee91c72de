"""Video: the same tile on every frame, written straight into the Y plane; detection averages frames.

Embedding decodes each frame as YUV 4:2:0, adds the mark to Y only (no RGB round trip, so chroma is untouched
and nothing is lost to colour conversion), and re-encodes H.264 (libx264, CRF 18 by default). The audio
packets are copied unchanged into the output, so the sound is bit-identical. We keep our own small PyAV loop
rather than dflab.media.write_video because that writer takes decoded mono audio and re-encodes it.

Detection: the mark is static while the picture moves, so the whitened residuals of up to `max_frames`
frames (spread over the clip) are averaged before the image detector runs: the mark adds coherently, moving
content and codec noise do not. That is a soft combination of all frames' evidence, not a per-frame vote.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from itertools import islice, takewhile
from pathlib import Path

import numpy as np

from dflab.errors import Unsupported, UsageError
from dflab.media.suffixes import VIDEO_OUTPUTS
from dflab.provenance.watermark.detect import WatermarkResult, detect_residual
from dflab.provenance.watermark.embed import EmbedConfig, check_payload, embed_luma_plane
from dflab.provenance.watermark.grid import mean_residual_of
from dflab.provenance.watermark.pattern import DEFAULT_KEY

VIDEO_CHIP_PX = 4.0  # coarser chips than images: the mark must survive a 50 % downscale *and* H.264 at CRF 28


def _y_plane(frame, width: int | None = None, height: int | None = None) -> tuple[np.ndarray, object]:
    """(Y as HxW uint8, the frame in yuv420p at width x height) for any decoded frame."""
    width, height = width or frame.width, height or frame.height
    if frame.format.name != "yuv420p" or (frame.width, frame.height) != (width, height):
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    return frame.to_ndarray()[:height], frame


def embed_video(
    src: Path,
    dst: Path,
    payload: bytes,
    config: EmbedConfig = EmbedConfig(),
    crf: int = 18,
    preset: str = "fast",
    progress: bool = False,
) -> dict:
    """Mark every frame of `src` into `dst` (written in place: callers wrap it in an atomic temp file).

    Returns {"frames": n, "width", "height", "fps", "audio": "copied" | "none", "mark_psnr_db": worst frame's
    PSNR of the mark alone (before H.264; the CRF 18 encode itself costs about another dB on top)}.
    """
    import av

    from dflab.media.container import open_container, video_stream
    from dflab.media.guards import media_errors

    payload = check_payload(payload)
    # One texture weighting at every size: the small-picture one was measured on photos, not after H.264.
    config = replace(config, chip_px=max(config.chip_px, VIDEO_CHIP_PX), small_texture_gamma=None)
    fmt = VIDEO_OUTPUTS.get(Path(dst).suffix.lower())
    if fmt is None:
        raise UsageError(f"{dst}: video output must end in one of {', '.join(VIDEO_OUTPUTS)}")
    inp = open_container(Path(src))
    try:
        vin = video_stream(inp)
        if vin is None:
            raise Unsupported(f"{src} has no video stream")
        ain = inp.streams.audio[0] if inp.streams.audio else None
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        width, height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
        if min(width, height) < 112:
            raise Unsupported(f"{src}: video {width}x{height} is too small to carry the watermark")
        total = vin.frames or None
        bar = _progress(total, progress)
        with media_errors(Path(src), "re-encode"), av.open(str(dst), "w", format=fmt) as out:
            vout = out.add_stream("libx264", rate=rate)
            vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
            vout.options = {"crf": str(int(crf)), "preset": preset}
            aout = None
            if ain is not None:
                try:
                    aout = out.add_stream_from_template(ain)
                except Exception as exc:  # noqa: BLE001 - codec not allowed in this container
                    raise Unsupported(f"{src}: cannot copy its {ain.codec_context.name} audio into {fmt}: {exc}") from None
            count = 0
            worst_psnr = float("inf")
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream is ain:
                    if packet.dts is None:
                        continue
                    packet.stream = aout
                    out.mux(packet)
                    continue
                for frame in packet.decode():
                    y, yuv = _y_plane(frame, width, height)
                    planes = yuv.to_ndarray()
                    marked = embed_luma_plane(y, payload, config, limited_range=True)
                    # RGB-equivalent PSNR of the mark alone (limited-range Y steps are 255/219 RGB steps).
                    diff = (marked.astype(np.float32) - y) * (255.0 / 219.0)
                    worst_psnr = min(worst_psnr, 10.0 * float(np.log10(255.0**2 / max(float(np.mean(diff * diff)), 1e-12))))
                    planes[:height] = marked
                    new = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                    new.pts = count
                    out.mux(vout.encode(new))
                    count += 1
                    if bar is not None:
                        bar.update(1)
            out.mux(vout.encode(None))
        if bar is not None:
            bar.close()
        if count == 0:
            raise Unsupported(f"{src}: no video frames could be decoded")
        return {"frames": count, "width": width, "height": height, "fps": float(rate),
                "audio": "copied" if aout else "none", "mark_psnr_db": round(worst_psnr, 2)}
    finally:
        inp.close()


def _progress(total: int | None, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="watermark", leave=False)


def mean_residual(path: Path, max_frames: int = 90, skip_damaged: bool = False) -> tuple[np.ndarray, int]:
    """(mean whitened luma residual of up to `max_frames` frames from the start, frames used).

    A packet the decoder refuses is an error (BadMedia), as everywhere in dflab, unless skip_damaged (the
    caller allows partial media): then the frames that do decode are used."""
    from dflab.media.container import open_container, video_stream
    from dflab.media.guards import media_errors

    inp = open_container(Path(path))
    try:
        vin = video_stream(inp)
        if vin is None:
            raise Unsupported(f"{path} has no video stream")
        # Every frame from the start: the mark is on every frame, and a declared frame count cannot be trusted
        # for striding (edited files often copy it from their source).
        with media_errors(Path(path), "decode"):
            frames = _decoded_frames(Path(path), inp, vin) if skip_damaged else inp.decode(vin)
            lumas = takewhile(lambda y: min(y.shape) >= 16, (_y_plane(frame)[0] for frame in frames))
            mean, used = mean_residual_of(islice(lumas, max_frames))
        if mean is None:
            raise Unsupported(f"{path}: no video frames could be decoded")
        return mean, used
    finally:
        inp.close()


def _decoded_frames(path: Path, inp, vin):
    """The frames of `vin`, passing over packets the decoder refuses and stopping where the container breaks."""
    from dflab.errors import BadMedia
    from dflab.media.guards import media_errors

    packets = inp.demux(vin)
    while True:
        try:
            with media_errors(path, "read the video"):
                packet = next(packets, None)
        except BadMedia:
            return
        if packet is None:
            return
        try:
            with media_errors(path, "decode the video"):
                frames = packet.decode()
        except BadMedia:
            continue
        yield from frames


def detect_video(path: Path, max_frames: int = 90, key: str = DEFAULT_KEY) -> WatermarkResult:
    """Average the whitened residuals of up to `max_frames` frames spread over the clip, then detect once."""
    residual, used = mean_residual(path, max_frames)
    return detect_residual(residual, media_type="video", frames_used=used, key=key)
