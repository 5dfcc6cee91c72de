"""The development set of the generated-image detector: labels, folds and pairing, on the real data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dflab.train.synthetic_image_data import development_set, evaluation_mask, generator_folds, reserved_for_tests
from dflab.train.synthetic_image_finding import grouped_out_of_fold


@pytest.fixture(scope="module")
def pictures(shared_data):
    return development_set(shared_data)


def test_every_picture_has_a_generator_fold(pictures):
    folds = generator_folds(pictures)
    assert folds == sorted(["stylegan2", "sd21", "biggan", "crn", "cyclegan", "gaugan", "imle", "san", "seeingdark",
                            "stargan"])
    assert {p.fold for p in pictures} == set(folds)
    counts = Counter((p.source, p.label) for p in pictures)
    assert counts[("stylegan2", 1)] == 700 and counts[("sd21", 1)] == 200 and counts[("unsplash", 0)] == 589


def test_splices_are_never_generated_fakes_and_share_the_ciplab_reals_fold(pictures):
    splices = [p for p in pictures if p.source == "ciplab_splice"]
    assert len(splices) == 300 and not any(p.trainable for p in splices)
    assert all(p.generator is None for p in splices)
    ciplab_real_folds = {p.fold for p in pictures if p.source == "ciplab_real"}
    assert ciplab_real_folds == {p.fold for p in splices} == {"sd21"}


def test_paired_reals_and_dealt_utkface(pictures):
    stylegan = np.array(evaluation_mask(pictures, "stylegan2"))
    assert {(p.source, p.label) for p, keep in zip(pictures, stylegan) if keep} == {("stylegan2", 1), ("unsplash", 0)}
    crn = np.array(evaluation_mask(pictures, "crn"))
    assert Counter(p.source for p, keep in zip(pictures, crn) if keep) == {"crn": 20, "crn_real": 20}
    dealt = Counter(p.fold for p in pictures if p.source == "utkface")
    assert len(dealt) == 10 and set(dealt.values()) == {200}
    # paired reals sit in their generator's fold, so a fold's network never trained on them
    assert all(p.fold == "stylegan2" for p in pictures if p.source == "unsplash")


def test_the_test_reserve_is_ten_pictures_per_face_source(pictures):
    reserved = [p for p, r in zip(pictures, reserved_for_tests(pictures)) if r]
    assert Counter(p.source for p in reserved) == {s: 10 for s in ("utkface", "rmfd", "unsplash", "ciplab_real",
                                                                   "stylegan2", "sd21", "ciplab_splice")}


def test_grouped_out_of_fold_never_fits_on_the_held_out_group():
    """Group "b" has the label relation reversed: a combiner that saw it would be dragged towards it, one that
    did not must score it the wrong way round (AUC 0 on that group)."""
    from dflab.eval.metrics import roc_auc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    groups = np.array(["a"] * 100 + ["b"] * 100 + ["c"] * 100)
    y = (x[:, 0] > 0).astype(float)
    y[100:200] = 1 - y[100:200]
    oof = grouped_out_of_fold(x, y, groups, np.ones(300, bool), nonnegative=False)
    assert roc_auc(y[100:200], oof[100:200]) == 0.0
    assert roc_auc(y[:100], oof[:100]) == 1.0
