"""Regime triggers, point in time and vectorised: correlation shifts and 1-hour volatility spikes.

Definitions (one-bar log returns ``r_t = log(close_t / close_{t-1})``; ``W``: the bars of
``baseline_days`` days at the panel's bar size, 720 hourly; ``S = shift_bars``, default 72):

* **correlation shift** of a pair at ``t``: ``corr_S(t) - corr_W(t)``, the correlation of the two
  assets' returns over the last ``S`` bars against its ``W``-bar baseline, both windows ending at
  ``t`` inclusive. For a basket: the mean over its pairs of each. The trigger fires when
  ``|shift| > corr_shift`` (default 0.15).
* **volatility spike** of a return series at ``t``: ``vol_z(t) = (|r_t| - mean(|r|)) / std(|r|)``,
  mean and std (ddof 1) of the absolute returns of the ``W`` bars *before* ``t`` (the spike does not
  inflate its own baseline). For a basket: its weighted return ``sum_j w_j r_j``. The trigger fires
  when ``vol_z > vol_sigma`` (default 3): the 1-hour volatility is more than 3 standard deviations
  above its 30-day mean.

A window with fewer than ``min_obs_frac`` of its bars valid gives NaN (never a trigger). Every value
at ``t`` depends on bars ``<= t`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import save_png, subplots
from ..risk import log_returns

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import BasketsConfig
    from ..data import Panel

__all__ = [
    "log_returns",
    "rolling_pair_corr",
    "abs_return_z",
    "basket_regime",
    "regime_events",
    "plot_regime",
]


def _window_sums(x: np.ndarray, w: int) -> np.ndarray:
    """Trailing sums over ``w`` rows ending at each row (inclusive), along axis 0."""
    c = np.cumsum(x, axis=0)
    out = c.copy()
    out[w:] -= c[:-w]
    return out


def rolling_pair_corr(
    returns: np.ndarray, ia: np.ndarray, ib: np.ndarray, window: int, min_obs_frac: float = 0.9
) -> np.ndarray:
    """``(T, P)`` correlation of columns ``ia[p]`` and ``ib[p]`` over the trailing ``window`` rows.

    Pairwise complete: only rows where both returns are finite count; NaN where fewer than
    ``ceil(min_obs_frac * window)`` do. Vectorised with running sums (no loop over rows).
    """
    x = returns[:, ia]
    y = returns[:, ib]
    m = np.isfinite(x) & np.isfinite(y)
    x = np.where(m, x, 0.0)
    y = np.where(m, y, 0.0)
    n = _window_sums(m.astype(np.float64), window)
    sx, sy = _window_sums(x, window), _window_sums(y, window)
    sxx, syy, sxy = _window_sums(x * x, window), _window_sums(y * y, window), _window_sums(
        x * y, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        vx = n * sxx - sx * sx
        vy = n * syy - sy * sy
        c = (n * sxy - sx * sy) / np.sqrt(vx * vy)
    need = int(np.ceil(min_obs_frac * window))
    c[(n < max(need, 3)) | ~(vx > 0) | ~(vy > 0)] = np.nan
    c[: window - 1] = np.nan
    return np.clip(c, -1.0, 1.0)


def abs_return_z(returns: np.ndarray, window: int, min_obs_frac: float = 0.9) -> np.ndarray:
    """``(T, N)`` z-score of ``|r_t|`` against the mean and std of ``|r|`` over the prior window.

    The baseline is bars ``t - window .. t - 1``; NaN where it has fewer than
    ``ceil(min_obs_frac * window)`` valid bars or ``r_t`` is missing.
    """
    a = np.abs(np.asarray(returns, dtype=np.float64))
    if a.ndim == 1:
        return abs_return_z(a[:, None], window, min_obs_frac)[:, 0]
    m = np.isfinite(a)
    v = np.where(m, a, 0.0)
    n = _window_sums(m.astype(np.float64), window)
    s1 = _window_sums(v, window)
    s2 = _window_sums(v * v, window)
    # shift by one bar: the baseline ends at t - 1
    n = np.vstack([np.zeros((1, a.shape[1])), n[:-1]])
    s1 = np.vstack([np.zeros((1, a.shape[1])), s1[:-1]])
    s2 = np.vstack([np.zeros((1, a.shape[1])), s2[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (s2 - n * mean * mean) / (n - 1)
        z = (a - mean) / np.sqrt(var)
    need = max(int(np.ceil(min_obs_frac * window)), 3)
    bad = (n < need) | ~(var > 0)
    bad[:window] = True
    z[bad] = np.nan
    return z


def basket_regime(
    panel: Panel,
    baskets: pd.DataFrame,
    cfg: BasketsConfig,
    min_obs_frac: float = 0.9,
) -> pd.DataFrame:
    """Regime triggers of each basket at every bar of ``panel``.

    Parameters
    ----------
    panel : Panel
        Any history; values at bar ``t`` use bars ``<= t`` only.
    baskets : pandas.DataFrame
        ``basket, asset, weight`` (e.g. from :func:`revertible.baskets.build_baskets`).
    cfg : BasketsConfig
        ``baseline_days``, ``shift_bars``, ``corr_shift``, ``vol_sigma``.

    Returns
    -------
    pandas.DataFrame
        One row per (bar, basket): ``time, basket, corr_short, corr_baseline, corr_shift, vol_z,
        corr_trigger, vol_trigger, trigger`` (booleans False where the inputs are NaN).
    """
    r = log_returns(panel)
    w_bars = panel.days_to_bars(cfg.baseline_days)
    frames = []
    for basket, grp in baskets.groupby("basket", sort=True):
        cols = np.array([panel.asset_index(a) for a in grp["asset"]], dtype=np.int64)
        wts = grp["weight"].to_numpy(dtype=np.float64)
        ii, jj = np.triu_indices(len(cols), k=1)
        ia, ib = cols[ii], cols[jj]
        # basket mean over its pairs; NaN unless every pair's window is valid
        short = rolling_pair_corr(r, ia, ib, cfg.shift_bars, min_obs_frac).mean(axis=1)
        base = rolling_pair_corr(r, ia, ib, w_bars, min_obs_frac).mean(axis=1)
        rb = r[:, cols] @ wts  # NaN when any member's return is missing
        vz = abs_return_z(rb, w_bars, min_obs_frac)
        shift = short - base
        frames.append(pd.DataFrame({
            "time": panel.times,
            "basket": basket,
            "corr_short": short,
            "corr_baseline": base,
            "corr_shift": shift,
            "basket_return": rb,
            "vol_z": vz,
            "corr_trigger": np.abs(shift) > cfg.corr_shift,
            "vol_trigger": vz > cfg.vol_sigma,
        }))
    if not frames:
        return pd.DataFrame(columns=["time", "basket", "corr_short", "corr_baseline",
                                     "corr_shift", "basket_return", "vol_z", "corr_trigger",
                                     "vol_trigger", "trigger"])
    out = pd.concat(frames, ignore_index=True)
    out["trigger"] = out["corr_trigger"] | out["vol_trigger"]
    return out


def regime_events(regime: pd.DataFrame) -> pd.DataFrame:
    """When each trigger fired: one row per bar where a basket's trigger switches on.

    Columns ``time, basket, trigger`` (``corr_shift`` or ``vol_spike``) and the value that fired it.
    """
    rows = []
    for kind, col, val in (("corr_shift", "corr_trigger", "corr_shift"),
                           ("vol_spike", "vol_trigger", "vol_z")):
        on = regime[col].to_numpy()
        prev = regime.groupby("basket", sort=False)[col].shift(1, fill_value=False).to_numpy()
        hit = regime.loc[on & ~prev.astype(bool), ["time", "basket", val]]
        rows.append(hit.rename(columns={val: "value"}).assign(trigger=kind))
    ev = pd.concat(rows, ignore_index=True)
    return ev.sort_values(["time", "basket", "trigger"]).reset_index(drop=True)[
        ["time", "basket", "trigger", "value"]]


def plot_regime(
    regime: pd.DataFrame,
    dest: str | Path,
    cfg: BasketsConfig,
    title: str = "basket regime triggers",
) -> Path:
    """PNG of the triggers over time: basket returns, and how many baskets fire each trigger.

    Top: each basket's cumulative weighted log return. Middle: per bar, the number of baskets
    whose volatility trigger is on (the day with most onsets is annotated). Bottom: per bar, the
    number of baskets whose correlation-shift trigger is on. Written atomically.
    """
    fig, (ax1, ax2, ax3) = subplots(3, 1, figsize=(13, 8), sharex=True,
                                    gridspec_kw={"height_ratios": [2, 1.3, 1]})
    n_b = regime["basket"].nunique()
    for basket, g in regime.groupby("basket", sort=True):
        ax1.plot(pd.DatetimeIndex(g["time"]), np.nancumsum(g["basket_return"].to_numpy()),
                 lw=0.7, label=str(basket))
    per_bar = regime.groupby("time")[["vol_trigger", "corr_trigger"]].sum()
    t = pd.DatetimeIndex(per_bar.index)
    ax2.vlines(t, 0, per_bar["vol_trigger"], lw=0.8, color="tab:red")
    ax3.fill_between(t, 0, per_bar["corr_trigger"], step="post", color="tab:blue", alpha=0.5,
                     lw=0)
    onsets = regime_events(regime)
    vol = onsets[onsets["trigger"] == "vol_spike"]
    if len(vol):
        by_day = vol.groupby(pd.DatetimeIndex(vol["time"]).floor("D")).size()
        day = by_day.idxmax()
        ax2.annotate(f"{day:%Y-%m-%d}: {by_day.max()} spike onsets", xy=(day, n_b),
                     xytext=(10, -12), textcoords="offset points", fontsize=8,
                     arrowprops={"arrowstyle": "->", "lw": 0.6})
    ax1.set_ylabel("cumulative log return")
    ax1.legend(fontsize=6, ncol=7, loc="lower left")
    ax2.set_ylabel(f"baskets: 1h vol\n> {cfg.vol_sigma:g} sd of 30d")
    ax3.set_ylabel(f"baskets: |corr shift|\n> {cfg.corr_shift:g}")
    for ax in (ax2, ax3):
        ax.set_ylim(0, n_b + 0.5)
    ax1.set_title(title)
    fig.tight_layout()
    return save_png(fig, dest)
