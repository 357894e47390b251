"""Walk-forward models: scoring blocks and the point-in-time model of each block."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError

__all__ = ["walk_forward_blocks", "fit_block_model"]


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


def fit_block_model(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta,
) -> Any:
    """Train a calibrated model on the episodes whose label was known before ``cutoff``.

    The training rows are the labelled episodes with ``label_end < cutoff`` (exit time, or entry
    + horizon; see :func:`revertible.model.label_end`), so nothing after ``cutoff`` is used. It is
    :func:`revertible.workflows.train`'s fit (:func:`revertible.model.fit_reversion_model`) without
    the holdout, baselines and logging: purged walk-forward CV with
    ``backtest.calibration_folds`` folds (null: ``cv.n_folds``), the probability calibrator on
    the out-of-fold scores, the final classifier on every training row, and the return
    calibrator on the held-out record (out-of-fold probabilities and the realised returns of the
    legs ``sizing.split`` trades), so the block model has ``predict_outcomes``. The training
    features are binned once and every fit of the block reuses the bins.
    ``model.meta["label_cutoff"]`` is the latest label end used.
    """
    from ..episodes import outcome_targets
    from ..features import FEATURE_GROUPS, feature_names
    from ..model import fit_reversion_model, label_end, select_features

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
    targets = outcome_targets(episodes.iloc[idx].reset_index(drop=True), cfg.sizing.split)
    model, _ = fit_reversion_model(
        cfg, X, y, entry, ends, targets, feats, bar, n_folds=cfg.backtest.calibration_folds,
        meta={"label_cutoff": ends.max(), "trained_until": entry.max()})
    return model
