"""Swap quality on the liveportrait pair d6 (A) + d9 (B): reconstruction SSIM on held-out frames, identity,
expression/pose fidelity, temporal flicker, and training speed at 64 and 128 px.

    .venv/bin/python bench/swap_quality.py [--model out/models/swap_d6_d9] [--frames 90]

The model is not in the repository (weights of real people's faces are never committed): train one with
`dflab swap train` (or python -m dflab.make.headless on a GPU) into out/models/swap_d6_d9 first; without it the
script measures training speed only. Facesets are extracted into out/swap/ when missing.
  reconstruction SSIM  A->A on d6 frames the faceset did not contain (d6 was sampled at 10 of 30 fps), inside the
                       face mask, at the model's size
  identity             dlib descriptor distance of swapped faces (d9 -> A) to the mean descriptor of A and of B;
                       a recognisable swap is nearer A (the target) than B (the source); < 0.6 = same person
  expression / pose    mean landmark error of the swapped face against the driving frame's, in inter-ocular units
  flicker              mean absolute frame-to-frame change inside the face, output / input (1 = as steady as input)
  speed                training iterations per second, tiny and small presets, 1 CPU thread, batch 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_table, shared_data, write_results  # noqa: E402

DRIVING = Path("liveportrait") / "assets" / "examples" / "driving"


def _faceset(name: str, data: Path) -> Path:
    from dflab.make.swap.extract import extract_faceset

    path = REPO / "out" / "swap" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        extract_faceset(data / DRIVING / f"{name}.mp4", path, size=128)
    return path


def train_speed(fa: Path, fb: Path) -> list[dict]:
    import torch

    from dflab.make.swap.model import preset_config
    from dflab.make.swap.train import TrainConfig, train_swap

    torch.set_num_threads(1)
    rows = []
    for preset, iters in (("tiny", 20), ("small", 6)):
        for size in (64, 128):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = TrainConfig(iterations=iters, batch=8, save_every=0, preview_every=0)
                s = train_swap(fa, fb, Path(tmp) / "m", preset_config(preset, size), cfg, progress=False)
            rows.append({"preset": preset, "size": size, "it_per_s": s["it_per_s"], "iterations": iters, "device": "cpu 1 thread"})
    return rows


def quality(model_dir: Path, fa: Path, data: Path, n_frames: int) -> dict:
    import torch

    from dflab.faces import embed, face_mask
    from dflab.faces.align import alignment_matrix, transform_points
    from dflab.faces.detect import find_faces_in_image, landmark_box
    from dflab.faces.landmarks import inter_ocular_distance
    from dflab.make.swap.convert import ALL_FRAMES, NO_FRAME_CAP, convert, load_swap_model
    from dflab.make.swap.faceset import read_faceset
    from dflab.make.swap.losses import masked_ssim
    from dflab.media import iter_frames, load

    model, state = load_swap_model(model_dir)
    size, padding = int(state["config"]["size"]), float(state.get("padding") or 0.25)
    torch.set_num_threads(1)
    # 1. Reconstruction on held-out d6 frames.
    import cv2

    seen = set(int(i) for i in read_faceset(fa).frame_indices)
    ssims = []
    for frame in iter_frames(data / DRIVING / "d6.mp4", ALL_FRAMES, NO_FRAME_CAP):
        if frame.index in seen or frame.index % 10 != 5:
            continue
        faces = find_faces_in_image(frame.rgb, 1)
        if not faces:
            continue
        m = alignment_matrix(faces[0].landmarks, size, padding)
        crop = cv2.warpAffine(frame.rgb, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)  # as extract and convert
        mask = torch.from_numpy(face_mask(transform_points(faces[0].landmarks, m), (size, size)))[None, None]
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            ssims.append(masked_ssim(model(x, "a"), x, mask))
    # 2-4. Convert the first n_frames of d9 to A (d6), disclosed like any output, then measure it.
    from dflab.media import write_video
    from dflab.media.types import Audio

    src_media = load(data / DRIVING / "d9.mp4")
    tmp = Path(tempfile.mkdtemp(dir=REPO / "out"))
    clip = write_video(tmp / "d9_clip.mp4", [f.rgb for f in src_media.frames[:n_frames]], src_media.fps,
                       Audio(src_media.audio.samples[: int(n_frames / src_media.fps * 16000)], 16000) if src_media.audio else None)
    started = time.perf_counter()
    summary = convert(clip, model_dir, tmp / "d9_as_d6.mp4", to="a", progress=False)
    convert_s = time.perf_counter() - started
    inp, out = load(clip), load(tmp / "d9_as_d6.mp4")
    a_media = load(data / DRIVING / "d6.mp4")
    ref_a = np.mean([embed(f.rgb, landmark_box(find_faces_in_image(f.rgb, 1)[0].landmarks)) for f in a_media.frames[::30]], axis=0)
    ref_b = np.mean([embed(f.rgb, landmark_box(find_faces_in_image(f.rgb, 1)[0].landmarks)) for f in inp.frames[::10]], axis=0)
    to_a, to_b, lm_err, flicker_in, flicker_out = [], [], [], [], []
    prev = None
    for fi, fo in zip(inp.frames, out.frames):
        fin, fout = find_faces_in_image(fi.rgb, 1), find_faces_in_image(fo.rgb, 1)
        if not fin or not fout:
            continue
        lin, lout = fin[0].landmarks, fout[0].landmarks
        if fi.index % 5 == 0:
            e = embed(fo.rgb, landmark_box(lout))
            to_a.append(float(np.linalg.norm(e - ref_a)))
            to_b.append(float(np.linalg.norm(e - ref_b)))
        lm_err.append(float(np.linalg.norm(lin[:468, :2] - lout[:468, :2], axis=1).mean() / inter_ocular_distance(lin)))
        mask = face_mask(lin, fi.rgb.shape) > 0.5
        if prev is not None:
            flicker_in.append(float(np.abs(fi.rgb.astype(np.float32) - prev[0])[mask].mean()))
            flicker_out.append(float(np.abs(fo.rgb.astype(np.float32) - prev[1])[mask].mean()))
        prev = (fi.rgb.astype(np.float32), fo.rgb.astype(np.float32))
    return {
        "model_iteration": int(state.get("iteration", 0)), "model_size": size,
        "recon_ssim_heldout_d6": round(float(np.mean(ssims)), 4), "recon_frames": len(ssims),
        "identity_dist_to_target_A": round(float(np.mean(to_a)), 4), "identity_dist_to_source_B": round(float(np.mean(to_b)), 4),
        "identity_nearer_target_fraction": round(float(np.mean(np.array(to_a) < np.array(to_b))), 3),
        "landmark_error_iod": round(float(np.mean(lm_err)), 4), "flicker_in": round(float(np.mean(flicker_in)), 3),
        "flicker_out": round(float(np.mean(flicker_out)), 3),
        "flicker_ratio": round(float(np.mean(flicker_out) / np.mean(flicker_in)), 3),
        "convert_frames": summary["frames"], "convert_s": round(convert_s, 1), "ledger_record": summary["record"],
        "output": str(tmp / "d9_as_d6.mp4"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "out" / "models" / "swap_d6_d9"))
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        sys.exit("shared data not found (set DFLAB_SHARED_DATA)")
    fa, fb = _faceset("d6", data), _faceset("d9", data)
    payload: dict = {"speed": train_speed(fa, fb)}
    print_table(payload["speed"], ["preset", "size", "iterations", "it_per_s", "device"])
    device_report = Path(args.model).parent / "device_report.json"
    if device_report.is_file():
        payload["gpu_training"] = {k: v for k, v in json.loads(device_report.read_text()).items() if k != "gan"}
        for key in ("swap",):
            payload["gpu_training"][key] = {k: v for k, v in payload["gpu_training"][key].items() if not k.startswith("history")}
    if Path(args.model).is_dir():
        q = quality(Path(args.model), fa, data, args.frames)
        payload["quality"] = q
        print_table([{"metric": k, "value": v} for k, v in q.items()], ["metric", "value"])
    write_results("swap_quality", payload)


if __name__ == "__main__":
    main()
