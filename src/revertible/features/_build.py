"""Point-in-time features at each episode's entry (docs/design.md: feature builder, part 2).

:func:`build_features` turns an episode table (:func:`revertible.episodes.build_episodes`) into one
row of float64 features per episode, same index and order. Training and live scoring call this
one function: an episode whose label is still open gets its features exactly as a settled one.

Timing
------
Every feature of an episode entered at bar ``t`` uses bars ``<= t`` only, the close of bar ``t``
included (as for the z-score that opened the episode). Pair values come from
:func:`revertible.spread.entry_values` (bit for bit those of :func:`revertible.spread.pair_series`),
whose value at ``t`` does not depend on later bars; asset and market series are trailing windows
computed once per panel and looked up at ``(t, asset)``;
the pair history counts only labels already settled at ``t`` (``exit_time <= entry_time``).
Cutting the panel at any ``T`` and rebuilding episodes and features leaves every feature of every
episode entered at or before ``T`` bit-identical (``tests/features/test_build.py``).

Two inputs besides the bars shape the values: the panel's *asset list* (the market-wide regime
features are cross-sections over it: score on the training universe) and the *history* table
(pair-history features: pass the full episode table, not only the rows to score).

Missing values
--------------
NaN means unknowable at ``t``: a window not filled yet, a leg without funding data, no settled
history. Nothing is filled with 0 and nothing is back-filled. A trailing window is usable when at
least ``ceil(min_obs_frac * window)`` of its bars are valid (``cfg.spread.min_obs_frac`` for
spread and hedge-ratio windows, ``cfg.universe.min_obs_frac`` for return and volume windows).

Definitions
-----------
The spread group uses ``s_j = a_j - beta_t * b_j`` over the window ending at ``t``, with ``beta_t``
the episode's hedge ratio (the z-score's convention, see :mod:`revertible.spread`), so every value
is invariant to the price unit of either leg; its long window is ``cfg.features.trailing_bars``, its
short one ``cfg.features.short_bars``. The AR(1) slope ``phi`` is the OLS slope of ``s_j`` on
``s_(j-1)``; the ADF t-statistic is that of ``rho = phi - 1`` in the same regression written as
``ds_j = alpha + rho * s_(j-1) + e_j``; ``VR(q)`` is the variance of ``q``-bar spread changes over
``q`` times that of one-bar changes (both demeaned by the one-bar drift; < 1 mean-reverting, 1
random walk). Regime and liquidity windows are ``cfg.features.regime_short_bars`` /
``regime_long_bars``; a spike is a bar whose one-bar log return exceeds ``cfg.features.spike_sigma``
times the long-window return std known at the bar before. Signs: ``z_velocity_*``, ``spread_z_*``
and ``funding_carry`` are multiplied by ``sign(z_t)``, so positive means further from the mean /
received by the trade.
:data:`FEATURE_DESCRIPTIONS` defines every column; :data:`FEATURE_GROUPS` lists them by family.

Layout
------
One module per feature family (``_spread``, ``_relationship``, ``_regime``, ``_funding``,
``_flow``, ``_history``), the column list in ``_spec``; this module only orchestrates.
Tunable windows and lags are fields of :class:`revertible.config.FeatureConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import _HISTORY_REQUIRED, _REQUIRED, _check_columns, _locate, _utc
from ._flow import _flow_features
from ._funding import _funding_features
from ._history import _pair_history
from ._models import spread_model_features
from ._regime import _asset_features
from ._relationship import _pair_block_features
from ._spec import FEATURE_DESCRIPTIONS, FEATURE_GROUPS, feature_names
from ._spread import _spread_features
from ._triggers import regime_trigger_features

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Config
    from ..data import Panel

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "feature_names",
    "build_features",
]


def build_features(
    panel: Panel,
    episodes: pd.DataFrame,
    cfg: Config,
    *,
    history: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Point-in-time features at each episode's entry bar.

    Parameters
    ----------
    panel : Panel
        The panel the episodes were detected on (or any panel holding their entry bars and the
        same asset universe).
    episodes : pandas.DataFrame
        Rows to featurise: at least ``asset_a, asset_b, entry_time, z_entry, beta, spread_std``
        (docs/design.md episode columns). Open episodes (label null) are fine.
    cfg : Config
        ``spread`` (hedge-ratio and z windows), ``universe.min_obs_frac``, ``features`` and
        ``compute.block_size`` (pairs per block of series) are used.
    history : pandas.DataFrame, optional
        Episodes the pair-history features are counted from (needs ``label`` and ``exit_time``
        too); default ``episodes``. When scoring a subset (e.g. only open episodes), pass the full
        episode table here; only episodes entered (and labels settled) before each entry count.
    progress : callable, optional
        Called as ``progress(pairs_done, pairs_total)`` after each block of pairs.

    Returns
    -------
    pandas.DataFrame
        float64, index and row order of ``episodes``, columns :func:`feature_names` (``cfg``).
        NaN where a value is unknowable at entry; never filled with 0.

    Raises
    ------
    ValueError
        A required column is missing, or an episode's entry bar or asset is not in the panel.

    """
    names = feature_names(cfg)
    _check_columns(episodes, "episodes", _REQUIRED)
    hist = episodes if history is None else history
    _check_columns(hist, "history" if history is not None else "episodes", _HISTORY_REQUIRED)
    if len(episodes) == 0:
        return pd.DataFrame(np.empty((0, len(names))), index=episodes.index, columns=names)
    t, ia, ib = _locate(panel, episodes)
    z = episodes["z_entry"].to_numpy(dtype=np.float64)
    beta = episodes["beta"].to_numpy(dtype=np.float64)
    sgn = np.sign(z)
    values: dict[str, np.ndarray] = {"abs_z_entry": np.abs(z), "beta_entry": beta}

    entry = _utc(episodes["entry_time"])
    values["hour"] = entry.hour.to_numpy(dtype=np.float64)
    values["dow"] = entry.day_of_week.to_numpy(dtype=np.float64)

    logp = panel.log_close()
    fc = cfg.features
    values.update(_spread_features(logp, t, ia, ib, beta, sgn, episodes, cfg))

    values.update(_pair_block_features(logp, t, ia, ib, cfg, progress, panel.days_to_bars))

    assets = _asset_features(panel, cfg)
    for key in ("vol_ratio", "spikes", "qv_ratio", "log_qv"):
        values[f"{key}_a"] = assets[key][t, ia]
        values[f"{key}_b"] = assets[key][t, ib]
    values["log_qv_min"] = np.minimum(values["log_qv_a"], values["log_qv_b"])
    values["mkt_vol_ratio"] = assets["mkt_vol_ratio"][t]
    values["mkt_dispersion"] = assets["mkt_dispersion"][t]
    del assets

    if fc.use_funding:
        last, mean_k = _funding_features(panel, fc)
        values["funding_diff"] = last[t, ia] - last[t, ib]
        values[f"funding_diff_mean{fc.funding_events}"] = mean_k[t, ia] - mean_k[t, ib]
        values["funding_carry"] = sgn * (last[t, ia] - beta * last[t, ib])
        del last, mean_k

    if fc.use_regime:  # regime-trigger family (features/_triggers.py)
        values.update(regime_trigger_features(panel, t, ia, ib, cfg))
    if fc.use_spread_models:  # OU fit and cointegration p-value (features/_models.py)
        values.update(spread_model_features(panel, t, ia, ib, beta, cfg))
    values.update(_flow_features(panel, episodes, hist, t, ia, ib, z, beta, fc))
    values.update(_pair_history(episodes, hist, int(panel.freq.value), fc.prior_strength))

    data = np.empty((len(episodes), len(names)), order="F")  # contiguous columns
    for k, name in enumerate(names):
        data[:, k] = values.pop(name)
    return pd.DataFrame(data, index=episodes.index, columns=names)
