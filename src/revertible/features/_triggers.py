"""Regime-trigger features (config ``features.use_regime``, default off).

The triggers of :mod:`revertible.baskets` (same definitions, same config ``baskets``) evaluated
for an episode's pair at its entry bar ``t``, bars ``<= t`` only:

* ``trig_corr_shift``: ``corr_S(a, b) - corr_W(a, b)`` (``S = baskets.shift_bars`` (72),
  ``W = baseline_days`` days of bars (720 hourly), windows ending at ``t``);
* ``trig_corr_on``: 1 when ``|trig_corr_shift| > baskets.corr_shift`` (0.15), else 0;
* ``trig_vol_z_max``: the larger of the legs' 1-hour volatility z (``|r_t|`` against the mean and
  std of ``|r|`` over the ``W`` bars before ``t``);
* ``trig_vol_on``: 1 when ``trig_vol_z_max > baskets.vol_sigma`` (3), else 0;
* ``trig_mkt_spike_share``: share of the panel's assets (with a valid z) whose volatility
  trigger is on at ``t``.

NaN where a window is too short (never filled with 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["TRIGGER_FEATURES", "regime_trigger_features"]

#: Feature name -> description, in output order (appended when ``features.use_regime``).
TRIGGER_FEATURES: dict[str, str] = {
    "trig_corr_shift": "pair return correlation, 72-bar minus 30-day baseline, at entry",
    "trig_corr_on": "1 if |trig_corr_shift| > baskets.corr_shift",
    "trig_vol_z_max": "max over the legs of |r_t| z-scored against the prior 30 days of |r|",
    "trig_vol_on": "1 if trig_vol_z_max > baskets.vol_sigma",
    "trig_mkt_spike_share": "share of assets whose 1-hour volatility trigger is on at entry",
}


def regime_trigger_features(
    panel: Panel, t: np.ndarray, ia: np.ndarray, ib: np.ndarray, cfg: Config,
    block_size: int = 128,
) -> dict[str, np.ndarray]:
    """The :data:`TRIGGER_FEATURES` at entry bars ``t`` of pairs ``(ia, ib)`` (column indices)."""
    from ..baskets import abs_return_z, log_returns, rolling_pair_corr  # baskets sits beside

    bc, mof = cfg.baskets, cfg.universe.min_obs_frac
    w = panel.days_to_bars(bc.baseline_days)
    r = log_returns(panel)
    shift = np.full(len(t), np.nan)
    pairs, inv = np.unique(np.stack([ia, ib], axis=1), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for s in range(0, len(pairs), block_size):
        blk = pairs[s: s + block_size]
        d = (rolling_pair_corr(r, blk[:, 0], blk[:, 1], bc.shift_bars, mof)
             - rolling_pair_corr(r, blk[:, 0], blk[:, 1], w, mof))
        sel = (inv >= s) & (inv < s + len(blk))
        shift[sel] = d[t[sel], inv[sel] - s]
    vz = abs_return_z(r, w, mof)
    za, zb = vz[t, ia], vz[t, ib]
    zmax = np.fmax(za, zb)
    zmax[~(np.isfinite(za) & np.isfinite(zb))] = np.nan
    on = vz > bc.vol_sigma
    valid = np.isfinite(vz).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(valid > 0, on.sum(axis=1) / valid, np.nan)
    return {
        "trig_corr_shift": shift,
        "trig_corr_on": np.where(np.isfinite(shift), (np.abs(shift) > bc.corr_shift) * 1.0,
                                 np.nan),
        "trig_vol_z_max": zmax,
        "trig_vol_on": np.where(np.isfinite(zmax), (zmax > bc.vol_sigma) * 1.0, np.nan),
        "trig_mkt_spike_share": share[t],
    }
