"""The model: LightGBM estimator, calibration, purged walk-forward CV, metrics, training."""

from __future__ import annotations

from ._cv import (
    Fold,
    holdout_split,
    label_end,
    walk_forward_folds,
)
from ._estimator import (
    BinnedFeatures,
    BinnedRows,
    CalibratedReversionModel,
    Calibrator,
    ReversionClassifier,
    lgbm_params,
)
from ._metrics import (
    METRIC_NAMES,
    classification_metrics,
    expected_calibration_error,
)
from ._returns import (
    DIRECTIONS,
    OUTCOME_COLUMNS,
    RISK_COLUMNS,
    ReturnModel,
    ReturnRegressor,
    risk_scale,
)
from ._returns_eval import return_model
from ._train import (
    BASELINES,
    cross_validate,
    development_split,
    make_folds,
    prepare_dataset,
    select_features,
    train,
)

__all__ = [
    "ReversionClassifier",
    "Calibrator",
    "CalibratedReversionModel",
    "lgbm_params",
    "BinnedFeatures",
    "BinnedRows",
    "ReturnModel",
    "ReturnRegressor",
    "risk_scale",
    "return_model",
    "DIRECTIONS",
    "RISK_COLUMNS",
    "OUTCOME_COLUMNS",
    "Fold",
    "label_end",
    "holdout_split",
    "walk_forward_folds",
    "METRIC_NAMES",
    "classification_metrics",
    "expected_calibration_error",
    "train",
    "select_features",
    "prepare_dataset",
    "development_split",
    "make_folds",
    "cross_validate",
    "BASELINES",
]
