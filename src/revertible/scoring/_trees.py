"""Compiled evaluation of a loaded model's LightGBM trees, bit-identical to LightGBM's predict.

Historical scoring predicts every divergence of a panel (hundreds of thousands of rows) with
the classifier and the return heads. :func:`compiled_trees` returns a copy of the model in which
every fitted LightGBM scikit-learn estimator is replaced by :class:`CompiledTrees`: the same
trees (read from the booster's own model text, so the same doubles LightGBM loaded), walked by
one numba kernel over blocks of rows, summed in LightGBM's order (tree 0 first, from 0.0), and
the same output transform (identity for regression objectives, ``1 / (1 + exp(-sigmoid * s))``
for ``binary``). The model's own code (calibration, the mirrored continuation head, risk
scaling) is untouched: only the tree walk changes.

Rules reproduced from LightGBM's ``Tree::NumericalDecision`` (v4): an input whose magnitude is
at most ``kZeroThreshold`` (``1e-35f``) is a zero (the dense-row reader drops it); a NaN is
``0.0`` unless the node's missing type is NaN; a NaN at a NaN node, or a zero at a Zero node,
goes to the node's default side; otherwise ``x <= threshold`` goes left.

Safety: every call first predicts a spread sample of up to :data:`CHECK_ROWS` rows with
LightGBM itself and compares bit for bit; on any difference (or a model this module does not
cover: categorical splits, linear trees, other objectives, multiclass, predict keyword
arguments) the call is LightGBM's own. A call with the same input as the previous one (the
return model predicts its mirrored head twice) returns the previous result.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

__all__ = ["CompiledTrees", "compiled_trees", "CHECK_ROWS", "ZERO_THRESHOLD"]

#: Rows predicted by LightGBM itself on every call to check the compiled result bit for bit.
CHECK_ROWS = 256

#: LightGBM's kZeroThreshold (a float literal ``1e-35f``), as the double it compares against.
ZERO_THRESHOLD = float(np.float32(1e-35))

#: Objectives whose output is the raw score, and those whose output is a sigmoid of it.
_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}
_SIGMOID = {"binary"}

#: Rows per block of the kernel (a block walks every tree before the next block starts).
_BLOCK = 64


@nb.njit(cache=True, parallel=True, nogil=True)
def _predict_kernel(x, feat, thr, left, right, dflt, miss, root, leaf_val, leaf_off,
                    n_trees, zero, out):  # pragma: no cover - compiled
    """``out[i] = sum over trees k (in order) of the leaf value row ``i`` reaches in tree k``."""
    n = x.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(n_blocks):
        lo = blk * _BLOCK
        hi = min(n, lo + _BLOCK)
        for i in range(lo, hi):
            out[i] = 0.0
        for k in range(n_trees):
            r = root[k]
            lv = leaf_off[k]
            for i in range(lo, hi):
                if r < 0:  # a one-leaf tree
                    out[i] += leaf_val[lv]
                    continue
                node = r
                while True:
                    f = x[i, feat[node]]
                    m = miss[node]
                    if math.isnan(f) and m != 2:
                        f = 0.0
                    if (m == 1 and f >= -zero and f <= zero) or (m == 2 and math.isnan(f)):
                        nxt = left[node] if dflt[node] else right[node]
                    elif f <= thr[node]:
                        nxt = left[node]
                    else:
                        nxt = right[node]
                    if nxt < 0:
                        out[i] += leaf_val[lv + (-nxt - 1)]
                        break
                    node = r + nxt


@nb.njit(cache=True, parallel=True, nogil=True)
def _sigmoid_kernel(raw, sigmoid, out):  # pragma: no cover - compiled
    for i in nb.prange(raw.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-sigmoid * raw[i]))


def _parse(model_text: str, n_trees_used: int | None) -> dict[str, Any] | None:
    """Flat node and leaf arrays of a LightGBM model text; None if this module cannot cover it."""
    head, _, rest = model_text.partition("\nTree=")
    info = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    if info.get("num_tree_per_iteration", "1") != "1" or info.get("num_class", "1") != "1":
        return None
    objective = info.get("objective", "").split()
    if not objective:
        return None
    name, params = objective[0], dict(p.split(":", 1) for p in objective[1:] if ":" in p)
    if name not in _IDENTITY | _SIGMOID:
        return None
    if "average_output" in info:
        return None
    body = rest.split("\nend of trees", 1)[0]
    trees = []
    for chunk in ("Tree=" + body).split("\nTree=")[: n_trees_used or None]:
        kv = dict(line.split("=", 1) for line in chunk.splitlines()[1:] if "=" in line)
        if int(kv.get("num_cat", "0")) != 0 or kv.get("is_linear", "0") != "0":
            return None
        trees.append(kv)
    feat, thr, left, right, dflt, miss, root, leaf_val, leaf_off = ([] for _ in range(9))
    n_nodes = 0
    n_leaves = 0
    for kv in trees:
        nl = int(kv["num_leaves"])
        leaves = [float(v) for v in kv["leaf_value"].split()]
        leaf_off.append(n_leaves)
        leaf_val.extend(leaves)
        n_leaves += len(leaves)
        if nl <= 1:
            root.append(-1)
            continue
        dt = np.array(kv["decision_type"].split(), dtype=np.int64)
        if (dt & 1).any():  # categorical split
            return None
        root.append(n_nodes)
        feat.extend(int(v) for v in kv["split_feature"].split())
        thr.extend(float(v) for v in kv["threshold"].split())
        left.extend(int(v) for v in kv["left_child"].split())
        right.extend(int(v) for v in kv["right_child"].split())
        dflt.extend(((dt >> 1) & 1).astype(bool).tolist())
        miss.extend(((dt >> 2) & 3).tolist())
        n_nodes += nl - 1
    return {
        "objective": name,
        "sigmoid": float(params.get("sigmoid", "1")),
        "n_features": int(info["max_feature_idx"]) + 1,
        "n_trees": len(trees),
        "arrays": (
            np.asarray(feat, np.int64), np.asarray(thr, np.float64),
            np.asarray(left, np.int64), np.asarray(right, np.int64),
            np.asarray(dflt, np.bool_), np.asarray(miss, np.int8),
            np.asarray(root, np.int64), np.asarray(leaf_val, np.float64),
            np.asarray(leaf_off, np.int64),
        ),
    }


class _Inputs:
    """The latest input matrix (one copy shared by every estimator of a model) and its number.

    Consecutive calls with the same matrix (the same bits: same float64 values, same NaNs) get
    the same number, so an estimator asked the same question twice answers from its memo.
    """

    def __init__(self) -> None:
        self.x: np.ndarray | None = None
        self.gen = 0

    def key(self, x: np.ndarray) -> int:
        same = (self.x is not None and self.x.shape == x.shape
                and np.array_equal(self.x.view(np.int64), x.view(np.int64)))
        if not same:
            self.x = x.copy()
            self.gen += 1
        return self.gen


class CompiledTrees:
    """A fitted LightGBM scikit-learn estimator whose ``predict`` / ``predict_proba`` are compiled.

    Everything else (attributes, other methods) is the wrapped estimator's. Results equal the
    estimator's own bit for bit (checked on a sample at every call; module docstring).
    """

    def __init__(self, estimator: Any, inputs: _Inputs | None = None) -> None:
        self.estimator = estimator
        booster = estimator if _is_booster(estimator) else estimator.booster_
        best = int(getattr(booster, "best_iteration", 0) or 0)
        self.spec = _parse(booster.model_to_string(), best if best > 0 else None)
        self.inputs = inputs or _Inputs()
        self.used = 0  # calls answered by the compiled trees
        self.fallbacks = 0  # calls answered by LightGBM (not covered, or a check failed)
        self._memo: tuple[int, np.ndarray] | None = None

    def __getattr__(self, name: str) -> Any:
        if name in ("estimator", "spec", "inputs", "_memo"):  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.estimator, name)

    def _compiled(self, x: np.ndarray) -> np.ndarray:
        spec = self.spec
        assert spec is not None
        raw = np.empty(len(x))
        _predict_kernel(np.ascontiguousarray(x), *spec["arrays"], spec["n_trees"],
                        ZERO_THRESHOLD, raw)
        if spec["objective"] in _SIGMOID:
            out = np.empty(len(raw))
            _sigmoid_kernel(raw, spec["sigmoid"], out)
            return out
        return raw

    def _checked(self, X: Any, reference: Callable[[Any], np.ndarray]) -> np.ndarray | None:
        """The model output of every row of ``X`` from the compiled trees, None: use LightGBM.

        ``reference(rows_of_X)`` is LightGBM's output (one float per row) on the check sample.
        """
        if self.spec is None:
            return None
        try:
            x = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if x.ndim != 2 or len(x) == 0 or x.shape[1] != self.spec["n_features"]:
            return None
        gen = self.inputs.key(x)
        if self._memo is not None and self._memo[0] == gen:
            return self._memo[1].copy()
        out = self._compiled(x)
        rows = np.unique(np.linspace(0, len(x) - 1, min(CHECK_ROWS, len(x))).astype(np.int64))
        sample = X.iloc[rows] if hasattr(X, "iloc") else x[rows]
        ref = np.asarray(reference(sample), dtype=np.float64)
        if ref.shape != (len(rows),) or not np.array_equal(ref, out[rows], equal_nan=True):
            self.spec = None  # LightGBM for every later call of this estimator
            return None
        self._memo = (gen, out.copy())
        return out

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """As the estimator's ``predict(X)`` (with keyword arguments: the estimator's own)."""
        out = None
        if not kwargs and not hasattr(self.estimator, "classes_"):  # a classifier: labels
            out = self._checked(X, self.estimator.predict)
        if out is None:
            self.fallbacks += 1
            return self.estimator.predict(X, **kwargs)
        self.used += 1
        return out

    def predict_proba(self, X: Any, **kwargs: Any) -> np.ndarray:
        """As the estimator's ``predict_proba(X)`` (binary objectives compiled)."""
        p = None
        if not kwargs and self.spec is not None and self.spec["objective"] in _SIGMOID:
            p = self._checked(X, lambda s: _positive(self.estimator.predict_proba(s)))
        if p is None:
            self.fallbacks += 1
            return self.estimator.predict_proba(X, **kwargs)
        self.used += 1
        return np.vstack((1.0 - p, p)).transpose()


