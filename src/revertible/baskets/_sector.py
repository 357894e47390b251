"""One sector's correlation structure with the funding differential of each pair.

``funding_a`` is the mean of an asset's perpetual funding rates (per 8-hour event) paid over the
``window_days`` ending at ``at`` (bars ``<= at``); ``funding_diff = funding_a - funding_b``, NaN
where either asset has no funding data in that window (no perpetual, or no funding folder).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import save_png, subplots
from ..universe import sector_assets, sector_map
from ._core import bar_index, corr_matrix
from ._regime import log_returns

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Config
    from ..data import Panel

__all__ = ["sector_pairs", "plot_sector_heatmap"]


def _sector_corr(panel: Panel, cfg: Config, sector: str, at, window_days: int):
    t = bar_index(panel, at)
    members = sector_assets(sector_map(panel.assets, cfg.baskets.sectors), sector)
    cols = np.array([panel.asset_index(a) for a in members], dtype=np.int64)
    w = panel.days_to_bars(window_days)
    r = log_returns(panel.slice_bars(max(0, t - w), t + 1))[-w:, cols]
    c = corr_matrix(r, int(np.ceil(cfg.universe.min_obs_frac * w)))
    if panel.funding is None:
        f = np.full(len(cols), np.nan)
    else:
        fw = panel.funding[max(0, t + 1 - w): t + 1, cols]
        cnt = np.isfinite(fw).sum(axis=0)
        f = np.where(cnt > 0, np.nansum(fw, axis=0) / np.maximum(cnt, 1), np.nan)
    return t, members, c, f


def sector_pairs(
    panel: Panel, cfg: Config, sector: str, at: pd.Timestamp | str | None = None,
    window_days: int = 30,
) -> pd.DataFrame:
    """Every pair of the sector with its correlation and funding differential.

    Columns ``time, sector, asset_a, asset_b, corr_<window>d, funding_a, funding_b,
    funding_diff`` (correlation of hourly log returns over ``window_days`` ending at ``at``).
    """
    t, members, c, f = _sector_corr(panel, cfg, sector, at, window_days)
    ia, ib = np.triu_indices(len(members), k=1)
    names = np.asarray(members, dtype=object)
    return pd.DataFrame({
        "time": panel.times[t], "sector": sector, "asset_a": names[ia], "asset_b": names[ib],
        f"corr_{window_days}d": c[ia, ib], "funding_a": f[ia], "funding_b": f[ib],
        "funding_diff": f[ia] - f[ib],
    })


def plot_sector_heatmap(
    panel: Panel, cfg: Config, sector: str, dest: str | Path,
    at: pd.Timestamp | str | None = None, window_days: int = 30,
) -> Path:
    """PNG: the sector's clustered correlation heatmap with each pair's funding differential.

    Correlations in the lower triangle; the funding differential (row minus column, basis points
    per 8 hours) in the upper triangle where both assets have perpetual funding.

    Assets are ordered by average-linkage clustering of ``1 - corr``. Written atomically.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    t, members, c, f = _sector_corr(panel, cfg, sector, at, window_days)
    order = np.arange(len(members))
    if len(members) >= 3:
        d = np.clip(1.0 - np.nan_to_num(c, nan=0.0), 0.0, 2.0)
        np.fill_diagonal(d, 0.0)
        order = leaves_list(linkage(squareform((d + d.T) / 2, checks=False), method="average"))
    c = c[np.ix_(order, order)]
    f = f[order]
    labels = [members[k].split("/")[0] for k in order]
    k = len(labels)
    show = np.where(np.tril(np.ones((k, k), dtype=bool)), c, np.nan)
    size = max(5.0, 0.45 * k + 2)
    fig, ax = subplots(figsize=(size, size * 0.85))
    im = ax.imshow(show, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fs = max(5.0, min(9.0, 120 / max(k, 1)))
    for i in range(k):
        for j in range(k):
            if i < j and np.isfinite(f[i]) and np.isfinite(f[j]):
                ax.text(j, i, f"{(f[i] - f[j]) * 1e4:+.1f}", ha="center", va="center",
                        fontsize=fs * 0.8)
            elif i > j and np.isfinite(c[i, j]):
                ax.text(j, i, f"{c[i, j]:.2f}", ha="center", va="center", fontsize=fs * 0.8)
    ax.set_xticks(range(k), labels, rotation=90, fontsize=fs)
    ax.set_yticks(range(k), labels, fontsize=fs)
    ax.set_title(f"{sector}: {window_days}-day return corr (lower) and funding diff row-col, "
                 f"bp/8h (upper) at {panel.times[t]:%Y-%m-%d %H:%M} UTC", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7, label="correlation of hourly log returns")
    fig.tight_layout()
    return save_png(fig, dest)
