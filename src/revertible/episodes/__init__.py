"""Divergence episodes: detection, reversion label and the episode table."""

from __future__ import annotations

from ._models import episode_coint_pvalues, kalman_config, kalman_rows, pair_coint_pvalues
from ._outcomes import (
    LEG_COLUMNS,
    LEG_VOL_DAYS,
    entry_targets,
    leg_vols,
    outcome_targets,
    split_returns,
    trade_outcome_legs,
    trade_outcomes,
)
from ._table import (
    EPISODE_COLUMNS,
    EXIT_REASONS,
    build_episodes,
    empty_episodes,
    iter_episode_blocks,
    pair_episodes,
    write_episodes,
)

__all__ = [
    "LEG_COLUMNS",
    "LEG_VOL_DAYS",
    "leg_vols",
    "entry_targets",
    "split_returns",
    "outcome_targets",
    "trade_outcomes",
    "trade_outcome_legs",
    "EPISODE_COLUMNS",
    "EXIT_REASONS",
    "pair_episodes",
    "iter_episode_blocks",
    "build_episodes",
    "write_episodes",
    "empty_episodes",
    "pair_coint_pvalues",
    "kalman_rows",
    "episode_coint_pvalues",
    "kalman_config",
]
