"""Optuna studies over model settings; each trial an MLflow child run."""

from __future__ import annotations

from ._study import (
    OBJECTIVES,
    TrialSeededTPESampler,
    TuningData,
    check_space,
    evaluate_cv,
    model_with,
    open_study,
    prepare_tuning_data,
    run_trials,
    study_settings,
    suggest_params,
    tune,
    tune_command,
)

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
]
