"""The distortions the mark must survive, as pure functions (shared by the tests and bench/watermark.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def jpeg(rgb: np.ndarray, quality: int = 50) -> np.ndarray:
    """Round trip through JPEG at `quality` (OpenCV/libjpeg, 4:2:0 chroma like most encoders)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def downscale(rgb: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """Resize by `factor` per side with area averaging (what image tools do when shrinking)."""
    import cv2

    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def crop_center(rgb: np.ndarray, keep_area: float = 0.8) -> np.ndarray:
    """The central part that keeps `keep_area` of the pixels (each side scaled by sqrt(keep_area))."""
    height, width = rgb.shape[:2]
    side = keep_area**0.5
    h, w = round(height * side), round(width * side)
    top, left = (height - h) // 2, (width - w) // 2
    return np.ascontiguousarray(rgb[top : top + h, left : left + w])


def combined(rgb: np.ndarray) -> np.ndarray:
    """Crop to 80 % of the area, then downscale to 50 %, then JPEG quality 50."""
    return jpeg(downscale(crop_center(rgb, 0.8), 0.5), 50)


def combined_hard(rgb: np.ndarray) -> np.ndarray:
    """Crop to 64 % of the area (80 % a side), then downscale to 50 %, then JPEG quality 50."""
    return jpeg(downscale(crop_center(rgb, 0.64), 0.5), 50)


def rotate(rgb: np.ndarray, degrees: float = 3.0) -> np.ndarray:
    """Rotate about the centre by `degrees` (counter-clockwise), same size, bilinear, black corners (what most
    editors do for a straighten without auto-crop)."""
    import cv2

    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), float(degrees), 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def flip(rgb: np.ndarray) -> np.ndarray:
    """Mirror left-right."""
    return np.ascontiguousarray(rgb[:, ::-1])


IMAGE_ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda rgb: rgb,
    "jpeg50": jpeg,
    "downscale50": downscale,
    "crop80": crop_center,
    "combined": combined,
    "crop64": lambda rgb: crop_center(rgb, 0.64),
    "combined64": combined_hard,
    "rotate+3": lambda rgb: rotate(rgb, 3.0),
    "rotate-3": lambda rgb: rotate(rgb, -3.0),
    "flip": flip,
    "jpeg75+rotate+3": lambda rgb: rotate(jpeg(rgb, 75), 3.0),
    "jpeg75+rotate-3": lambda rgb: rotate(jpeg(rgb, 75), -3.0),
    "jpeg75+flip": lambda rgb: flip(jpeg(rgb, 75)),
}


def reencode_video(src: str, dst: str, crf: int = 28, scale: float = 0.5, max_frames: int | None = None) -> None:
    """H.264 re-encode at `crf` with a resize by `scale` (even sizes), audio dropped: the video attack."""
    import av
    import cv2

    with av.open(src) as inp, av.open(dst, "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        stream = out.add_stream("libx264", rate=rate)
        stream.width = max(2, int(vin.codec_context.width * scale) // 2 * 2)
        stream.height = max(2, int(vin.codec_context.height * scale) // 2 * 2)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "fast"}
        for index, frame in enumerate(inp.decode(vin)):
            if max_frames is not None and index >= max_frames:
                break
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (stream.width, stream.height), interpolation=cv2.INTER_AREA)
            new = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            new.pts = index
            out.mux(stream.encode(new))
        out.mux(stream.encode(None))
