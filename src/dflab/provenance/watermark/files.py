"""File-level embed/detect: sniff the media type, decode, mark, write atomically (temp file + os.replace)."""

from __future__ import annotations

from pathlib import Path

from dflab.config import Limits
from dflab.errors import NotFound, Unsupported, UsageError
from dflab.media.suffixes import PICTURE_OUTPUTS, VIDEO_OUTPUTS
from dflab.provenance.watermark.detect import WatermarkResult, detect_image
from dflab.provenance.watermark.embed import EmbedConfig, check_payload, embed_image, psnr
from dflab.provenance.watermark.pattern import DEFAULT_KEY


def media_type_of(path: Path, limits: Limits = Limits(), decode: bool = True) -> str:
    """"image" or "video", after the open-and-check step of every command (dflab.media.check). Pictures are
    checked when load_image_rgb decodes them; a video is read whole here (decode=False reads its packets only,
    for a caller that decodes every frame itself and stops at the first damaged one, as embedding does)."""
    from dflab.media.check import check_media, sniff_image

    if not path.exists():
        raise NotFound(f"{path} does not exist")
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a media file")
    if sniff_image(path, limits) is not None:
        return "image"
    kind = check_media(path, limits, decode=decode).media_type
    if kind not in ("image", "video"):
        raise Unsupported(f"{path} is {kind}; the watermark is for images and video")
    return kind


def embed_file(
    src: str | Path,
    dst: str | Path,
    payload: bytes,
    config: EmbedConfig = EmbedConfig(),
    overwrite: bool = False,
    jpeg_quality: int = 95,
    crf: int = 18,
    progress: bool = False,
) -> dict:
    """Write a marked copy of `src` to `dst` (image: format from dst's extension; video: H.264, audio copied).

    Returns a summary dict: media_type, payload (hex), output, and psnr_db (images) or frames (video).
    """
    from dflab.media.write import atomic_output

    src, dst = Path(src), Path(dst)
    payload = check_payload(payload)
    if dst.exists() and not overwrite:
        raise UsageError(f"output {dst} already exists (choose another path)")
    if not dst.parent.is_dir():
        raise UsageError(f"output directory {dst.parent} does not exist")
    if dst.resolve() == src.resolve():
        raise UsageError("output must differ from the input")
    kind = media_type_of(src, decode=False)  # embed_video decodes every frame and stops at a damaged one
    summary: dict = {"media_type": kind, "payload": payload.hex(), "output": str(dst)}
    if kind == "image":
        from dflab.media.load import load_image_rgb
        from dflab.media.write import write_image

        if dst.suffix.lower() not in PICTURE_OUTPUTS:
            raise UsageError(f"{dst}: image output must end in one of {', '.join(PICTURE_OUTPUTS)}")
        rgb = load_image_rgb(src)
        marked = embed_image(rgb, payload, config)
        write_image(dst, marked, quality=jpeg_quality)
        summary.update(width=rgb.shape[1], height=rgb.shape[0], psnr_db=round(psnr(rgb, marked), 2))
        return summary
    from dflab.provenance.watermark.video import embed_video

    if dst.suffix.lower() not in VIDEO_OUTPUTS:
        raise UsageError(f"{dst}: video output must end in one of {', '.join(VIDEO_OUTPUTS)}")
    with atomic_output(dst) as tmp:
        summary.update(embed_video(src, tmp, payload, config, crf=crf, progress=progress))
    return summary


def detect_file(path: str | Path, key: str = DEFAULT_KEY, max_frames: int = 90) -> WatermarkResult:
    """Detect in an image (full resolution) or a video (residuals averaged over up to `max_frames` frames)."""
    path = Path(path)
    kind = media_type_of(path)
    if kind == "image":
        from dflab.media.load import load_image_rgb

        return detect_image(load_image_rgb(path), key=key)
    from dflab.provenance.watermark.video import detect_video

    return detect_video(path, max_frames=max_frames, key=key)
