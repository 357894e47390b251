"""Hedge ratio, spread and z-score per pair and bar (the compiled kernel and its series)."""

from __future__ import annotations

from ._kernel import (
    SpreadSeries,
    min_obs,
    pack_assets,
    pair_series,
    pair_spread,
    rolling_corr,
)

__all__ = [
    "SpreadSeries",
    "pair_spread",
    "pair_series",
    "pack_assets",
    "rolling_corr",
    "min_obs",
]
