"""The classifier: LightGBM behind the scikit-learn estimator contract, plus calibration.

* :class:`ReversionClassifier`: ``__init__`` only stores parameters, ``fit`` returns ``self``,
  learned state ends in ``_``. Optional early stopping uses the last ``valid_frac`` of the training
  rows *in time order* as the validation set (never a shuffled split).
* :class:`Calibrator`: isotonic or sigmoid (Platt, on the logit of the raw score) map from raw
  scores to probabilities; fitted on out-of-fold predictions only.
* :class:`CalibratedReversionModel`: classifier + calibrator + feature list + the return
  calibrator (:class:`revertible.model.ReturnCalibrator`): what is logged to MLflow and scores
  new divergences. Scoring checks the input columns against the feature list.
* :class:`BinnedFeatures`: a feature table binned once for LightGBM. Several fits on the same
  rows or on row subsets (calibration folds and the final classifier of one walk-forward
  block) then reuse the bins (``lgb.Dataset.subset``) instead of binning the table
  again for each fit: binning 300k rows x 50 features costs about 1.5 s, a subset about 0.1 s.
  A fit on all the rows of a :class:`BinnedFeatures` is the same model as a fit on the frame.

Every fit goes through :func:`train_booster` (``lgb.train`` on the sklearn-style parameters of
:func:`lgbm_params`); fitted estimators hold a ``lightgbm.Booster``.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ..config import ModelConfig
from ..errors import ModelError

__all__ = ["ReversionClassifier", "Calibrator", "CalibratedReversionModel", "lgbm_params",
           "BinnedFeatures", "BinnedRows", "train_booster", "booster_predict"]

_EPS = 1e-6


def lgbm_params(mc: ModelConfig, seed: int) -> dict[str, Any]:
    """LightGBM parameters from the model config (deterministic, single-process friendly)."""
    return {
        "n_estimators": mc.n_estimators,
        "learning_rate": mc.learning_rate,
        "num_leaves": mc.num_leaves,
        "max_depth": mc.max_depth,
        "min_child_samples": mc.min_child_samples,
        "colsample_bytree": mc.feature_fraction,
        "subsample": mc.bagging_fraction,
        "subsample_freq": mc.bagging_freq,
        "reg_alpha": mc.lambda_l1,
        "reg_lambda": mc.lambda_l2,
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,
        "n_jobs": mc.n_jobs,
        "verbose": -1,
    }


#: Parameters that shape the binned dataset; fits sharing a :class:`BinnedFeatures` must agree.
_DATASET_KEYS = ("max_bin", "min_child_samples", "min_data_in_bin", "verbose")


def _dataset_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in _DATASET_KEYS if k in params}


class BinnedFeatures:
    """A feature table binned once for LightGBM; fits on its rows reuse the bins.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature columns, rows in time order.
    params : dict
        The fits' parameters (:func:`lgbm_params`); the ones that shape the bins
        (``max_bin``, ``min_child_samples``, ...) must be those of every fit that uses it.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"f": np.arange(300.0)})
    >>> b = BinnedFeatures(X, {"verbose": -1})
    >>> rows = b.take(np.arange(100))
    >>> len(rows), rows.columns
    (100, ['f'])
    """

    def __init__(self, X: pd.DataFrame, params: dict[str, Any]):
        self.columns = [str(c) for c in X.columns]
        self.n_rows = len(X)
        self.params = _dataset_params(params)
        self._data = lgb.Dataset(X, label=np.zeros(len(X)), params=dict(self.params),
                                 free_raw_data=True).construct()  # fmt: skip

    def take(self, rows: np.ndarray | None = None) -> BinnedRows:
        """The rows ``rows`` (positions, increasing; None: all) as a fit input."""
        idx = np.arange(self.n_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_rows):
            raise IndexError(f"rows must lie in [0, {self.n_rows}), got [{idx.min()}, {idx.max()}]")
        return BinnedRows(self, idx)


class BinnedRows:
    """Rows of a :class:`BinnedFeatures`: what :func:`train_booster` takes in place of a frame."""

    def __init__(self, binned: BinnedFeatures, rows: np.ndarray):
        self.binned = binned
        self.rows = rows
        self.columns = binned.columns

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, positions: np.ndarray) -> BinnedRows:
        """The rows at ``positions`` (0-based, increasing) of these rows."""
        return BinnedRows(self.binned, self.rows[np.asarray(positions, dtype=np.int64)])

    def head(self, n: int) -> BinnedRows:
        """The first ``n`` rows."""
        return BinnedRows(self.binned, self.rows[:n])

    def tail(self, n: int) -> BinnedRows:
        """The last ``n`` rows."""
        return BinnedRows(self.binned, self.rows[len(self.rows) - n:])

    def dataset(self, y: np.ndarray, params: dict[str, Any]) -> lgb.Dataset:
        """A LightGBM dataset of these rows with label ``y``, on the shared bins."""
        got = _dataset_params(params)
        if got != self.binned.params:
            raise ValueError(f"the fit's dataset parameters {got} differ from the binned "
                             f"features' {self.binned.params}; bin with the fit's parameters")
        d = self.binned._data.subset(self.rows.astype(np.int32)).construct()
        d.set_label(np.asarray(y, dtype=float))
        return d


def _as_dataset(X: pd.DataFrame | BinnedRows, y: np.ndarray, params: dict[str, Any]
                ) -> lgb.Dataset:  # fmt: skip
    if isinstance(X, BinnedRows):
        return X.dataset(y, params)
    return lgb.Dataset(X, label=np.asarray(y, dtype=float), params=_dataset_params(params),
                       free_raw_data=True)  # fmt: skip


def _head(X: pd.DataFrame | BinnedRows, n: int) -> pd.DataFrame | BinnedRows:
    return X.head(n) if isinstance(X, BinnedRows) else X.iloc[:n]


def _tail(X: pd.DataFrame | BinnedRows, n: int) -> pd.DataFrame | BinnedRows:
    return X.tail(n) if isinstance(X, BinnedRows) else X.iloc[len(X) - n:]


def train_booster(
    params: dict[str, Any], X: pd.DataFrame | BinnedRows, y: np.ndarray, objective: str,
    early_stopping_rounds: int = 0, valid_frac: float = 0.15, *, train_score: bool = False,
    init_model: lgb.Booster | None = None,
) -> tuple[lgb.Booster, int] | tuple[lgb.Booster, int, np.ndarray]:
    """Fit a LightGBM booster; return it and its number of trees.

    ``params`` are :func:`lgbm_params` (sklearn names, which LightGBM takes as aliases);
    ``X`` a frame or :class:`BinnedRows` in time order. With ``early_stopping_rounds > 0`` (and
    at least 200 rows) the last ``valid_frac`` of the rows are the validation set of a first
    fit, and the final fit on all rows uses its best number of trees. With ``train_score``
    also the final fit's own output on its training rows (the score LightGBM kept while
    boosting, transformed by the objective: what ``predict`` gives on those rows, without
    predicting them again). ``init_model``: continue that booster (its trees first, then
    ``n_estimators`` new ones fitted on these rows, binned from them; ``X`` must be a frame, no
    early stopping); the returned count is the new trees'.
    """
    p = {k: v for k, v in params.items() if k != "n_estimators"}
    p["objective"] = objective
    n_trees = int(params.get("n_estimators", 100))
    y = np.asarray(y, dtype=float)
    if init_model is not None:
        if isinstance(X, BinnedRows):
            raise ValueError("a warm start predicts its initial scores from the raw rows: "
                             "pass a frame")
        data = lgb.Dataset(X, label=y, params=_dataset_params(params), free_raw_data=False)
        booster = lgb.train(p, data, num_boost_round=n_trees, init_model=init_model,
                            keep_training_booster=train_score)
        if not train_score:
            return booster, n_trees
        return _with_train_score(booster, n_trees)
    if early_stopping_rounds > 0 and len(y) >= 200:
        n_val = max(50, int(len(y) * valid_frac))
        dt = _as_dataset(_head(X, len(y) - n_val), y[:-n_val], params)
        if isinstance(X, BinnedRows):
            dv = _as_dataset(_tail(X, n_val), y[-n_val:], params)
        else:  # the validation rows binned like the training rows
            dv = lgb.Dataset(_tail(X, n_val), label=y[-n_val:], reference=dt,
                             params=_dataset_params(params))  # fmt: skip
        first = lgb.train(p, dt, num_boost_round=n_trees, valid_sets=[dv],
                          callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)])
        n_trees = max(1, int(first.best_iteration or n_trees))
    if not train_score:
        booster = lgb.train(p, _as_dataset(X, y, params), num_boost_round=n_trees)
        return booster, n_trees
    booster = lgb.train(p, _as_dataset(X, y, params), num_boost_round=n_trees,
                        keep_training_booster=True)
    return _with_train_score(booster, n_trees)


def _with_train_score(booster: lgb.Booster, n_trees: int) -> tuple[lgb.Booster, int, np.ndarray]:
    """A training booster's kept output on its rows; then reloaded as ``lgb.train`` does."""
    kept: list[np.ndarray] = []
    booster.eval_train(lambda pred, _d: (kept.append(np.array(pred, float)), ("", 0.0, True))[1])
    booster.model_from_string(booster.model_to_string()).free_dataset()
    return booster, n_trees, kept[0]


