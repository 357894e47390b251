"""The ``baskets`` table at one bar: members, weights, correlations, stress, regime state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data import Panel
from ..universe import sector_map
from ._core import (
    bar_index,
    basket_weights,
    build_baskets,
    cluster_assets,
    correlations_at,
    eligible_at,
    stress_losses,
)
from ._regime import basket_regime, log_returns

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["basket_table", "BASKET_COLUMNS"]

#: Columns of :func:`basket_table`, one row per (basket, asset).
BASKET_COLUMNS = (
    "time", "basket", "theme", "asset", "sector", "weight", "mean_corr", "min_corr", "max_corr",
    "vol_daily", "loss_now", "stress_loss_095", "stress_ratio", "corr_shift", "vol_z",
    "corr_trigger", "vol_trigger", "trigger",
)


def basket_table(panel: Panel, cfg: Config, at: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Thematic baskets at bar ``at`` (default the last bar), from bars ``<= at`` only.

    Parameters
    ----------
    panel : Panel
        Market data; the table at ``at`` is identical on ``panel.cut(at)``.
    cfg : Config
        ``baskets`` (windows, band, sizes, linkage, stress, triggers, sectors) and ``universe``
        (eligibility: history, liquidity, ``min_obs_frac``).
    at : timestamp or str, optional
        As-of time (UTC); the last bar ``<= at`` is used.

    Returns
    -------
    pandas.DataFrame
        :data:`BASKET_COLUMNS` plus ``mean_corr_<d>d`` per window: one row per basket member.
        ``weight`` sums to 1 per basket. Basket-level columns repeat on every member row:
        ``mean_corr`` (mean pairwise correlation, mean of the windows), ``min_corr``,
        ``max_corr``, ``loss_now`` and ``stress_loss_095`` (:func:`stress_losses`: k-sigma daily
        loss as a fraction of the basket's notional, under the first window's correlation matrix
        and under all-``stress_corr``), ``stress_ratio`` (their ratio) and the regime state at
        ``at`` (:func:`basket_regime`). ``vol_daily`` is the member's daily volatility (first
        window, ``sqrt(24)`` x hourly).
    """
    bc, uc = cfg.baskets, cfg.universe
    t = bar_index(panel, at)
    sectors = sector_map(panel.assets, bc.sectors)
    elig = np.flatnonzero(eligible_at(panel, t, uc))
    cors = correlations_at(panel.select([panel.assets[i] for i in elig]), t, bc.windows_days,
                           uc.min_obs_frac)
    stack = np.stack([cors[d] for d in bc.windows_days])
    mean_c = stack.mean(axis=0)  # NaN if any window is
    keep = np.flatnonzero(np.isfinite(mean_c).sum(axis=1) > 1)
    mean_c = mean_c[np.ix_(keep, keep)]
    names = [panel.assets[elig[k]] for k in keep]
    labels = cluster_assets(mean_c, bc.corr_band[0], bc.linkage)
    found = build_baskets(mean_c, bc, labels)
    first = bc.windows_days[0]
    r = log_returns(panel.slice_bars(0, t + 1))
    w0 = panel.days_to_bars(first)
    cols_all = np.array([panel.asset_index(a) for a in names], dtype=np.int64)
    vols = np.nanstd(r[max(0, t + 1 - w0):, cols_all], axis=0, ddof=1) * np.sqrt(panel.bars_per_day)
    rows = []
    for k, (theme, members) in enumerate(found, start=1):
        sub = mean_c[np.ix_(members, members)]
        w = basket_weights(sub)
        now_c = cors[first][np.ix_(keep[members], keep[members])]
        loss_now, loss95 = stress_losses(w, vols[members], now_c, bc.shock_sigma, bc.stress_corr)
        off = sub[~np.eye(len(members), dtype=bool)]
        for j, i in enumerate(members):
            row = {
                "time": panel.times[t], "basket": f"B{k:02d}", "theme": int(theme),
                "asset": names[i], "sector": sectors.get(names[i], ""), "weight": float(w[j]),
                "mean_corr": float(off.mean()), "min_corr": float(off.min()),
                "max_corr": float(off.max()), "vol_daily": float(vols[i]),
                "loss_now": loss_now, "stress_loss_095": loss95,
                "stress_ratio": loss95 / loss_now if loss_now > 0 else np.nan,
            }
            for d in bc.windows_days:
                cd = cors[d][np.ix_(keep[members], keep[members])]
                row[f"mean_corr_{d}d"] = float(cd[~np.eye(len(members), dtype=bool)].mean())
            rows.append(row)
    df = pd.DataFrame(rows)
    extra = [f"mean_corr_{d}d" for d in bc.windows_days]
    if df.empty:
        return pd.DataFrame(columns=[*BASKET_COLUMNS, *extra])
    # regime state at t: only bars <= t, and only as many as the longest window needs
    need = panel.days_to_bars(bc.baseline_days) + max(bc.shift_bars, 1) + 2
    hist = panel.slice_bars(max(0, t + 1 - need), t + 1)
    reg = basket_regime(hist, df[["basket", "asset", "weight"]], bc, uc.min_obs_frac)
    last = reg[reg["time"] == panel.times[t]].set_index("basket")
    for col in ("corr_shift", "vol_z", "corr_trigger", "vol_trigger", "trigger"):
        df[col] = df["basket"].map(last[col]).to_numpy()
    return df[[*BASKET_COLUMNS, *extra]]
