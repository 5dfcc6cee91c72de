"""Sample media for `make run`, made from scikit-image's astronaut photo (public domain, ships in the wheel).

    python -m dflab.samples OUTDIR

writes, skipping any that already exist:
    astronaut_real.jpg        the untouched photo (authentic)
    astronaut_fake_paste.jpg  the face flipped, enlarged, recoloured and pasted back with a hard seam (a crude fake)
    astronaut_pan.mp4         4 s, 25 fps, 640x480 H.264 slowly panning/zooming onto the face, 440 Hz AAC tone

Nothing is copied from the shared data set: the samples are synthetic so that `make run` works anywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dflab.errors import DflabError, UsageError

REAL_NAME = "astronaut_real.jpg"
FAKE_NAME = "astronaut_fake_paste.jpg"
CLIP_NAME = "astronaut_pan.mp4"

# Inner face of skimage.data.astronaut() (512x512): brows to chin, cheek to cheek (x0, y0, x1, y1).
FACE_BOX = (180, 82, 266, 176)
CLIP_SIZE = (640, 480)
CLIP_FPS = 25
CLIP_SECONDS = 4.0
TONE_HZ = 440.0
TONE_RATE = 16_000


def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, :3])


def pasted_fake(rgb: np.ndarray, box: tuple[int, int, int, int] = FACE_BOX) -> np.ndarray:
    """The face region mirrored, enlarged 10 %, warmed and brightened, pasted back with no blending.

    Every step leaves a trace a detector should see: a rectangular seam, a colour mismatch against the
    neck and forehead, and mirrored features that no longer line up with the hair.
    """
    import cv2

    x0, y0, x1, y1 = box
    face = rgb[y0:y1, x0:x1]
    h, w = face.shape[:2]
    grown = cv2.resize(face[:, ::-1], (round(w * 1.1), round(h * 1.1)), interpolation=cv2.INTER_CUBIC)
    dy, dx = (grown.shape[0] - h) // 2, (grown.shape[1] - w) // 2
    patch = grown[dy : dy + h, dx : dx + w].astype(np.float32)
    patch = patch * np.array([1.18, 1.0, 0.8], np.float32) + 12.0  # warmer and brighter than the skin around it
    fake = rgb.copy()
    fake[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)
    return fake


def pan_frames(rgb: np.ndarray, seconds: float = CLIP_SECONDS, fps: int = CLIP_FPS) -> Iterator[np.ndarray]:
    """A slow camera move from the whole picture onto the face (smooth sub-pixel motion via warpAffine)."""
    import cv2

    out_w, out_h = CLIP_SIZE
    n = int(round(seconds * fps))
    img_h, img_w = rgb.shape[:2]
    face_cx, face_cy = (FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2
    for i in range(n):
        t = i / max(1, n - 1)
        ease = t  # a steady move, like a slow dolly shot
        view_w = img_w * (1.0 - 0.45 * ease)  # source width shown, 512 -> ~282 px
        view_h = view_w * out_h / out_w
        cx = (1 - ease) * img_w / 2 + ease * face_cx
        cy = (1 - ease) * (img_h * 0.42) + ease * face_cy
        cx = min(max(cx, view_w / 2), img_w - view_w / 2)
        cy = min(max(cy, view_h / 2), img_h - view_h / 2)
        scale = out_w / view_w
        matrix = np.array([[scale, 0, out_w / 2 - scale * cx], [0, scale, out_h / 2 - scale * cy]], np.float32)
        yield cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def tone(seconds: float = CLIP_SECONDS, rate: int = TONE_RATE, freq: float = TONE_HZ):
    from dflab.media.types import Audio

    t = np.arange(int(round(seconds * rate))) / rate
    fade = np.clip(np.minimum(t, seconds - t) / 0.05, 0, 1)  # no clicks at the ends
    return Audio(samples=(0.2 * fade * np.sin(2 * np.pi * freq * t)).astype(np.float32), sample_rate=rate)


def write_samples(outdir: str | Path) -> list[tuple[Path, bool]]:
    """Writes the sample files that are missing; returns (path, written) for each of them."""
    from dflab.media import write_image, write_video

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    photo = astronaut()
    makers = {
        REAL_NAME: lambda p: write_image(p, photo, quality=95),
        FAKE_NAME: lambda p: write_image(p, pasted_fake(photo), quality=95),
        CLIP_NAME: lambda p: write_video(p, pan_frames(photo), CLIP_FPS, audio=tone()),
    }
    results = []
    for name, make in makers.items():
        path = out / name
        if path.exists():
            results.append((path, False))
            continue
        make(path)
        results.append((path, True))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.samples", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="directory to write the samples into (created if missing)")
    args = parser.parse_args(argv)
    try:
        results = write_samples(args.outdir)
    except DflabError as exc:
        print(f"dflab.samples: error: {exc}", file=sys.stderr)
        return 2
    for path, written in results:
        print(f"{'wrote' if written else 'exists'} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
