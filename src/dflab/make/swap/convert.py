"""`dflab swap convert`: put person B's face on person A in every frame of a video (or on a photo).

Two passes over the input, so nothing is written for a video without a face and smoothing can look ahead:
  1. landmarks of the chosen face in every frame (largest face first, then the one nearest the last), then
     zero-lag One Euro smoothing of the landmarks within each run of detected frames (against jitter);
  2. per frame: align to the model's template, encode, decode with the other person's decoder, transfer the
     frame's colour onto the generated face, warp back, blend with a feathered (or seamless) face mask.
Frames without a face pass through unchanged. The video is encoded H.264 with the source's frame rate and its
audio packets copied unchanged, then handed to make/disclose, the only way out of the maker.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from dflab.config import Limits, SamplingPolicy
from dflab.errors import NoFace, Unsupported, UsageError
from dflab.media.suffixes import PICTURE_OUTPUTS

BLENDS = ("feather", "seamless")
ERODE_FRACTION = 0.03  # of the face width: pull the blend edge inside the face oval
FEATHER_FRACTION = 0.08
ALL_FRAMES = SamplingPolicy(all_frames_up_to_s=Limits().max_duration_s, max_side=1 << 15)
NO_FRAME_CAP = Limits(max_analysis_frames=1 << 31)


def load_swap_model(model_dir: str | Path, device: str = "cpu"):
    """(model in eval mode, checkpoint dict) from a model directory."""
    from dflab.make.swap.checkpoint import load_checkpoint
    from dflab.make.swap.model import SwapModelConfig, build_swap_model

    state = load_checkpoint(model_dir)
    try:
        model = build_swap_model(SwapModelConfig(**state["config"]))
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        from dflab.errors import IntegrityError

        raise IntegrityError(f"model {model_dir} does not match its configuration ({type(exc).__name__})") from None
    return model.to(device).eval(), state


def resolve_target(to: str, names: dict[str, str]) -> str:
    """'a'/'b' (any case) or one of the identity names the model was trained with -> decoder key."""
    key = to.strip().lower()
    if key in ("a", "b"):
        return key
    for k, name in names.items():
        if to == name:
            return k
    raise UsageError(f"--to must be A, B or one of the model's identities ({names.get('a')}, {names.get('b')}), got {to!r}")


def _face_centre(landmarks: np.ndarray) -> np.ndarray:
    return landmarks[:, :2].mean(axis=0)


def _choose(faces: list, previous: np.ndarray | None) -> np.ndarray | None:
    if not faces:
        return None
    if previous is None:
        return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])).landmarks
    return min(faces, key=lambda f: float(np.linalg.norm(_face_centre(f.landmarks) - previous))).landmarks


def find_landmarks(path: Path, is_image: bool) -> tuple[list[np.ndarray | None], np.ndarray, list[bool]]:
    """Per frame: the chosen face's (478, 2) landmarks or None, the frame times, and where shots cut."""
    from dflab.faces.detect import VideoFaceFinder, find_faces_in_image
    from dflab.faces.shots import is_cut, thumbnail
    from dflab.media import iter_frames

    found: list[np.ndarray | None] = []
    times, cuts = [], []
    previous, prev_thumb = None, None
    finder = None if is_image else VideoFaceFinder(4)
    try:
        for frame in iter_frames(path, ALL_FRAMES, NO_FRAME_CAP):
            if finder is None:
                faces, cut = find_faces_in_image(frame.rgb, 4), False
            else:
                thumb = thumbnail(frame.rgb)
                cut = is_cut(prev_thumb, thumb)
                prev_thumb = thumb
                faces = finder(frame.rgb, frame.time_s, cut=cut)
            lm = _choose(faces, None if cut else previous)
            found.append(None if lm is None else np.asarray(lm[:, :2], np.float64))
            previous = _face_centre(lm) if lm is not None else previous
            times.append(frame.time_s)
            cuts.append(cut)
    finally:
        if finder is not None:
            finder.close()
    return found, np.asarray(times, np.float64), cuts


def smooth_landmarks(found: list[np.ndarray | None], times: np.ndarray, cuts: list[bool]) -> list[np.ndarray | None]:
    """Smooth each run of consecutive frames with a face (runs break at gaps and cuts)."""
    from dflab.make.swap.blend import smooth_track

    out = list(found)
    i = 0
    while i < len(found):
        if found[i] is None:
            i += 1
            continue
        j = i + 1
        while j < len(found) and found[j] is not None and not cuts[j]:
            j += 1
        if j - i >= 3:
            run = np.stack(found[i:j])
            smoothed = smooth_track(run.reshape(j - i, -1), times[i:j], min_cutoff=1.5, beta=0.02)
            out[i:j] = list(smoothed.reshape(run.shape))
        i = j
    return out