def _positive(proba: Any) -> np.ndarray:
    """Second column of a two-column probability array (else an array that fails the check)."""
    a = np.asarray(proba, dtype=np.float64)
    return a[:, 1] if a.ndim == 2 and a.shape[1] == 2 else np.full(1, np.nan)


def _is_booster(obj: Any) -> bool:
    """A bare ``lightgbm.Booster`` (what this version's estimators hold in ``booster_``)."""
    from lightgbm import Booster

    return isinstance(obj, Booster)


def _is_lgbm(obj: Any) -> bool:
    """A fitted LightGBM sklearn estimator (older pickles) or a bare booster (this version).

    A booster's ``predict`` is the model output (the probability for binary objectives), which
    is what :meth:`CompiledTrees.predict` computes.
    """
    from lightgbm import LGBMModel

    return _is_booster(obj) or (isinstance(obj, LGBMModel) and getattr(obj, "fitted_", False))


def compiled_trees(model: Any) -> Any:
    """A copy of ``model`` whose fitted LightGBM estimators are :class:`CompiledTrees`.

    Walks the attributes of ``revertible`` objects (and the dicts, lists and tuples they hold);
    each such object on the way is shallow-copied, so ``model`` itself is unchanged. Returns
    ``model`` itself when it holds no LightGBM estimator.
    """
    memo: dict[int, Any] = {}
    inputs = _Inputs()
    found = [0]

    def walk(obj: Any, depth: int) -> Any:
        if id(obj) in memo:
            return memo[id(obj)]
        if depth > 8:
            return obj
        if _is_lgbm(obj):
            found[0] += 1
            new: Any = CompiledTrees(obj, inputs)
        elif isinstance(obj, dict) and type(obj) is dict:
            new = {k: walk(v, depth + 1) for k, v in obj.items()}
        elif isinstance(obj, list) and type(obj) is list:
            new = [walk(v, depth + 1) for v in obj]
        elif isinstance(obj, tuple) and type(obj) is tuple:
            new = tuple(walk(v, depth + 1) for v in obj)
        elif type(obj).__module__.startswith("revertible.") and hasattr(obj, "__dict__"):
            new = copy.copy(obj)
            memo[id(obj)] = new
            for k, v in vars(obj).items():
                new.__dict__[k] = walk(v, depth + 1)
        else:
            new = obj
        memo[id(obj)] = new
        return new

    out = walk(model, 0)
    return out if found[0] else model
