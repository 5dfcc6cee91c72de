"""Build a labelled development set of still images from real face photos, for fitting the image fusion.

    python -m dflab.train.devset_images OUTDIR [--data DIR] [--frames N] [--seed S]

Sources (never ffpp or cnndetection, the held-out sets): face_recognition's identity-labelled photos,
dlib_faces' photos, liveportrait's portraits (assets/examples/source) and a few frames of its driving
clips. Every source face gives
  reals: the picture re-published five ways (JPEG 95, 75 and 50, half size, an 80 % central crop);
  fakes: the kinds of the video set (dflab.train.devset_fakes): cross-identity swaps (donor = the face of
         nearest pose of another person in the same group), a lower-face edit (the same person's mouth from
         another photo or frame of them, else from their mirrored picture), a crude cut-and-paste of the inner
         face with hard edges (another person's, or the face's own mirrored or enlarged and recoloured) and a
         self-blend, five in all,
         each through one of the same re-publications (rotating), so the set is half fakes.
Groups are sets of people: a person's photos (and a clip's frames) share a group and swaps take donors only
inside it, so leaving a group out of a fit keeps every face of the tested pictures out of it.
Writes OUTDIR/<files>.jpg and OUTDIR/manifest.csv (path,label,method,group,source,degradation).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dflab.errors import DflabError, UsageError
from dflab.train import devset_fakes as F
from dflab.train.devset import Row, assign_groups, write_manifest

N_FRAMES_PER_CLIP = 2  # "a few" driving frames: the clips already fill the video set


@dataclass(frozen=True)
class Publication:
    """One way a still is re-published: an 80 % central crop and/or a downscale, then JPEG at `quality`."""

    name: str
    quality: int
    scale: float = 1.0
    crop: float = 1.0


PUBLICATIONS = (
    Publication("q95", 95),
    Publication("q75", 75),
    Publication("q50", 50),
    Publication("half", 85, scale=0.5),
    Publication("crop", 85, crop=0.8),
)


@dataclass
class Face:
    """A source picture (analysis size) with its main face's landmarks, and whose face it is."""

    name: str
    person: str
    rgb: np.ndarray
    landmarks: np.ndarray


def _person_of_photo(path: Path) -> str:
    """face_recognition names people in folders and file names (obama-720p.jpg, biden2.jpg, john1.jpeg)."""
    stem = path.stem.lower().replace("-", "_")
    aliases = {"john": "kit_harington", "johnsnow": "kit_harington", "kit": "kit_harington",
               "img": path.parent.name, "alex": "alex_lacamoire", "lin": "lin_manuel_miranda"}
    head = stem.rstrip("0123456789").split("_")[0]
    if path.parent.parent.name == "train":
        return path.parent.name
    return aliases.get(head, head)


