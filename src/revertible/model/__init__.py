"""The model: LightGBM classifier, calibration, the held-out return record, purged CV, fitting."""

from __future__ import annotations

from ._checks import assets_note, check_model, costs_note, has_calibrator
from ._cv import (
    Fold,
    holdout_split,
    known_targets,
    label_end,
    outcome_end,
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
from ._fit import (
    BASELINES,
    HeldOut,
    PendingFit,
    Submit,
    calibrated_reversion_model,
    calibration_cv,
    cross_validate,
    fit_pool,
    fit_predict,
    fit_reversion_model,
    make_folds,
    oof_reversion_model,
    return_calibrator,
    run_now,
    start_reversion_fit,
)
from ._metrics import (
    METRIC_NAMES,
    classification_metrics,
    expected_calibration_error,
)
from ._outcomes import (
    DIRECTIONS,
    OUTCOME_COLUMNS,
    ReturnCalibrator,
    overfit_warning,
    rank_ic,
    week_clusters,
)
from ._plots import (
    importance_figure,
    probability_hist_figure,
    reliability_figure,
    return_decile_figure,
    roc_figure,
)
from ._train import (
    development_split,
    prepare_dataset,
    select_features,
)

__all__ = [
    "check_model",
    "has_calibrator",
    "costs_note",
    "assets_note",
    "ReversionClassifier",
    "Calibrator",
    "CalibratedReversionModel",
    "lgbm_params",
    "BinnedFeatures",
    "BinnedRows",
    "ReturnCalibrator",
    "return_calibrator",
    "fit_reversion_model",
    "start_reversion_fit",
    "oof_reversion_model",
    "calibrated_reversion_model",
    "HeldOut",
    "PendingFit",
    "Submit",
    "run_now",
    "fit_pool",
    "calibration_cv",
    "overfit_warning",
    "rank_ic",
    "week_clusters",
    "DIRECTIONS",
    "OUTCOME_COLUMNS",
    "Fold",
    "label_end",
    "outcome_end",
    "known_targets",
    "holdout_split",
    "walk_forward_folds",
    "METRIC_NAMES",
    "classification_metrics",
    "expected_calibration_error",
    "roc_figure",
    "reliability_figure",
    "importance_figure",
    "probability_hist_figure",
    "return_decile_figure",
    "select_features",
    "prepare_dataset",
    "development_split",
    "make_folds",
    "fit_predict",
    "cross_validate",
    "BASELINES",
]
