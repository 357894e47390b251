"""Hedge ratio, spread and z-score per pair and bar: the compiled kernel, its series, a reference.

``_kernel`` is the compiled scan (lane layout and recompute schedule in its docstring),
``_series`` the public per-pair series built on it, ``_entries`` the correlations of several
windows at chosen bars in one pass (the same values), ``_reference`` plain loops it is tested
against.
"""

from __future__ import annotations

from ._coint import coint_pvalues, engle_granger, mackinnon_p
from ._entries import entry_values
from ._kalman import kalman_beta, kalman_episode_rows, kalman_reference, kalman_series
from ._kernel import block_kernel, pack_assets
from ._reference import detect_label, reference_series
from ._series import (
    SpreadSeries,
    min_obs,
    pair_series,
    pair_spread,
    rolling_corr,
)

__all__ = [
    "SpreadSeries",
    "pair_spread",
    "pair_series",
    "entry_values",
    "pack_assets",
    "block_kernel",
    "detect_label",
    "rolling_corr",
    "min_obs",
    "reference_series",
    "kalman_beta",
    "kalman_reference",
    "kalman_series",
    "kalman_episode_rows",
    "coint_pvalues",
    "engle_granger",
    "mackinnon_p",
]