def swap_frame(rgb: np.ndarray, landmarks: np.ndarray, model, decoder: str, size: int, padding: float,
               blend: str = "feather") -> np.ndarray:  # fmt: skip
    """One frame with the face replaced by `decoder`'s person (pure given the model)."""
    import cv2  # noqa: PLC0415
    import torch

    from dflab.faces import face_mask
    from dflab.faces.align import alignment_matrix, transform_points
    from dflab.faces.masks import face_width
    from dflab.make.swap.blend import alpha_blend, colour_transfer, feathered_mask, seamless_blend

    h, w = rgb.shape[:2]
    matrix = alignment_matrix(landmarks, size, padding)
    crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
    with torch.no_grad():
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255.0)
        gen = (model(x, decoder)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    crop_mask = face_mask(transform_points(landmarks, matrix), (size, size))
    gen = colour_transfer(gen, crop, crop_mask)
    inverse = cv2.invertAffineTransform(matrix)
    back = cv2.warpAffine(gen, inverse, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    frame_mask = face_mask(landmarks, (h, w))
    fw = face_width(landmarks)
    if blend == "seamless":
        return seamless_blend(rgb, back, feathered_mask(frame_mask, int(ERODE_FRACTION * fw), 0))
    return alpha_blend(rgb, back, feathered_mask(frame_mask, int(ERODE_FRACTION * fw), FEATHER_FRACTION * fw))


def write_render(dst: Path, frames, src: Path, count: int | None = None, crf: int = 16) -> int:
    """Encode RGB frames as H.264 at the source's frame rate, copying the source's audio packets unchanged."""
    import av

    from dflab.media.container import open_container, video_stream
    from dflab.media.guards import media_errors

    inp = open_container(src)
    try:
        vin = video_stream(inp)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        ain = inp.streams.audio[0] if inp.streams.audio else None
        written = 0
        with media_errors(dst, "write the converted video"), av.open(str(dst), "w", format="mp4") as out:
            vout = None
            aout = out.add_stream_from_template(ain) if ain is not None else None
            for rgb in frames:
                if vout is None:
                    vout = out.add_stream("libx264", rate=rate)
                    vout.width, vout.height = rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2
                    vout.pix_fmt, vout.options = "yuv420p", {"crf": str(crf), "preset": "fast"}
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: vout.height, : vout.width]), format="rgb24")
                frame.pts = written
                out.mux(vout.encode(frame))
                written += 1
            if vout is not None:
                out.mux(vout.encode(None))
            if aout is not None:
                for packet in inp.demux(ain):
                    if packet.dts is None:
                        continue
                    packet.stream = aout
                    out.mux(packet)
        return written
    finally:
        inp.close()


def convert(
    src: str | Path,
    model_dir: str | Path,
    out: str | Path,
    to: str = "b",
    size: int | None = None,
    blend: str = "feather",
    progress: bool = True,
    consent: list[dict] | None = None,
) -> dict:
    """Convert a video or photo with a trained swap model; the output is disclosed (make/disclose).
    `consent`: records of verified consent statements (provenance.consent.require_consent); None: the output
    says "consent: not recorded"."""
    import torch

    from dflab.make import disclose
    from dflab.media import iter_frames, probe

    src, out = Path(src), Path(out)
    if blend not in BLENDS:
        raise UsageError(f"--blend must be one of {', '.join(BLENDS)}")
    kind = probe(src)["type"]
    if kind == "audio":
        raise Unsupported(f"{src} has no pictures to convert")
    disclose._check_output(out, tuple(PICTURE_OUTPUTS) if kind == "image" else (".mp4",))
    model, state = load_swap_model(model_dir)
    model_size = int(state["config"]["size"])
    if size is not None and size != model_size:
        raise UsageError(f"this model was trained at {model_size} px; it cannot convert at {size} px (omit --size or use {model_size})")
    decoder = resolve_target(to, state.get("names") or {})
    padding = float(state.get("padding") or 0.25)
    torch.set_num_threads(1)
    found, times, cuts = find_landmarks(src, kind == "image")
    n_faces = sum(lm is not None for lm in found)
    if n_faces == 0:
        raise NoFace(f"no face found in any of the {len(found)} frame(s) of {src}")
    smoothed = smooth_landmarks(found, times, cuts)
    names = state.get("names") or {}
    target_sources = [s.get("path") for s in (state.get("sources") or {}).get(decoder, []) if s.get("path")]
    meta = {"model": str(Path(model_dir).name), "method": "faceswap-autoencoder", "sources": [src], "consent": consent,
            "extra": {"to": names.get(decoder, decoder), "size": model_size, "iteration": int(state.get("iteration", 0)),
                      "blend": blend, "target_identity_sources": target_sources}}  # fmt: skip

    def frames():
        from tqdm import tqdm

        bar = tqdm(total=len(found), unit="frame", desc="convert", file=sys.stderr,
                   disable=not (progress and sys.stderr.isatty()))  # fmt: skip
        for frame, lm in zip(iter_frames(src, ALL_FRAMES, NO_FRAME_CAP), smoothed):
            bar.update(1)
            yield frame.rgb if lm is None else swap_frame(frame.rgb, lm, model, decoder, model_size, padding, blend)
        bar.close()

    if kind == "image":
        summary = disclose.disclose_image(next(frames()), out, **meta)
    else:
        render = disclose._temp_beside(out, "render")
        try:
            written = write_render(render, frames(), src)
            summary = disclose.disclose_video(render, out, **meta)
        finally:
            render.unlink(missing_ok=True)
        summary["frames"] = written
    summary.update(faces=n_faces, frames_total=len(found), to=names.get(decoder, decoder), size=model_size)
    return summary
