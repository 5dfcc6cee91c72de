"""The image development set: balanced labels, each person in one group, fakes that change only the face."""

from __future__ import annotations

import numpy as np


def test_image_devset_balances_labels_and_keeps_people_in_one_group(shared_data, tmp_path):
    from dflab.train import devset_images as D
    from dflab.eval.manifest import read_manifest
    from dflab.media.load import load

    photos = [(p, person) for p, person in D.find_photos(shared_data)]
    assert photos and not any("ffpp" in p.parts or "cnndetection" in p.parts for p, _ in photos)
    wanted = {"alex_lacamoire": 1, "biden": 1, "kit_harington": 1, "obama": 2, "rose_leslie": 1}
    faces = []
    for path, person in photos:
        if wanted.get(person, 0) > 0 and "train" in path.parts:
            wanted[person] -= 1
            rgb = D.load_photo(path)
            faces.append(D.Face(f"{person}_{path.stem}", person, rgb, D.main_face(rgb)))
    assert len({f.person for f in faces}) == 5  # alex, biden, kit, obama, rose
    rows = D.build(faces, tmp_path, publications=D.PUBLICATIONS[:2], log=lambda msg: None)
    manifest = read_manifest(tmp_path / "manifest.csv")
    assert len(manifest.rows) == len(rows) == 4 * len(faces)
    assert sum(r.label for r in manifest.rows) == 2 * len(faces)  # as many fakes as reals
    groups_of: dict[str, set] = {}
    for r in rows:
        groups_of.setdefault(r.source.split("<-")[0].rsplit("_", 1)[0], set()).add(r.group)
    assert all(len(g) == 1 for g in groups_of.values())  # a person's pictures never straddle groups
    swaps = [r for r in rows if r.method == "swap"]
    assert swaps and all(r.source.split("<-")[1].split("_")[0] != r.source.split("_")[0] for r in swaps)
    real = load(tmp_path / next(r.path for r in rows if r.source == faces[0].name and r.label == "real"
                                and r.degradation == "q95")).frames[0].rgb
    fake_row = next(r for r in rows if r.source.startswith(faces[0].name) and r.label == "fake" and r.degradation == "q95")
    fake = load(tmp_path / fake_row.path).frames[0].rgb
    # The fake changes the face, not the picture: most of the difference lies inside the face box.
    x0, y0 = faces[0].landmarks[:, :2].min(axis=0).astype(int)
    x1, y1 = faces[0].landmarks[:, :2].max(axis=0).astype(int)
    diff = np.abs(real.astype(int) - fake.astype(int)).sum(axis=2)
    inside = diff[max(0, y0):y1, max(0, x0):x1].sum()
    assert inside > 0.7 * diff.sum() and diff[max(0, y0):y1, max(0, x0):x1].mean() > 2.0
