"""Scoring: live or historical divergences -> probability, expected returns, direction, legs."""

from __future__ import annotations

from ._command import QTY_SIG_FIGS, csv_quantities, score_command, score_panel
from ._inputs import LEG_VOL_DAYS, leg_vols, live_path, touched_reasons, z_now
from ._model import (
    assets_note,
    check_model,
    costs_note,
    has_calibrator,
    resolve_model_uri,
    tracking_uri,
)
from ._score import (
    EXTRA_COLUMNS,
    OUTPUT_COLUMNS,
    SIGNAL_COLUMNS,
    continuation_barriers,
    episode_features,
    score_episodes,
)
from ._select import select_open, select_range
from ._trees import CompiledTrees, compiled_trees

__all__ = [
    "SIGNAL_COLUMNS",
    "EXTRA_COLUMNS",
    "OUTPUT_COLUMNS",
    "LEG_VOL_DAYS",
    "select_open",
    "select_range",
    "leg_vols",
    "live_path",
    "z_now",
    "touched_reasons",
    "check_model",
    "has_calibrator",
    "costs_note",
    "assets_note",
    "tracking_uri",
    "resolve_model_uri",
    "continuation_barriers",
    "episode_features",
    "score_episodes",
    "compiled_trees",
    "CompiledTrees",
    "score_panel",
    "score_command",
    "csv_quantities",
    "QTY_SIG_FIGS",
]
