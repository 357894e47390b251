"""LightGBM fits: the booster path equals the sklearn estimator, and shared bins are exact."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from revertible.model import BinnedFeatures, ReversionClassifier

PARAMS = {"n_estimators": 40, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 20,
          "colsample_bytree": 0.8, "subsample": 0.8, "subsample_freq": 1, "reg_lambda": 1.0,
          "random_state": 3, "deterministic": True, "force_row_wise": True, "n_jobs": 1,
          "verbose": -1}  # fmt: skip


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f{i}" for i in range(5)])
    X.iloc[rng.integers(0, n, 200), 2] = np.nan  # missing values are binned too
    logit = 0.8 * X["f0"].to_numpy() - 0.5 * np.nan_to_num(X["f2"].to_numpy())
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    r = 0.01 * X["f1"].to_numpy() + rng.normal(0, 0.02, n)
    return X, y, r


def test_classifier_equals_the_sklearn_estimator(data):
    """The booster path trains the very model LGBMClassifier trained (older versions)."""
    X, y, _ = data
    ours = ReversionClassifier(PARAMS).fit(X, y).predict_proba(X)[:, 1]
    ref = lgb.LGBMClassifier(**PARAMS).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_all_rows_of_shared_bins_equal_a_fit_on_the_frame(data):
    X, y, r = data
    binned = BinnedFeatures(X, PARAMS)
    a = ReversionClassifier(PARAMS).fit(binned.take(), y).predict_proba(X)[:, 1]
    b = ReversionClassifier(PARAMS).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # the same bins carry another label next, and the classifier again after it
    y2 = (r > 0).astype(int)
    ra = ReversionClassifier(PARAMS).fit(binned.take(), y2).predict_proba(X)[:, 1]
    rb = ReversionClassifier(PARAMS).fit(X, y2).predict_proba(X)[:, 1]
    np.testing.assert_allclose(ra, rb, rtol=0, atol=1e-12)
    again = ReversionClassifier(PARAMS).fit(binned.take(), y).predict_proba(X)[:, 1]
    np.testing.assert_array_equal(a, again)


def test_a_subset_of_shared_bins_learns_only_its_rows(data):
    """A fold fit on the shared bins uses its rows' labels only, and learns the signal."""
    X, y, _ = data
    binned = BinnedFeatures(X, PARAMS)
    rows = np.arange(2000)
    p = ReversionClassifier(PARAMS).fit(binned.take(rows), y[rows]).predict_proba(X)[:, 1]
    own = ReversionClassifier(PARAMS).fit(X.iloc[rows], y[rows]).predict_proba(X)[:, 1]
    # bins from all rows vs from the fold's rows: close, not identical
    assert np.corrcoef(p, own)[0, 1] > 0.95
    # labels of rows outside the subset do not matter
    y2 = y.copy()
    y2[2000:] = 1 - y2[2000:]
    p2 = ReversionClassifier(PARAMS).fit(binned.take(rows), y2[rows]).predict_proba(X)[:, 1]
    np.testing.assert_array_equal(p, p2)
    test = slice(2000, None)
    auc = _auc(y[test], p[test])
    assert auc > 0.65, auc


def test_early_stopping_on_shared_bins(data):
    X, y, _ = data
    binned = BinnedFeatures(X, PARAMS)
    a = ReversionClassifier({**PARAMS, "n_estimators": 300}, early_stopping_rounds=10)
    a.fit(binned.take(), y)
    b = ReversionClassifier({**PARAMS, "n_estimators": 300}, early_stopping_rounds=10).fit(X, y)
    assert 1 <= a.n_estimators_ < 300 and a.best_iteration_ == a.n_estimators_
    assert abs(a.n_estimators_ - b.n_estimators_) <= 10


def test_mismatched_bin_parameters_are_refused(data):
    X, y, _ = data
    binned = BinnedFeatures(X, PARAMS)
    with pytest.raises(ValueError, match="dataset parameters"):
        ReversionClassifier({**PARAMS, "min_child_samples": 5}).fit(binned.take(), y)
    with pytest.raises(IndexError):
        binned.take(np.array([0, len(X)]))


def test_models_pickled_by_older_versions_still_predict(data):
    """Older pickles hold an sklearn LGBMClassifier in ``booster_``."""
    X, y, _ = data
    clf = ReversionClassifier(PARAMS)
    clf.classes_, clf.feature_names_in_ = np.array([0, 1]), np.asarray(X.columns, dtype=object)
    clf.booster_ = lgb.LGBMClassifier(**PARAMS).fit(X, y)
    clf = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1],
                               clf.booster_.predict_proba(X)[:, 1])  # fmt: skip
    assert clf.feature_importance().index[0] == "f0"


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def test_kept_train_score_is_the_predict_of_the_training_rows(data):
    """The in-sample IC reads the score the fit kept: LightGBM's predict of its rows, exactly."""
    X, y, _ = data
    for rows in (BinnedFeatures(X, PARAMS).take(), X):
        clf = ReversionClassifier(PARAMS).fit(rows, y, keep_train_score=True)
        assert clf.train_score_.shape == (len(X),)
        np.testing.assert_array_equal(clf.train_score_, clf.booster_.predict(X))
        plain = ReversionClassifier(PARAMS).fit(rows, y)  # the same model either way
        assert not hasattr(plain, "train_score_")
        assert plain.booster_.model_to_string() == clf.booster_.model_to_string()
