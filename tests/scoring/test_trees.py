"""Compiled LightGBM trees (scoring/_trees.py): bit-identical to LightGBM, or LightGBM itself."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from revertible.scoring import CompiledTrees, compiled_trees
from revertible.scoring._trees import ZERO_THRESHOLD

PARAMS = {"n_estimators": 60, "num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 5,
          "verbose": -1, "n_jobs": 1, "random_state": 3, "deterministic": True}  # fmt: skip


def _data(rng: np.random.Generator, n: int, train: bool = True) -> pd.DataFrame:
    """Features with NaNs, exact zeros, values below LightGBM's zero threshold, infinities.

    In training data column ``f4`` has no NaN (its nodes get no NaN rule; NaNs at prediction
    are then zeros).
    """
    x = rng.normal(size=(n, 6))
    nan = rng.random((n, 6)) < 0.15
    if train:
        nan[:, 4] = False
    x[nan] = np.nan
    x[rng.random((n, 6)) < 0.10] = 0.0
    x[rng.random((n, 6)) < 0.03] = ZERO_THRESHOLD * rng.uniform(-1, 1, (n, 6))[0, 0]
    x[rng.random((n, 6)) < 0.01] = np.inf
    x[:, 5] = np.round(x[:, 5])  # a few distinct values: thresholds at midpoints
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])


def _target(X: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    v = X.fillna(0.0).replace(np.inf, 3.0).to_numpy()
    return v[:, 0] - 0.5 * v[:, 1] * v[:, 2] + np.isnan(X["f3"]).to_numpy() + rng.normal(
        scale=0.3, size=len(X))


@pytest.mark.parametrize("extra", [{}, {"zero_as_missing": True}, {"use_missing": False}])
def test_compiled_regressor_and_classifier_equal_lightgbm_bit_for_bit(rng, extra):
    X = _data(rng, 4000)
    y = _target(X, rng)
    reg = lgb.LGBMRegressor(**PARAMS, **extra).fit(X, y)
    clf = lgb.LGBMClassifier(**PARAMS, **extra).fit(X, (y > np.median(y)).astype(int))
    # the missing-value rules under test occur in the fitted trees
    kinds = {int(d) >> 2 & 3 for line in reg.booster_.model_to_string().splitlines()
             if line.startswith("decision_type=") for d in line.split("=")[1].split()}
    assert kinds == ({1} if extra.get("zero_as_missing") else {0} if extra else {0, 2})
    Xt = _data(rng, 3000, train=False)
    fast_reg, fast_clf = CompiledTrees(reg), CompiledTrees(clf)
    np.testing.assert_array_equal(fast_reg.predict(Xt), reg.predict(Xt))
    np.testing.assert_array_equal(fast_clf.predict_proba(Xt), clf.predict_proba(Xt))
    assert fast_reg.used == fast_clf.used == 1 and fast_reg.fallbacks == fast_clf.fallbacks == 0
    # class labels, and predict keyword arguments, are LightGBM's own
    np.testing.assert_array_equal(fast_clf.predict(Xt), clf.predict(Xt))
    np.testing.assert_array_equal(fast_reg.predict(Xt, raw_score=True),
                                  reg.predict(Xt, raw_score=True))
    assert fast_clf.fallbacks == 1 and fast_reg.fallbacks == 1


def test_booster_with_a_best_iteration_uses_only_those_trees(rng):
    X = _data(rng, 3000)
    reg = lgb.LGBMRegressor(**PARAMS).fit(X, _target(X, rng))
    reg.booster_.best_iteration = 23  # as an early-stopped booster kept for training has
    assert reg.booster_.num_trees() == PARAMS["n_estimators"]
    fast = CompiledTrees(reg)
    np.testing.assert_array_equal(fast.predict(X), reg.predict(X))
    assert fast.used == 1 and fast.spec["n_trees"] == 23
    assert not np.array_equal(reg.predict(X), reg.predict(X, num_iteration=-1))


def test_a_compiled_result_that_differs_falls_back_to_lightgbm(rng):
    X = _data(rng, 2000)
    reg = lgb.LGBMRegressor(**PARAMS).fit(X, _target(X, rng))
    fast = CompiledTrees(reg)
    fast.spec["arrays"][7][:] += 1.0  # corrupt the leaf values: every row is wrong
    np.testing.assert_array_equal(fast.predict(X), reg.predict(X))
    assert fast.used == 0 and fast.fallbacks == 1 and fast.spec is None


def test_same_input_twice_is_answered_from_the_memo(rng, monkeypatch):
    X = _data(rng, 2000)
    reg = lgb.LGBMRegressor(**PARAMS).fit(X, _target(X, rng))
    fast = CompiledTrees(reg)
    first = fast.predict(X)
    calls = []
    compiled = fast._compiled
    monkeypatch.setattr(fast, "_compiled", lambda x: calls.append(1) or compiled(x))
    np.testing.assert_array_equal(fast.predict(X.copy()), first)
    assert calls == []
    changed = X.copy()
    changed.iloc[0, 0] = 123.0
    np.testing.assert_array_equal(fast.predict(changed), reg.predict(changed))
    assert calls == [1]  # a different input is computed again


class _Holder:
    """Stands in for a revertible model: estimators inside objects, dicts and tuples."""

    __module__ = "revertible.tests_stub"

    def __init__(self, a, b):
        self.head = a
        self.heads = {"x": (a, b)}

    def predict(self, X):
        return self.head.predict(X) + self.heads["x"][1].predict(X)


def test_compiled_trees_copies_the_model_and_leaves_it_unchanged(rng):
    X = _data(rng, 2000)
    y = _target(X, rng)
    a = lgb.LGBMRegressor(**PARAMS).fit(X, y)
    b = lgb.LGBMRegressor(**{**PARAMS, "random_state": 9, "subsample": 0.7,
                             "subsample_freq": 1}).fit(X, y)  # fmt: skip
    model = _Holder(a, b)
    fast = compiled_trees(model)
    assert fast is not model and model.head is a and model.heads["x"] == (a, b)
    assert isinstance(fast.head, CompiledTrees) and fast.heads["x"][0] is fast.head
    np.testing.assert_array_equal(fast.predict(X), model.predict(X))
    assert compiled_trees(object()) is not None  # nothing to compile: returned as is
    plain = object()
    assert compiled_trees(plain) is plain
