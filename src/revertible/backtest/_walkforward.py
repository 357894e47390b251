"""Walk-forward models: scoring blocks and the point-in-time model of each block."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError

__all__ = ["walk_forward_blocks", "fit_block_model", "HeadsOnlyModel"]


def walk_forward_blocks(
    first_entry: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp, cfg: Config,
    bar: pd.Timedelta,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the scoring blocks ``[start_k, end_k)`` of a walk-forward backtest.

    The first ``backtest.min_train_days`` after the first episode only train; then one model per
    ``backtest.retrain_every_days``, from ``max(that, start)`` up to ``end``.
    """
    bt = cfg.backtest
    s = max(first_entry + pd.Timedelta(days=bt.min_train_days), start).ceil(bar)
    step = pd.Timedelta(days=bt.retrain_every_days)
    blocks = []
    while s <= end:
        blocks.append((s, min(s + step, end + bar)))
        s = s + step
    return blocks


class HeadsOnlyModel:
    """A block model with return heads and no classifier (``fit_block_model(heads_only=True)``)."""

    def __init__(self, features: list[str], returns: Any, meta: dict):
        self.features, self.returns, self.meta = list(features), returns, meta

    def predict_outcomes(self, X: pd.DataFrame) -> pd.DataFrame:
        """NaN probability and the heads' moments (columns of ``predict_outcomes``)."""
        from ..model import risk_scale

        out = self.returns.predict(X[self.features], risk_scale(X["spread_std"], X["beta"]))
        out.insert(0, "probability", np.nan)
        return out


def fit_block_model(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta, *, heads_only: bool = False,
) -> Any:
    """Train a calibrated model on the episodes whose label was known before ``cutoff``.

    The training rows are the labelled episodes with ``label_end < cutoff`` (exit time, or entry
    + horizon; see :func:`revertible.model.label_end`), so nothing after ``cutoff`` is used. It is
    :func:`revertible.model.train` without the holdout, baselines and logging: purged
    walk-forward CV (:func:`revertible.model.cross_validate`) with
    ``backtest.calibration_folds`` folds (null: ``cv.n_folds``), a calibrator on the out-of-fold
    scores, the final classifier on every training row, and the return heads
    (:func:`revertible.model.return_model`, fitted as ``train`` fits its final heads: on the
    training rows' ``revert_return``/``continue_return`` in units of
    :func:`revertible.model.risk_scale`), so the block model has ``predict_outcomes``. The
    training features are binned once (:class:`revertible.model.BinnedFeatures`) and every fit
    of the block reuses the bins. The
    heads' own CV metrics are not computed (``train`` logs them; a backtest needs only the
    predictions). ``model.meta["label_cutoff"]`` is the latest label end used.

    ``heads_only``: skip the calibration folds and the classifier; a :class:`HeadsOnlyModel`
    with the very same heads (NaN probability), for callers that trade on the heads alone.
    """
    from ..features import FEATURE_GROUPS, feature_names
    from ..model import (
        BinnedFeatures,
        CalibratedReversionModel,
        Calibrator,
        ReversionClassifier,
        cross_validate,
        label_end,
        lgbm_params,
        return_model,
        risk_scale,
        select_features,
    )

    end = label_end(episodes, cfg.label.horizon, bar)
    sel = (episodes["label"].notna() & (end < cutoff)).to_numpy()
    idx = np.flatnonzero(sel)
    if len(idx) < 100:
        raise RevertibleError(
            f"walk-forward model at {cutoff}: only {len(idx)} labelled episodes ended before it; "
            "need at least 100: raise backtest.min_train_days or use more data"
        )
    feats = select_features(cfg, feature_names(cfg), FEATURE_GROUPS)
    X = features.iloc[idx].reset_index(drop=True)
    y = episodes["label"].to_numpy(dtype=float, na_value=np.nan)[idx].astype(int)
    entry = episodes["entry_time"].iloc[idx].reset_index(drop=True)
    ends = end.iloc[idx].reset_index(drop=True)
    folds = cfg.backtest.calibration_folds
    cv_cfg = cfg if folds is None else cfg.model_copy(
        update={"cv": cfg.cv.model_copy(update={"n_folds": folds})})
    params = lgbm_params(cfg.model, cfg.seed)
    binned = BinnedFeatures(X[feats], params)  # binned once: folds, classifier and heads reuse it
    tr = episodes.iloc[idx].reset_index(drop=True)
    heads = return_model(cfg).fit(binned.take(), tr[["revert_return", "continue_return"]],
                                  risk_scale(tr["spread_std"], tr["beta"]))  # fmt: skip
    meta = {"label_cutoff": ends.max(), "trained_until": entry.max(), "n_train": len(idx),
            "cv_roc_auc": float("nan"), "n_train_returns": heads.n_train_,
            "returns_mirror": heads.mirror_}  # fmt: skip
    if heads_only:
        return HeadsOnlyModel(feats, heads, meta)
    cv = cross_validate(X, y, entry, ends, cv_cfg, feats, ["lgbm"], bar, binned=binned)
    oof = cv["fold_id"] >= 0
    calibrator = Calibrator(cfg.model.calibration).fit(cv["raw"]["lgbm"][oof], y[oof])
    clf = ReversionClassifier(params, cfg.model.early_stopping_rounds)
    clf.fit(binned.take(), y)
    meta["cv_roc_auc"] = cv["metrics"]["lgbm"].get("roc_auc", float("nan"))
    return CalibratedReversionModel(clf, calibrator, feats, meta=meta, returns=heads)
