"""Correlation engine and pair eligibility, point-in-time.

* Asset eligibility at bar ``t`` (:func:`asset_eligibility`): the asset has a price at ``t``; at
  least ``min_history_days`` have passed since its first bar (with ``listed_before_start``, an
  asset priced at the panel's first bar counts as listed before it: the history rule cannot
  see before the data, and a folder that starts on 1 January should not lose its first 90 days
  of every asset; this looks at bar 0 only, so it stays point-in-time); and the median of its
  trailing one-day quote volume, sampled once a day (every ``Panel.day_bars`` bars) over the
  last ``volume_window_days`` days
  ending at ``t``, is at least ``min_quote_volume`` (at least half the window must be sampled;
  for such a seasoned asset, one day is enough).
* Pair eligibility at ``t``: both assets eligible and the rolling correlation of one-bar log returns
  over ``eligibility_window_days`` passes ``min_abs_corr`` in the configured direction
  (``both``: ``|corr|``; ``positive``: ``corr``; ``inverse``: ``-corr``). Inverse relationships
  are first-class: their hedge ratio is negative and both legs sit on the same side.

Every quantity at ``t`` uses bars ``<= t`` only. The same compiled correlation routine serves the
episode kernel and :func:`pair_correlations_at`, so eligibility agrees bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import save_png, subplots
from ..spread import pair_series

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import UniverseConfig
    from ..data import Panel

__all__ = [
    "bar_index",
    "universe_pairs",
    "asset_eligibility",
    "pair_correlations_at",
    "eligible_pairs",
    "plot_corr_heatmap",
]



def universe_pairs(assets: tuple[str, ...] | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs as column indices ``(ia, ib)`` with ``assets[ia] < assets[ib]``."""
    order = np.argsort(np.asarray(assets, dtype=object))
    ia, ib = np.triu_indices(len(assets), k=1)
    return order[ia].astype(np.int64), order[ib].astype(np.int64)