def find_photos(data: Path) -> list[tuple[Path, str]]:
    """(path, person) of the real photos, each distinct file once (face_recognition repeats some)."""
    fr = data / "face_recognition"
    found = [(p, _person_of_photo(p)) for p in sorted(fr.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    found += [(p, f"dlib_{p.stem}") for p in sorted((data / "dlib_faces").rglob("*.jpg"))]
    found += [(p, f"lp_{p.stem}") for p in sorted((data / "liveportrait" / "assets" / "examples" / "source").glob("*.jpg"))]
    seen, out = set(), []
    for path, person in found:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen and "ffpp" not in path.parts and "cnndetection" not in path.parts:
            seen.add(digest)
            out.append((path, person))
    if not out:
        raise UsageError(f"no source photos under {data} (expected face_recognition/, dlib_faces/, liveportrait/)")
    return out


def main_face(rgb: np.ndarray) -> np.ndarray | None:
    """Landmarks (478, 3) of the largest face of one picture, or None."""
    from dflab.faces.detect import find_faces_in_image

    faces = find_faces_in_image(rgb, max_faces=1)
    return None if not faces else np.asarray(faces[0].landmarks)


def load_photo(path: Path) -> np.ndarray:
    from dflab.media.load import load

    return load(path).frames[0].rgb  # the scanner's analysis size (at most 1280 px)


def clip_frames(path: Path, n: int) -> list[np.ndarray]:
    """n frames spread over a driving clip (at the scanner's analysis size)."""
    from dflab.media.load import iter_frames

    frames = [f.rgb for f in iter_frames(path)]
    picks = np.linspace(0, len(frames) - 1, n + 2)[1:-1].round().astype(int) if frames else []
    return [frames[i] for i in picks]


def publish(rgb: np.ndarray, how: Publication) -> np.ndarray:
    return F.degrade(rgb, F.Degradation(how.name, crf=0, scale=how.scale, crop=how.crop))


def _nearest_pose(target: Face, donors: list[Face]) -> Face:
    size = F.crop_size_for(target.landmarks)
    key = F.face_crop(target.rgb, target.landmarks, size).points / size
    dists = []
    for d in donors:
        dsize = F.crop_size_for(d.landmarks)
        dists.append(F.pose_distance(key, F.face_crop(d.rgb, d.landmarks, dsize).points / dsize))
    return donors[int(np.argmin(dists))]


def fakes_of(face: Face, others: list[Face], same_person: list[Face], rng: np.random.Generator, n: int):
    """(tag, method, source, rgb) for `n` fakes of one face: swaps, a lower-face edit, a self-blend."""
    size = F.crop_size_for(face.landmarks)
    target = F.face_crop(face.rgb, face.landmarks, size)
    out = []
    donors = list(others)
    rng.shuffle(donors)
    for k, donor in enumerate(donors[:2]):
        pick = _nearest_pose(face, [d for d in others if d.person == donor.person])
        swapped = F.swap_face(face.rgb, target, F.face_crop(pick.rgb, pick.landmarks, size), seamless=k % 2 == 1)
        out.append((f"swap_{pick.name}", "swap", f"{face.name}<-{pick.name}", swapped))
    if same_person:  # another moment of the same person
        donor = same_person[int(rng.integers(len(same_person)))]
        donor_rgb, donor_lm = donor.rgb, donor.landmarks
    else:  # the person's mirrored picture: the same face with a different mouth shape and shading
        donor_rgb = np.ascontiguousarray(face.rgb[:, ::-1])
        donor_lm = main_face(donor_rgb)
    if donor_lm is not None:
        edited = F.edit_expression(face.rgb, target, F.face_crop(donor_rgb, donor_lm, size), bool(rng.integers(2)))
        out.append(("expr", "expression", face.name, edited))
    if n >= 5:  # a crude cut-and-paste (no blending): half from another person's face, half from the face itself
        donor = others[int(rng.integers(len(others)))] if others and rng.random() < 0.5 else None
        pasted = F.paste_region(face.rgb, face.landmarks, rng, donor.rgb if donor else None,
                                donor.landmarks if donor else None)
        out.append(("paste", "paste", f"{face.name}<-{donor.name}" if donor else face.name, pasted))
    while len(out) < n:  # self-blends fill the rest (each with its own random draw)
        out.append((f"sbi{len(out)}", "sbi", face.name, F.self_blend_frame(face.rgb, target, int(rng.integers(2**31)))))
    return out[:n]


def _write(out_dir: Path, stem: str, rgb: np.ndarray, how: Publication) -> str:
    from dflab.media.write import write_image

    file = out_dir / f"{stem}_{how.name}.jpg"
    write_image(file, publish(rgb, how), quality=how.quality)
    return file.name


def collect_faces(data: Path, n_frames: int = N_FRAMES_PER_CLIP, log=print) -> list[Face]:
    faces = []
    for path, person in find_photos(data):
        try:
            rgb = load_photo(path)
        except DflabError as exc:
            log(f"skip {path.name}: {exc}")
            continue
        lm = main_face(rgb)
        if lm is not None:
            faces.append(Face(f"{person}_{path.stem}".replace("-", "_"), person, rgb, lm))
    driving = sorted((data / "liveportrait" / "assets" / "examples" / "driving").glob("*.mp4"))
    for path in driving if n_frames else ():
        for k, rgb in enumerate(clip_frames(path, n_frames)):
            lm = main_face(rgb)
            if lm is not None:
                faces.append(Face(f"lp_{path.stem}_f{k}", f"lp_{path.stem}", rgb, lm))
    return faces


def build(faces: list[Face], out_dir: Path, publications: tuple[Publication, ...] = PUBLICATIONS,
          seed: int = 0, log=print) -> list[Row]:
    """Write every real and fake of `faces` into `out_dir`; returns the rows (also written as manifest.csv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = assign_groups(sorted({f.person for f in faces}))
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for index, face in enumerate(faces):
        group = groups[face.person]
        others = [f for f in faces if groups[f.person] == group and f.person != face.person]
        same = [f for f in faces if f.person == face.person and f.name != face.name]
        for how in publications:
            rows.append(Row(_write(out_dir, f"{face.name}_real", face.rgb, how), "real", "real", group, face.name, how.name))
        for k, (tag, method, source, rgb) in enumerate(fakes_of(face, others, same, rng, len(publications))):
            how = publications[(index + k) % len(publications)]
            rows.append(Row(_write(out_dir, f"{face.name}_{tag}", rgb, how), "fake", method, group, source, how.name))
    if not rows:
        raise UsageError("no face was found in the source pictures")
    write_manifest(out_dir / "manifest.csv", rows)
    log(f"{len(faces)} faces, {len(set(groups.values()))} groups")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dflab.train.devset_images", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUTDIR")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--frames", type=int, default=N_FRAMES_PER_CLIP, help="frames taken from each driving clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        rows = build(collect_faces(args.data, args.frames), args.out, seed=args.seed)
    except DflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_fake = sum(r.label == "fake" for r in rows)
    print(f"{len(rows)} images ({n_fake} fake) in {time.perf_counter() - started:.0f} s -> {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
