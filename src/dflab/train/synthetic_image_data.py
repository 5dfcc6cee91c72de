"""The development set of the generated-image detector: which pictures, which label, which fold.

Two folders of ../shared/data are used: faces/ (labels.csv) and cnndetection/ (its manifest). Every picture
gets one leave-one-generator-out fold, so that each is scored exactly once by a model that never saw its
fold:

- a generator's fakes are a fold of their own, together with the reals of the same source where reals are
  paired by source: StyleGAN2 with the Unsplash portraits (same size and compression), each cnndetection
  generator with its own 20 reals;
- Stable Diffusion 2.1 has no paired reals; its fold holds the RMFD and CIPLAB reals out with it, so that its
  AUC is measured against reals that the fold's model never saw either;
- the CIPLAB Photoshop splices are face edits of CIPLAB photos, not generated pictures: they are never
  trained on, and are scored in the fold that holds the CIPLAB reals out (same split, as the data asks);
- the UTKFace reals have no generator of their own: they are dealt round-robin over the generator folds, so
  that they, too, get an out-of-fold score (for the pooled figures and the false-alarm operating points)
  without an extra fold to train.

A generator's AUC is measured against its paired reals only (`PAIRED_REALS`), never against the UTKFace reals
that happen to share its fold.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from dflab.errors import NotFound

# labels.csv "generator_or_source" prefix -> short source name
FACE_SOURCES = {
    "camera photo (UTKFace": "utkface",
    "camera photo (RMFD": "rmfd",
    "camera photo (Unsplash": "unsplash",
    "camera photo (CIPLAB": "ciplab_real",
    "StyleGAN2": "stylegan2",
    "Stable Diffusion 2.1": "sd21",
    "manual Photoshop": "ciplab_splice",
}
FACE_FOLD = {"rmfd": "sd21", "unsplash": "stylegan2", "ciplab_real": "sd21",
             "stylegan2": "stylegan2", "sd21": "sd21", "ciplab_splice": "sd21"}
PAIRED_REALS = {"stylegan2": ("unsplash",), "sd21": ("rmfd", "ciplab_real")}  # cnndetection: "<generator>_real"
DEALT = "utkface"
TEST_RESERVE = 10  # the last pictures of each face source, in file order, that the shipped model never trains on  # the real source dealt over the generator folds
GENERATED = ("stylegan2", "sd21")  # the face sources that are generated pictures (fakes of this detector)
EDITS = ("ciplab_splice",)  # manipulated, but not generated: scored, never trained on


@dataclass(frozen=True)
class Picture:
    path: Path
    label: int  # 1 = generated; splices carry 1 as well but are never trained on (see `trainable`)
    source: str  # utkface, unsplash, ..., stylegan2, sd21, ciplab_splice, or "<generator>_real" / "<generator>"
    fold: str  # the generator whose leave-one-out fold scores this picture

    @property
    def trainable(self) -> bool:
        return self.source not in EDITS

    @property
    def generator(self) -> str | None:
        """The generator that made this picture; None for reals and edits."""
        return self.fold if self.label == 1 and self.trainable else None


def face_pictures(shared: Path) -> list[Picture]:
    labels = shared / "faces" / "labels.csv"
    if not labels.is_file():
        raise NotFound(f"{labels} does not exist")
    out = []
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            source = next((name for prefix, name in FACE_SOURCES.items()
                           if row["generator_or_source"].startswith(prefix)), None)
            if source is None:
                raise NotFound(f"{labels}: unknown source {row['generator_or_source']!r}")
            out.append(Picture(shared / "faces" / row["path"], int(row["label"] == "fake"), source,
                               FACE_FOLD.get(source, "")))
    return out


def cnndetection_pictures(shared: Path) -> list[Picture]:
    manifest = shared / "manifests" / "cnndetection_images.csv"
    if not manifest.is_file():
        raise NotFound(f"{manifest} does not exist")
    out = []
    with manifest.open(newline="") as handle:
        for row in csv.DictReader(handle):
            fake = row["label"] == "fake"
            source = row["method"] if fake else f"{row['method']}_real"
            out.append(Picture((manifest.parent / row["path"]).resolve(), int(fake), source, row["method"]))
    return out


def development_set(shared: Path) -> list[Picture]:
    """Every picture of the development set, faces first, in file order, with its fold (deterministic)."""
    pictures = face_pictures(shared) + cnndetection_pictures(shared)
    folds = generator_folds(pictures)
    dealt = 0
    for i, picture in enumerate(pictures):
        if picture.source == DEALT:
            pictures[i] = replace(picture, fold=folds[dealt % len(folds)])
            dealt += 1
    return pictures


def paired_reals(generator: str) -> tuple[str, ...]:
    """The real sources a held-out generator's AUC is measured against."""
    return PAIRED_REALS.get(generator, (f"{generator}_real",))


def evaluation_mask(pictures: list[Picture], generator: str) -> list[bool]:
    """Which pictures enter `generator`'s leave-one-out AUC: its fakes and its paired reals."""
    reals = paired_reals(generator)
    return [(p.generator == generator) or (p.label == 0 and p.source in reals) for p in pictures]


def generator_folds(pictures: list[Picture]) -> list[str]:
    """The held-out generators, in a fixed order."""
    return sorted({p.fold for p in pictures if p.label == 1 and p.trainable})


def reserved_for_tests(pictures: list[Picture], per_source: int = TEST_RESERVE) -> list[bool]:
    """The last `per_source` pictures of every face source (file order): left out of the shipped model's
    training, so that tests can check it on pictures it never saw (cnndetection, with 20 pictures a class, is
    too small to spare any)."""
    positions: dict[str, list[int]] = {}
    for i, picture in enumerate(pictures):
        if picture.source in FACE_SOURCES.values():
            positions.setdefault(picture.source, []).append(i)
    reserved = {i for rows in positions.values() for i in rows[-per_source:]} if per_source > 0 else set()
    return [i in reserved for i in range(len(pictures))]
