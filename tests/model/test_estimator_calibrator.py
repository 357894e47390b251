"""The probability calibrator: isotonic blocks smoothed towards the base rate, never 0 or 1."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from revertible.model._estimator import ISOTONIC_PRIOR, Calibrator


def test_a_small_block_of_reversions_at_the_top_is_not_a_certainty():
    # 200 scores: the 5 highest all reverted, the 195 below revert 1 in 5 (the 195th did not)
    s = np.arange(200.0)
    y = np.r_[(np.arange(195) % 5 == 1).astype(int), np.ones(5, int)]
    plain = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    assert plain.predict([1000.0])[0] == 1.0  # unsmoothed: a certainty beyond the record
    cal = Calibrator().fit(s, y)
    base, top = y.mean(), cal.transform(np.array([199.0, 1000.0]))
    k_top = int(round(plain.predict([199.0])[0] * 5))  # the top block: 5 labels, all 1
    assert k_top == 5
    # (k + m * base) / (n + m) for the top block, kept above every lower block (monotone)
    assert top == pytest.approx([(5 + ISOTONIC_PRIOR * base) / (5 + ISOTONIC_PRIOR)] * 2)
    assert top[0] < 0.95
    grid = cal.transform(np.linspace(-10.0, 210.0, 500))
    assert (np.diff(grid) >= 0).all() and grid.min() > 0.0 and grid.max() < 1.0


def test_large_blocks_barely_move_and_the_fit_is_calibrated_in_sample():
    rng = np.random.default_rng(2)
    s = rng.uniform(size=20_000)
    y = (rng.uniform(size=20_000) < 0.2 + 0.5 * s).astype(int)
    cal = Calibrator().fit(s, y)
    plain = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    grid = np.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(cal.transform(grid), plain.predict(grid), atol=0.01)
    # smoothing keeps the mean: every block's pseudo-labels are at the overall base rate
    assert cal.transform(s).mean() == pytest.approx(y.mean(), abs=2e-3)


def test_a_calibrator_pickled_before_the_smoothing_still_predicts_as_it_did():
    rng = np.random.default_rng(3)
    s = rng.uniform(size=300)
    y = (rng.uniform(size=300) < s).astype(int)
    old = Calibrator().fit(s, y)
    del old.x_, old.y_  # what a model registered by an earlier version holds
    old = pickle.loads(pickle.dumps(old))
    expected = np.clip(old.model_.predict(s), 1e-6, 1 - 1e-6)
    np.testing.assert_array_equal(old.transform(s), expected)


def test_scores_sklearn_merges_are_counted_in_their_own_block():
    # two scores 1e-17 apart are one point to sklearn: its fitted values are the block levels
    cal = Calibrator().fit(np.array([1e-3, 1e-3 + 1e-17, 2e-3, 2e-3]), np.array([0, 0, 1, 1]))
    base = 0.5
    expected = [(0 + ISOTONIC_PRIOR * base) / (2 + ISOTONIC_PRIOR),
                (2 + ISOTONIC_PRIOR * base) / (2 + ISOTONIC_PRIOR)]
    assert cal.transform(np.array([0.0, 1.0])) == pytest.approx(expected)
    # one constant score: a single block at the base rate
    flat = Calibrator().fit(np.ones(10), np.r_[np.ones(3), np.zeros(7)].astype(int))
    assert flat.transform(np.array([0.0, 1.0, 2.0])) == pytest.approx([0.3] * 3)
