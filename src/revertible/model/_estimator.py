"""The classifier: LightGBM behind the scikit-learn estimator contract, plus calibration.

* :class:`ReversionClassifier`: ``__init__`` only stores parameters, ``fit`` returns ``self``,
  learned state ends in ``_``. Optional early stopping uses the last ``valid_frac`` of the training
  rows *in time order* as the validation set (never a shuffled split).
* :class:`Calibrator`: isotonic or sigmoid (Platt, on the logit of the raw score) map from raw
  scores to probabilities; fitted on out-of-fold predictions only.
* :class:`CalibratedReversionModel`: classifier + calibrator + feature list (+ the return heads,
  :class:`revertible.model.ReturnModel`): what is logged to MLflow and scores new divergences.
  Scoring checks the input columns against the feature list.
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

__all__ = ["ReversionClassifier", "Calibrator", "CalibratedReversionModel", "lgbm_params"]

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


class ReversionClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM binary classifier with time-ordered early stopping.

    Parameters
    ----------
    params : dict
        LightGBM ``LGBMClassifier`` parameters (see :func:`lgbm_params`).
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

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ReversionClassifier:
        """Fit on rows sorted by time (the caller's order is taken as time order)."""
        y = np.asarray(y, dtype=int)
        params = dict(self.params or {})
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        if len(np.unique(y)) < 2:
            raise ModelError("training labels are all one class; widen the data or the dates")
        if self.early_stopping_rounds > 0 and len(y) >= 200:
            n_val = max(50, int(len(y) * self.valid_frac))
            Xt, yt, Xv, yv = X.iloc[:-n_val], y[:-n_val], X.iloc[-n_val:], y[-n_val:]
            model = lgb.LGBMClassifier(**params)
            model.fit(
                Xt, yt, eval_set=[(Xv, yv)], eval_metric="binary_logloss",
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = int(model.best_iteration_ or params.get("n_estimators", 100))
            params["n_estimators"] = max(1, self.best_iteration_)
        model = lgb.LGBMClassifier(**params)
        model.fit(X, y)
        self.booster_ = model
        self.n_estimators_ = params.get("n_estimators")
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (uncalibrated) class probabilities, shape (n, 2)."""
        return self.booster_.predict_proba(X[list(self.feature_names_in_)])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class with the higher raw probability."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Importance per feature (``gain`` or ``split``), sorted descending."""
        imp = self.booster_.booster_.feature_importance(importance_type=kind)
        return pd.Series(imp, index=self.feature_names_in_).sort_values(ascending=False)


class Calibrator(BaseEstimator):
    """Map raw scores to calibrated probabilities (``isotonic`` or ``sigmoid``)."""

    def __init__(self, method: str = "isotonic"):
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on out-of-fold raw scores and their labels."""
        raw = np.asarray(raw, dtype=float)
        y = np.asarray(y, dtype=int)
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.model_.fit(raw, y)
        elif self.method == "sigmoid":
            self.model_ = LogisticRegression(C=1e6, max_iter=1000)
            self.model_.fit(_logit(raw)[:, None], y)
        else:
            raise ModelError(f"calibration method {self.method!r}: use 'isotonic' or 'sigmoid'")
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, clipped to [1e-6, 1 - 1e-6]."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            p = self.model_.predict(raw)
        else:
            p = self.model_.predict_proba(_logit(raw)[:, None])[:, 1]
        return np.clip(p, _EPS, 1 - _EPS)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class CalibratedReversionModel:
    """Classifier + calibrator + the exact feature list (+ return heads): what scoring uses.

    ``returns`` (a fitted :class:`revertible.model.ReturnModel`, or None for a model trained
    before the return heads existed) predicts each direction's gross return moments, see
    :meth:`predict_outcomes`.
    """

    def __init__(self, classifier: ReversionClassifier, calibrator: Calibrator,
                 features: list[str], meta: dict | None = None, returns: Any = None):
        self.classifier = classifier
        self.calibrator = calibrator
        self.features = list(features)
        self.meta = dict(meta or {})
        self.returns = returns

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

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability of reversion."""
        self.check_input(X)
        return self.classifier.predict_proba(X[self.features])[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of reversion within the horizon."""
        return self.calibrator.transform(self.predict_raw(X))

    def predict_outcomes(self, X: pd.DataFrame) -> pd.DataFrame:
        """Probability of reversion and the moments of each direction's gross return.

        ``X`` holds the features and the episode columns ``spread_std`` and ``beta`` (the return
        heads' risk scale, :data:`revertible.model.RISK_COLUMNS`). Returns a frame on ``X``'s
        index with ``probability, revert_mean, revert_m2, continue_mean, continue_m2``: returns
        per unit of gross notional, before costs.

        Raises
        ------
        ModelError
            The model has no return heads (trained by an older version), or ``X`` lacks a risk
            column.
        """
        from ._returns import OUTCOME_COLUMNS, RISK_COLUMNS, risk_scale

        if getattr(self, "returns", None) is None:  # pickles of older versions lack the field
            raise ModelError(
                "this model has no return heads (it was trained by a revertible version before "
                "the return model): retrain it with this version (`revertible train CONFIG`) "
                "and score with the new model URI"
            )
        missing = [c for c in RISK_COLUMNS if c not in X.columns]
        if missing:
            raise ModelError(
                f"outcome input lacks the episode column(s) {', '.join(missing)}: pass the "
                "features with the episodes' spread_std and beta, e.g. "
                "features.assign(spread_std=episodes.spread_std, beta=episodes.beta)"
            )
        out = self.returns.predict(X[self.features],
                                   risk_scale(X["spread_std"], X["beta"]))
        out.insert(0, "probability", self.predict_proba(X))
        return out[list(OUTCOME_COLUMNS)]
