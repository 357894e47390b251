"""Optuna studies over model settings, or strategy settings; each trial an MLflow child run."""

from __future__ import annotations

from ._data import OBJECTIVES, TuningData, evaluate_cv, prepare_tuning_data
from ._parent import fail_orphaned_parents
from ._space import check_space, model_with, suggest_params
from ._storage import TrialSeededTPESampler, open_study, study_settings
from ._strategy import (
    PredictionCache,
    StrategyData,
    check_strategy_space,
    evaluate_strategy,
    prepare_strategy_data,
    search_config,
    split_validation,
    validate_strategy,
)
from ._strategy_study import search_deflated_sharpe, strategy_settings, tune_strategy
from ._study import tune, tune_command
from ._trials import run_trials

__all__ = [
    "OBJECTIVES",
    "TrialSeededTPESampler",
    "TuningData",
    "prepare_tuning_data",
    "evaluate_cv",
    "check_space",
    "suggest_params",
    "model_with",
    "open_study",
    "study_settings",
    "run_trials",
    "tune",
    "tune_command",
    "fail_orphaned_parents",
    "StrategyData",
    "PredictionCache",
    "check_strategy_space",
    "prepare_strategy_data",
    "split_validation",
    "search_config",
    "evaluate_strategy",
    "validate_strategy",
    "strategy_settings",
    "search_deflated_sharpe",
    "tune_strategy",
]