def booster_predict(booster: Any, X: pd.DataFrame, columns: Any, proba: bool = False
                    ) -> np.ndarray:  # fmt: skip
    """Predictions of a fitted booster on ``X[columns]``.

    ``booster`` is a ``lightgbm.Booster`` (this version) or an sklearn ``LGBMModel`` (models
    pickled by earlier versions). With ``proba`` the result is the positive-class probability.
    """
    data = X[list(columns)]
    if isinstance(booster, lgb.LGBMModel):
        return booster.predict_proba(data)[:, 1] if proba else booster.predict(data)
    return booster.predict(data)


class ReversionClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM binary classifier with time-ordered early stopping.

    Parameters
    ----------
    params : dict
        LightGBM parameters, sklearn names (see :func:`lgbm_params`).
    early_stopping_rounds : int
        0 disables early stopping; otherwise stop when the validation log loss has not improved
        for this many rounds.
    valid_frac : float
        Share of the last training rows (in the given, time-sorted order) used for early stopping.
    """

    def __init__(self, params: dict | None = None, early_stopping_rounds: int = 0,
                 valid_frac: float = 0.15):
        self.params = params
        self.early_stopping_rounds = early_stopping_rounds
        self.valid_frac = valid_frac

    def fit(self, X: pd.DataFrame | BinnedRows, y: np.ndarray, *, keep_train_score: bool = False,
            init_model: Any = None) -> ReversionClassifier:  # fmt: skip
        """Fit on rows sorted by time (the caller's order is taken as time order).

        ``X`` is a frame or :class:`BinnedRows` (bins shared with other fits).
        ``keep_train_score``: keep the raw probability of every training row in
        ``train_score_`` (:func:`train_booster`; the in-sample score without a predict).
        ``init_model``: a booster to continue (warm start, :func:`train_booster`).
        """
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        if len(np.unique(y)) < 2:
            raise ModelError("training labels are all one class; widen the data or the dates")
        out = train_booster(dict(self.params or {}), X, y, "binary", self.early_stopping_rounds,
                            self.valid_frac, train_score=keep_train_score,
                            init_model=init_model)
        self.booster_, self.n_estimators_ = out[0], out[1]
        if keep_train_score:
            self.train_score_ = out[2]
        if self.early_stopping_rounds > 0:
            self.best_iteration_ = self.n_estimators_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) class probabilities, shape (n, 2)."""
        p1 = booster_predict(self.booster_, X, self.feature_names_in_, proba=True)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class with the higher raw probability."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Importance per feature (``gain`` or ``split``), sorted descending."""
        b = self.booster_
        b = b.booster_ if isinstance(b, lgb.LGBMModel) else b
        imp = b.feature_importance(importance_type=kind)
        return pd.Series(imp, index=self.feature_names_in_).sort_values(ascending=False)


#: Pseudo-labels at the base rate added to each isotonic block (a Beta prior of this weight).
ISOTONIC_PRIOR = 2.0


class Calibrator(BaseEstimator):
    """Map raw scores to calibrated probabilities (``isotonic`` or ``sigmoid``).

    ``isotonic``: the isotonic regression's blocks are smoothed towards the base rate with
    :data:`ISOTONIC_PRIOR` pseudo-labels each, ``(k + m * base) / (n + m)`` for a block of ``n``
    labels of which ``k`` reverted, then made monotone again (weights ``n + m``). A small block at
    either end of the score range no longer says 0 or 1: unsmoothed, a block of 5 reversions
    gave p = 1 (clipped to 1 - 1e-6), and one later miss there cost 14 nats of log loss.
    """

    def __init__(self, method: str = "isotonic"):
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on out-of-fold raw scores and their labels."""
        raw = np.asarray(raw, dtype=float)
        y = np.asarray(y, dtype=int)
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.model_.fit(raw, y)
            self.x_, self.y_ = _smoothed_blocks(self.model_, raw, y, ISOTONIC_PRIOR)
        elif self.method == "sigmoid":
            self.model_ = LogisticRegression(C=1e6, max_iter=1000)
            self.model_.fit(_logit(raw)[:, None], y)
        else:
            raise ModelError(f"calibration method {self.method!r}: use 'isotonic' or 'sigmoid'")
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, clipped to [1e-6, 1 - 1e-6]."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic" and hasattr(self, "x_"):
            p = np.interp(raw, self.x_, self.y_)  # clipped at both ends like the regression
        elif self.method == "isotonic":  # a model pickled before the blocks were smoothed
            p = self.model_.predict(raw)
        else:
            p = self.model_.predict_proba(_logit(raw)[:, None])[:, 1]
        return np.clip(p, _EPS, 1 - _EPS)


def _smoothed_blocks(iso: IsotonicRegression, raw: np.ndarray, y: np.ndarray,
                     prior: float) -> tuple[np.ndarray, np.ndarray]:
    """The isotonic fit's thresholds with each block's level smoothed towards the base rate.

    The thresholds are the ends of the fit's constant runs, so their values are the blocks'
    levels; each training label is counted in the level nearest its fitted value (a score that
    sklearn merged with a neighbour within about 1e-15 is interpolated between two levels).
    """
    x_thr = np.asarray(iso.X_thresholds_, dtype=float)
    levels, at = np.unique(np.asarray(iso.y_thresholds_, dtype=float), return_inverse=True)
    fitted = iso.predict(raw)
    hi = np.clip(np.searchsorted(levels, fitted), 0, len(levels) - 1)
    lo = np.maximum(hi - 1, 0)
    block = np.where(np.abs(fitted - levels[lo]) <= np.abs(fitted - levels[hi]), lo, hi)
    n = np.bincount(block, minlength=len(levels)).astype(float)
    k = np.bincount(block, weights=y.astype(float), minlength=len(levels))
    base = k.sum() / max(n.sum(), 1.0)
    smooth = (k + prior * base) / (n + prior)
    if len(levels) > 1:  # monotone again: a small block pulled past a large neighbour merges
        smooth = IsotonicRegression().fit(levels, smooth, sample_weight=n + prior).predict(levels)
    return x_thr, smooth[at.reshape(-1)]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class CalibratedReversionModel:
    """Classifier + probability calibrator + return calibrator + feature list: what scoring uses.

    ``outcomes`` (a fitted :class:`revertible.model.ReturnCalibrator`, or None for a model
    trained by a version before it) maps the calibrated probability to each direction's
    realised return on the model's held-out record, see :meth:`predict_outcomes`.
    """

    def __init__(self, classifier: ReversionClassifier, calibrator: Calibrator,
                 features: list[str], meta: dict | None = None, outcomes: Any = None):
        self.classifier = classifier
        self.calibrator = calibrator
        self.features = list(features)
        self.meta = dict(meta or {})
        self.outcomes = outcomes

    def check_input(self, X: pd.DataFrame) -> None:
        """Raise :class:`ModelError` if a feature is missing or cannot be used."""
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ModelError(
                f"scoring input lacks {len(missing)} feature(s) the model was trained with: "
                f"{', '.join(missing[:6])}{'...' if len(missing) > 6 else ''}; compute features "
                "with the same config (e.g. data.funding_path for funding features)"
            )

    def check_sources(self, has_funding: bool) -> None:
        """Raise :class:`ModelError` if the model needs a data source the scoring data lacks."""
        if self.meta.get("requires_funding") and not has_funding:
            raise ModelError(
                "the model was trained with perpetual funding features but the scoring data has "
                "no funding: set data.funding_path to the funding folder, or score with a model "
                "trained with features.use_funding=false"
            )

    def check_outcomes(self) -> None:
        """Raise :class:`ModelError` if the model has no return calibrator (older versions)."""
        if getattr(self, "outcomes", None) is None:  # pickles of older versions lack the field
            raise ModelError(
                "this model has no return calibrator (it was trained by an earlier revertible "
                "version, whose return estimates carried no held-out evidence): retrain it with "
                "this version (`revertible train CONFIG`) and score with the new model URI"
            )

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability of reversion."""
        self.check_input(X)
        return self.classifier.predict_proba(X[self.features])[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of reversion within the horizon."""
        return self.calibrator.transform(self.predict_raw(X))

    def predict_outcomes(self, X: pd.DataFrame) -> pd.DataFrame:
        """Probability of reversion and each direction's calibrated gross return.

        Returns a frame on ``X``'s index with ``probability``, ``score_quantile`` (the score's
        share of the held-out record at or below it) and :data:`revertible.model.OUTCOME_COLUMNS`:
        the mean, standard error and realised second moment of each direction's gross return
        per unit of gross notional in the score's bin of the held-out record. The score binned
        is the classifier's raw probability (the calibrated one is a monotone map of it whose
        isotonic steps would merge bins); the probability calibrator makes the same assumption
        that the final classifier's raw scores are on the out-of-fold scores' scale.

        Raises
        ------
        ModelError
            The model has no return calibrator (trained by an older version).
        """
        self.check_outcomes()
        return self.outcomes_of_raw(self.predict_raw(X), X.index)

    def outcomes_of_raw(self, raw: np.ndarray, index: Any = None) -> pd.DataFrame:
        """:meth:`predict_outcomes` of rows whose raw score (:meth:`predict_raw`) is ``raw``."""
        self.check_outcomes()
        out = self.outcomes.predict(raw)
        out.insert(0, "score_quantile", self.outcomes.score_quantile(raw))
        out.insert(0, "probability", self.calibrator.transform(raw))
        if index is not None:
            out.index = index
        return out
