"""Thematic baskets, regime triggers and book-level risk from the correlation structure.

Sits after ``universe`` in the pipeline (imports config, data, universe, io); ``features`` may use
its regime definitions.
"""

from __future__ import annotations

from ._book import book_risk, cap_scale, stress_covariance, trailing_covariance, within_book_cap
from ._core import (
    bar_index,
    basket_weights,
    build_baskets,
    cluster_assets,
    corr_matrix,
    correlations_at,
    stress_losses,
)
from ._plots import plot_basket_heatmap
from ._regime import (
    abs_return_z,
    basket_regime,
    log_returns,
    plot_regime,
    regime_events,
    rolling_pair_corr,
)
from ._sector import plot_sector_heatmap, sector_pairs
from ._table import BASKET_COLUMNS, basket_table

__all__ = [
    "BASKET_COLUMNS",
    "basket_table",
    "bar_index",
    "corr_matrix",
    "correlations_at",
    "cluster_assets",
    "build_baskets",
    "basket_weights",
    "stress_losses",
    "log_returns",
    "rolling_pair_corr",
    "abs_return_z",
    "basket_regime",
    "regime_events",
    "plot_regime",
    "trailing_covariance",
    "stress_covariance",
    "book_risk",
    "within_book_cap",
    "cap_scale",
    "plot_basket_heatmap",
    "sector_pairs",
    "plot_sector_heatmap",
]