@nb.njit(cache=True, parallel=True)
def _asset_elig_kernel(close, qv, min_hist, n_days, min_qv, seasoned_at_start, day,
                       out):  # pragma: no cover
    n, m = close.shape
    for i in nb.prange(m):
        q24 = np.empty(n)
        first = -1
        s = 0.0
        c = 0
        for t in range(n):
            v = qv[t, i]
            if np.isfinite(v):
                s += v
                c += 1
            k = t - day
            if k >= 0 and np.isfinite(qv[k, i]):
                s -= qv[k, i]
                c -= 1
            q24[t] = s * day / c if c >= max(1, day // 2) else np.nan
        buf = np.empty(n_days)
        for t in range(n):
            p = close[t, i]
            if first < 0 and np.isfinite(p):
                first = t
            seasoned = seasoned_at_start and first == 0
            ok = np.isfinite(p) and first >= 0 and (t - first >= min_hist or seasoned)
            if ok:
                cnt = 0
                for d in range(n_days):
                    j = t - d * day
                    if j < 0:
                        break
                    if np.isfinite(q24[j]):
                        buf[cnt] = q24[j]
                        cnt += 1
                # a seasoned asset's volume median may use the days seen so far (>= 1)
                enough = cnt >= 1 if seasoned else cnt * 2 >= n_days
                ok = enough and np.median(buf[:cnt]) >= min_qv
            out[t, i] = ok


def asset_eligibility(panel: Panel, cfg: UniverseConfig) -> np.ndarray:
    """``(T, N)`` bool: asset ``i`` is tradable at bar ``t`` (price, history, liquidity)."""
    out = np.empty((panel.n_bars, panel.n_assets), dtype=np.bool_, order="F")
    _asset_elig_kernel(
        np.asfortranarray(panel.close),
        np.asfortranarray(panel.quote_volume),
        panel.days_to_bars(cfg.min_history_days) if cfg.min_history_days else 0,
        cfg.volume_window_days,
        float(cfg.min_quote_volume),
        bool(cfg.listed_before_start),
        panel.day_bars,
        out,
    )
    return out


def bar_index(panel: Panel, at: pd.Timestamp | str | None) -> int:
    """Position of the last bar ``<= at`` (default the last bar); DataError before the data."""
    if at is None:
        return panel.n_bars - 1
    ts = pd.Timestamp(at)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    idx = int(panel.times.searchsorted(ts, side="right")) - 1
    if idx < 0:
        raise DataError(f"--at {at}: before the first bar {panel.times[0]}; choose a later time")
    return idx


def pair_correlations_at(
    panel: Panel,
    cfg: UniverseConfig,
    at: pd.Timestamp | str | None = None,
    block_size: int = 512,
) -> pd.DataFrame:
    """Correlations of every pair over each of ``cfg.corr_windows_days`` as of bar ``at``.

    Returns one row per unordered pair: ``asset_a, asset_b, corr_<d>d`` for each window, using the
    same rolling routine as the episode kernel (values at ``at`` depend on bars ``<= at`` only).
    """
    t = bar_index(panel, at)
    ia, ib = universe_pairs(panel.assets)
    logp = panel.log_close()
    names = np.asarray(panel.assets, dtype=object)
    df = pd.DataFrame({"asset_a": names[ia], "asset_b": names[ib]})
    upto = logp[: t + 1]
    for days in cfg.corr_windows_days:
        w = panel.days_to_bars(days)
        corr = np.empty(len(ia))
        for s in range(0, len(ia), block_size):
            sr = pair_series(
                upto, ia[s : s + block_size], ib[s : s + block_size],
                corr_window=w, corr_min_obs_frac=cfg.min_obs_frac,
            )
            corr[s : s + block_size] = sr[:, 5, -1]
        df[f"corr_{days}d"] = corr
    return df


def eligible_pairs(
    panel: Panel,
    cfg: UniverseConfig,
    at: pd.Timestamp | str | None = None,
    asset_elig: np.ndarray | None = None,
    include_ineligible: bool = False,
) -> pd.DataFrame:
    """Pairs eligible at bar ``at`` (default: the last bar) with their correlations.

    Columns: ``time, asset_a, asset_b, corr_<d>d..., relationship, eligible`` and ``reason``
    (why a pair is not eligible, when ``include_ineligible``).
    """
    t = bar_index(panel, at)
    if asset_elig is None:
        asset_elig = asset_eligibility(panel.slice_bars(0, t + 1), cfg)
    df = pair_correlations_at(panel, cfg, panel.times[t])
    c = df[f"corr_{cfg.eligibility_window_days}d"].to_numpy()
    idx = {a: i for i, a in enumerate(panel.assets)}
    ea = asset_elig[t, df["asset_a"].map(idx).to_numpy()]
    eb = asset_elig[t, df["asset_b"].map(idx).to_numpy()]
    if cfg.relationship == "both":
        corr_ok = np.abs(c) >= cfg.min_abs_corr
    elif cfg.relationship == "positive":
        corr_ok = c >= cfg.min_abs_corr
    else:
        corr_ok = c <= -cfg.min_abs_corr
    corr_ok &= np.isfinite(c)
    df["relationship"] = np.where(c < 0, "inverse", "positive")
    df["eligible"] = ea & eb & corr_ok
    reason = np.full(len(df), "", dtype=object)
    reason[~corr_ok] = f"|corr_{cfg.eligibility_window_days}d| below {cfg.min_abs_corr}"
    reason[~(ea & eb)] = "asset history, liquidity or price missing"
    df["reason"] = reason
    df.insert(0, "time", panel.times[t])
    if not include_ineligible:
        df = df[df["eligible"]].drop(columns="reason")
    return df.reset_index(drop=True)


def plot_corr_heatmap(
    panel: Panel,
    cfg: UniverseConfig,
    dest: str | Path,
    at: pd.Timestamp | str | None = None,
    window_days: int | None = None,
) -> Path:
    """Write a PNG heatmap of return correlations at ``at``, assets in clustered order.

    Assets are ordered by average-linkage hierarchical clustering on ``1 - |corr|`` so that both
    positive and inverse relationships form blocks. Assets without a valid correlation are left
    out. Written atomically.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    days = window_days or cfg.eligibility_window_days
    df = pair_correlations_at(panel, cfg.model_copy(update={"corr_windows_days": (days,)}), at)
    names = list(panel.assets)
    pos = {a: i for i, a in enumerate(names)}
    m = np.full((len(names), len(names)), np.nan)
    i = df["asset_a"].map(pos).to_numpy()
    j = df["asset_b"].map(pos).to_numpy()
    v = df[f"corr_{days}d"].to_numpy()
    m[i, j] = v
    m[j, i] = v
    np.fill_diagonal(m, 1.0)
    keep = np.where(np.isfinite(m).sum(axis=1) > 1)[0]
    t = panel.times[bar_index(panel, at)]
    if keep.size == 0:  # too little history: an empty matrix made matplotlib warn twice
        fig, ax = subplots(figsize=(6.0, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no pair has a {days}-day return correlation at {t:%Y-%m-%d %H:%M} "
                "UTC yet", ha="center", va="center")
        return save_png(fig, dest)
    m = m[np.ix_(keep, keep)]
    labels = [names[k].split("/")[0] for k in keep]
    if len(keep) >= 3:
        dist = np.clip(1.0 - np.abs(np.nan_to_num(m, nan=0.0)), 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        order = leaves_list(linkage(squareform(dist, checks=False), method="average"))
        m = m[np.ix_(order, order)]
        labels = [labels[k] for k in order]
    size = max(6.0, 0.12 * len(labels) + 3)
    fig, ax = subplots(figsize=(size, size * 0.9))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fs = max(3.0, min(9.0, 600 / max(len(labels), 1)))
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fs)
    ax.set_yticks(range(len(labels)), labels, fontsize=fs)
    ax.set_title(f"{days}-day return correlation at {t:%Y-%m-%d %H:%M} UTC (clustered)")
    fig.colorbar(im, ax=ax, shrink=0.7, label="correlation of hourly log returns")
    fig.tight_layout()
    return save_png(fig, dest)
