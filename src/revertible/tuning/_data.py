"""The study's data: development rows only, fixed folds, and the objective (training's CV)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..model import (
    BinnedFeatures,
    Calibrator,
    Fold,
    classification_metrics,
    development_split,
    fit_predict,
    lgbm_params,
    make_folds,
    prepare_dataset,
    select_features,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from ..config import Config
    from ..data import Panel

__all__ = ["OBJECTIVES", "TuningData", "prepare_tuning_data", "evaluate_cv"]

#: ``tuning.objective`` -> (metric name in :func:`classification_metrics`, direction).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "logloss": ("log_loss", "minimize"),
    "brier": ("brier", "minimize"),
    "auc": ("roc_auc", "maximize"),
}


@dataclass(frozen=True)
class TuningData:
    """The development set the study may see, with its walk-forward folds.

    ``X`` keeps the episode table's positional index so tests can trace every row a trial
    touches back to its ``entry_time``. Nothing at or after ``holdout_start`` is in here.
    """

    X: pd.DataFrame
    y: np.ndarray
    entry: pd.Series
    end: pd.Series
    features: list[str]
    folds: list[Fold]
    holdout_start: pd.Timestamp
    n_holdout: int
    fingerprint: str


def prepare_tuning_data(
    cfg: Config, panel: Panel, episodes: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TuningData, pd.DataFrame]:
    """Features once, holdout split off, folds fixed: ``(development data, all episodes)``.

    The folds depend on the episodes and ``cv.*`` only (not on model settings), so every trial
    uses the same ones.
    """
    from ..features import feature_groups, feature_names

    eps, feats = prepare_dataset(cfg, panel, episodes, progress=progress)
    features = select_features(cfg, feature_names(cfg), feature_groups(cfg))
    bar = panel.freq
    split = development_split(cfg, eps, feats, bar)
    hold, hstart = split["hold"], split["holdout_start"]
    X, y, entry, end_d = split["X"], split["y"], split["entry"], split["end"]
    folds = make_folds(cfg, entry, end_d, bar)
    data = TuningData(X=X, y=y, entry=entry, end=end_d, features=features, folds=folds,
                      holdout_start=hstart, n_holdout=len(hold), fingerprint=panel.fingerprint())
    return data, eps


def evaluate_cv(
    data: TuningData, cfg: Config,
    report: Callable[[int, float, dict[str, float]], None] | None = None,
    on_fold: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Purged walk-forward CV of the LightGBM model: ``fold<k>.*`` and pooled metrics.

    Exactly :func:`revertible.model.cross_validate`'s scheme for the model, fold by fold: fold
    k's raw scores are calibrated by a calibrator fitted on folds ``< k``; fold 1 is scored raw
    (it only seeds the calibrator); the pooled metrics cover folds 2..K. After each fold ``k >=
    2`` ``report(k, value, fold_metrics_so_far)`` receives the objective on folds 2..k (it may
    raise :class:`optuna.TrialPruned`). Returns ``fold<k>.<metric>`` for the folds run and, when all
    ran, the pooled ``<metric>`` keys (unprefixed).
    """
    metric = OBJECTIVES[cfg.tuning.objective][0]
    y, folds = data.y, data.folds
    n = len(y)
    fold_id = np.full(n, -1)
    raw = np.full(n, np.nan)
    cal = np.full(n, np.nan)
    base_scored = float(y[folds[1].train].mean())
    out: dict[str, float] = {}
    # binned once per trial with the trial's settings, as `train` bins its development set
    binned = BinnedFeatures(data.X[data.features], lgbm_params(cfg.model, cfg.seed))
    for i, f in enumerate(folds):
        fold_id[f.test] = i
        raw[f.test] = fit_predict("lgbm", data.X.iloc[f.train], y[f.train],
                                   data.X.iloc[f.test], cfg, data.features,
                                   binned.take(f.train))  # fmt: skip
        if i == 0:
            p = raw[f.test]
        else:
            seen = (fold_id >= 0) & (fold_id < i)
            c = Calibrator(cfg.model.calibration).fit(raw[seen], y[seen])
            cal[f.test] = p = c.transform(raw[f.test])
        fm = classification_metrics(y[f.test], p, float(y[f.train].mean()))
        out.update({f"fold{i + 1}.{k}": v for k, v in fm.items()})
        if on_fold is not None:
            on_fold(i + 1, len(folds))
        if i >= 1 and report is not None:
            sel = fold_id >= 1
            value = classification_metrics(y[sel], cal[sel], base_scored)[metric]
            if math.isfinite(value):
                report(i + 1, value, dict(out))
    sel = fold_id >= 1
    out.update(classification_metrics(y[sel], cal[sel], base_scored))
    return out
