"""Scoring: live or historical divergences -> probability, decision and sized legs."""

from __future__ import annotations

from ._score import (
    EXTRA_COLUMNS,
    LEG_VOL_BARS,
    OUTPUT_COLUMNS,
    SIGNAL_COLUMNS,
    check_model,
    episode_features,
    leg_vols,
    resolve_model_uri,
    score_command,
    score_episodes,
    score_panel,
    select_open,
    select_range,
    tracking_uri,
)

__all__ = [
    "SIGNAL_COLUMNS",
    "EXTRA_COLUMNS",
    "OUTPUT_COLUMNS",
    "LEG_VOL_BARS",
    "select_open",
    "select_range",
    "leg_vols",
    "check_model",
    "tracking_uri",
    "resolve_model_uri",
    "episode_features",
    "score_episodes",
    "score_panel",
    "score_command",
]
