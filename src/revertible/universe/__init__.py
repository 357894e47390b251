"""The correlation engine: rolling correlations and pair eligibility per bar."""

from __future__ import annotations

from ._eligibility import (
    asset_eligibility,
    bar_index,
    eligible_pairs,
    pair_correlations_at,
    plot_corr_heatmap,
    universe_pairs,
)
from ._sectors import DEFAULT_SECTORS, sector_assets, sector_map

__all__ = [
    "bar_index",
    "DEFAULT_SECTORS",
    "sector_map",
    "sector_assets",
    "universe_pairs",
    "asset_eligibility",
    "pair_correlations_at",
    "eligible_pairs",
    "plot_corr_heatmap",
]
