"""Optuna studies over model settings; each trial an MLflow child run."""

from __future__ import annotations

from ._data import OBJECTIVES, TuningData, evaluate_cv, prepare_tuning_data
from ._parent import fail_orphaned_parents
from ._space import check_space, model_with, suggest_params
from ._storage import TrialSeededTPESampler, open_study, study_settings
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
]
