"""Known-answer and property tests for dflab.eval.metrics (labels: 1 = fake)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dflab.eval import metrics as m

# The classic four-sample example (also in scikit-learn's documentation).
Y4 = np.array([0, 0, 1, 1])
S4 = np.array([0.1, 0.4, 0.35, 0.8])


def test_roc_curve_known_answer():
    fpr, tpr, thr = m.roc_curve(Y4, S4)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert thr[0] == np.inf
    np.testing.assert_allclose(thr[1:], [0.8, 0.4, 0.35, 0.1])


def test_classic_example_auc_ap_eer():
    assert m.roc_auc(Y4, S4) == pytest.approx(0.75)
    assert m.average_precision(Y4, S4) == pytest.approx(5 / 6)  # 0.5*1 + 0*0.5 + 0.5*(2/3)
    rate, threshold = m.eer(Y4, S4)
    assert rate == pytest.approx(0.5)  # at t=0.4: one of two reals above, one of two fakes below
    assert threshold == pytest.approx(0.4)


def test_ties_form_one_roc_point_and_count_half():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.2, 0.6, 0.6, 0.9])
    fpr, tpr, thr = m.roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])  # the tied pair moves both rates at once
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    # pairs (fake, real): (.6,.2)=1 (.6,.6)=.5 (.9,.2)=1 (.9,.6)=1 -> 3.5 / 4
    assert m.roc_auc(y, s) == pytest.approx(0.875)
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.875)
    assert m.average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_all_scores_tied_is_chance():
    y = np.array([0, 1, 0, 1])
    s = np.full(4, 0.5)
    assert m.roc_auc(y, s) == 0.5
    fpr, tpr, _ = m.roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 1])
    np.testing.assert_allclose(tpr, [0, 1])
    assert m.average_precision(y, s) == pytest.approx(0.5)
    assert m.eer(y, s)[0] == pytest.approx(0.5)


def test_eer_interpolates_between_roc_points():
    # reals .1 .6, fakes .3 .7 .9. ROC points (fpr, fnr): t=.7 -> (0, 1/3), t=.6 -> (.5, 1/3).
    # FNR - FPR goes 1/3 -> -1/6, crossing 2/3 of the way: EER = 2/3 * .5 = 1/3 at t = .7 - 2/3 * .1.
    y = np.array([0, 0, 1, 1, 1])
    s = np.array([0.1, 0.6, 0.3, 0.7, 0.9])
    rate, threshold = m.eer(y, s)
    assert rate == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.7 - 0.2 / 3)


def test_perfect_and_inverted_separation():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert m.roc_auc(y, s) == 1.0
    assert m.average_precision(y, s) == 1.0
    assert m.eer(y, s) == (0.0, pytest.approx(0.8))
    assert m.roc_auc(y, 1 - s) == 0.0
    assert m.eer(y, 1 - s)[0] == 1.0


def test_accuracy_at_threshold_counts_equal_as_fake():
    assert m.accuracy_at(Y4, S4, 0.5) == 0.75  # predictions 0 0 0 1
    assert m.accuracy_at(Y4, S4, 0.4) == 0.5  # 0.4 >= 0.4 is "fake": 0 1 0 1
    assert m.accuracy_at([0, 0], [0.1, 0.7], 0.5) == 0.5  # one class is fine for accuracy


def test_ece_known_answer_and_edges():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.05, 0.15, 0.95, 0.85])  # four bins with one row each: gaps .05 .85 .05 .85
    assert m.expected_calibration_error(y, s) == pytest.approx(0.45)
    # weighting by bin count: bin 0 holds 3 rows (all real, mean .1 -> gap .1), bin 9 one fake at 1.0 (gap 0)
    y2 = np.array([0, 0, 0, 1])
    s2 = np.array([0.05, 0.1, 0.15, 1.0])
    assert m.expected_calibration_error(y2, s2, n_bins=5) == pytest.approx(3 / 4 * 0.1)
    curve = m.reliability_curve(y2, s2, n_bins=5)
    np.testing.assert_array_equal(curve.counts, [3, 0, 0, 0, 1])
    np.testing.assert_allclose(curve.centers, [0.1, 0.3, 0.5, 0.7, 0.9])
    assert curve.mean_predicted[0] == pytest.approx(0.1)
    assert curve.fraction_positive[4] == 1.0
    assert math.isnan(curve.mean_predicted[2]) and math.isnan(curve.fraction_positive[2])


@pytest.mark.parametrize("y, s", [([], []), ([1, 1, 1], [0.2, 0.5, 0.9]), ([0, 0], [0.3, 0.4])])
def test_degenerate_inputs_give_nan(y, s):
    assert math.isnan(m.roc_auc(y, s))
    assert math.isnan(m.average_precision(y, s))
    rate, threshold = m.eer(y, s)
    assert math.isnan(rate) and math.isnan(threshold)
    lo, hi = m.bootstrap_auc_ci(y, s)
    assert math.isnan(lo) and math.isnan(hi)
    fpr, tpr, _ = m.roc_curve(y, s)
    assert len(fpr) == len(tpr)
    if y:
        assert np.isnan(fpr).all() or np.isnan(tpr).all()
        assert not math.isnan(m.accuracy_at(y, s, 0.5))
        assert not math.isnan(m.expected_calibration_error(y, s))
    else:
        assert math.isnan(m.accuracy_at(y, s, 0.5))
        assert math.isnan(m.expected_calibration_error(y, s))


@pytest.mark.parametrize(
    "y, s",
    [([0, 2], [0.1, 0.2]), ([0, 1], [0.1]), ([0, 1], [0.1, float("nan")]), ([[0, 1]], [[0.1, 0.2]])],
)
def test_bad_inputs_raise_value_error(y, s):
    with pytest.raises(ValueError):
        m.roc_auc(y, s)


def test_calibration_rejects_scores_outside_unit_interval():
    with pytest.raises(ValueError):
        m.expected_calibration_error([0, 1], [0.2, 1.5])


def test_bootstrap_ci_is_seeded_and_brackets_the_auc():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(40, int), np.ones(40, int)]
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0, 1)
    auc = m.roc_auc(y, s)
    lo, hi = m.bootstrap_auc_ci(y, s, n_boot=500, seed=7)
    assert (lo, hi) == m.bootstrap_auc_ci(y, s, n_boot=500, seed=7)
    assert lo < auc < hi
    assert 0.05 < hi - lo < 0.4  # 80 samples: a real interval, neither a point nor everything
    assert m.bootstrap_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (1.0, 1.0)


# --- properties ---------------------------------------------------------------------------------------

# scores on a coarse grid so ties happen often, and monotone transforms keep distinct values distinct
labelled = st.integers(min_value=2, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 20), min_size=n, max_size=n),
    )
)


def _arrays(data):
    y, k = data
    return np.array(y), np.array(k) / 20.0


@settings(max_examples=150, deadline=None)
@given(labelled)
def test_auc_antisymmetry_and_pairwise_definition(data):
    y, s = _arrays(data)
    auc = m.roc_auc(y, s)
    if 0 < y.sum() < y.size:
        assert auc == pytest.approx(1 - m.roc_auc(y, -s))
        pos, neg = s[y == 1][:, None], s[y == 0][None, :]
        assert auc == pytest.approx(np.mean((pos > neg) + 0.5 * (pos == neg)))
        fpr, tpr, _ = m.roc_curve(y, s)
        assert auc == pytest.approx(np.trapezoid(tpr, fpr))
    else:
        assert math.isnan(auc)


@settings(max_examples=150, deadline=None)
@given(labelled)
def test_invariance_under_monotone_transforms_and_row_order(data):
    y, s = _arrays(data)
    t = 3 * s**3 + s - 7  # strictly increasing
    perm = np.random.default_rng(0).permutation(y.size)
    for fn in (m.roc_auc, m.average_precision):
        a = fn(y, s)
        for b in (fn(y, t), fn(y[perm], s[perm])):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)
    e1, e2 = m.eer(y, s)[0], m.eer(y, t)[0]
    assert (math.isnan(e1) and math.isnan(e2)) or e1 == pytest.approx(e2)


@settings(max_examples=150, deadline=None)
@given(labelled)
def test_ranges(data):
    y, s = _arrays(data)
    if 0 < y.sum() < y.size:
        assert 0 <= m.average_precision(y, s) <= 1
        rate, threshold = m.eer(y, s)
        assert 0 <= rate <= 1 and s.min() <= threshold <= s.max()
        fpr, tpr, _ = m.roc_curve(y, s)
        assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
        assert fpr[-1] == tpr[-1] == 1
    assert 0 <= m.expected_calibration_error(y, s) <= 1
    assert 0 <= m.accuracy_at(y, s, 0.5) <= 1


@settings(max_examples=60, deadline=None)
@given(labelled)
def test_matches_scikit_learn_when_installed(data):
    sk = pytest.importorskip("sklearn.metrics")
    y, s = _arrays(data)
    if not 0 < y.sum() < y.size:
        return
    assert m.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s))
    assert m.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s))
    fpr, tpr, _ = m.roc_curve(y, s)
    sk_fpr, sk_tpr, _ = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)


def test_ece_small_for_calibrated_and_large_for_overconfident_scores():
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    y = (rng.random(p.size) < p).astype(int)  # the label is fake with exactly probability p
    assert m.expected_calibration_error(y, p) < 0.02
    overconfident = np.where(p >= 0.5, 1.0, 0.0)
    assert m.expected_calibration_error(y, overconfident) > 0.2
