"""Metrics of one strategy: equity-curve performance, ledger counts, probability deciles."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._stats import bootstrap_mean_ci, daily_returns, deflated_sharpe, sharpe_by_period

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["performance_metrics", "trade_metrics", "reversion_by_decile", "strategy_metrics",
           "core_metrics"]


def performance_metrics(equity: np.ndarray, bars_per_year: float = 24 * 365) -> dict[str, float]:
    """Return, risk and drawdown of an equity curve sampled once per bar.

    Conventions: returns are simple bar returns ``E_k / E_(k-1) - 1``; ``sharpe`` is
    ``mean / std (ddof 1) * sqrt(bars_per_year)`` (no risk-free rate) and NaN when the returns
    are constant (std below ``1e-9 * |mean|``: undefined, not infinite) or fewer than 2;
    ``sortino`` divides by the downside deviation ``sqrt(mean(min(r, 0)^2))`` (NaN without a
    losing bar); ``max_drawdown`` is ``min_k(E_k / max_(j<=k) E_j) - 1``, so it is ``<= 0``
    (``-0.25``: a 25% fall from a peak); ``calmar`` is ``annual_return / -max_drawdown``
    (NaN without a drawdown); ``annual_return`` compounds ``total_return`` over
    ``n_returns / bars_per_year`` years (-1 once equity reaches 0).

    Examples
    --------
    >>> m = performance_metrics(np.array([100.0, 120.0, 90.0, 135.0]))
    >>> round(m["total_return"], 4), round(m["max_drawdown"], 4)
    (0.35, -0.25)
    """
    e = np.asarray(equity, dtype=float)
    nan = float("nan")
    out = dict.fromkeys(("total_return", "annual_return", "sharpe", "sortino", "max_drawdown",
                         "calmar", "volatility"), nan)  # fmt: skip
    if len(e) < 2 or not np.isfinite(e).all() or e[0] <= 0.0:
        return out
    ruined = np.flatnonzero(e <= 0.0)
    if ruined.size:
        e = e.copy()
        e[ruined[0] :] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(e[:-1] > 0.0, e[1:] / e[:-1] - 1.0, 0.0)
    total = e[-1] / e[0] - 1.0
    years = len(r) / bars_per_year
    out["total_return"] = float(total)
    out["annual_return"] = float((1.0 + total) ** (1.0 / years) - 1.0) if total > -1.0 else -1.0
    peak = np.maximum.accumulate(e)
    out["max_drawdown"] = float(np.min(e / peak - 1.0))
    if len(r) >= 2:
        mean = float(r.mean())
        std = float(r.std(ddof=1))
        out["volatility"] = std * math.sqrt(bars_per_year)
        if std > 1e-9 * abs(mean) and std > 0.0:
            out["sharpe"] = mean / std * math.sqrt(bars_per_year)
        down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        if down > 0.0:
            out["sortino"] = mean / down * math.sqrt(bars_per_year)
    if out["max_drawdown"] < 0.0:
        out["calmar"] = out["annual_return"] / -out["max_drawdown"]
    return out


def trade_metrics(trades: pd.DataFrame) -> dict[str, float]:
    """Count and average a ledger: trades, win rate, average win and loss, costs paid."""
    pnl = trades["pnl"].to_numpy(float)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    nan = float("nan")
    return {
        "trades": float(len(pnl)),
        "win_rate": float(len(wins) / len(pnl)) if len(pnl) else nan,
        "avg_win": float(wins.mean()) if len(wins) else nan,
        "avg_loss": float(losses.mean()) if len(losses) else nan,
        "avg_pnl": float(pnl.mean()) if len(pnl) else nan,
        "pnl": float(pnl.sum()),
        "fees": float(trades["fees"].sum()),
        "slippage": float(trades["slippage"].sum()),
        "funding": float(trades["funding"].sum()),
        "borrow": float(trades["borrow"].sum()) if "borrow" in trades else 0.0,
        "traded_notional": float(
            (trades["qty_a"] * (trades["entry_price_a"] + trades["exit_price_a"])
             + trades["qty_b"] * (trades["entry_price_b"] + trades["exit_price_b"])).sum()
        ),
        "take_profit_rate": float((trades["exit_reason"] == "take_profit").mean())
        if len(pnl) else nan,
    }  # fmt: skip


def reversion_by_decile(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability and realised reversion rate per probability decile.

    Equal-frequency bins of the labelled rows in ascending probability (decile 1 lowest);
    rows without a label (open episodes) or probability are left out.
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    order = np.argsort(p, kind="stable")
    bins = [b for b in np.array_split(order, min(n_bins, len(p))) if len(b)] if len(p) else []
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(bins) + 1),
            "n": [len(b) for b in bins],
            "predicted": [float(p[b].mean()) for b in bins],
            "realised": [float(y[b].mean()) for b in bins],
        }
    )


def strategy_metrics(
    equity: pd.Series, gross: pd.Series, margin: np.ndarray, trades: pd.DataFrame,
    hedge: np.ndarray, bars_per_year: float, n_trials: int, cfg: Config,
) -> dict[str, float]:
    """Every ``<strategy>.<metric>`` of one strategy (module docstring)."""
    curve = equity.to_numpy()  # starts at capital: the first fill is after the first bar
    m = performance_metrics(curve, bars_per_year)
    m.update(trade_metrics(trades))
    mean_eq = float(np.mean(curve))
    m["turnover"] = m.pop("traded_notional") / mean_eq if mean_eq > 0 else float("nan")
    g = gross.to_numpy()
    m["exposure"] = float(np.mean(g > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = np.where(curve > 0, g / curve, np.nan)
    m["avg_gross_leverage"] = float(np.nanmean(lev)) if np.isfinite(lev).any() else 0.0
    m["final_equity"] = float(curve[-1])
    if hedge[4] >= 2:
        var_h = (hedge[1] - hedge[0] ** 2 / hedge[4]) / (hedge[4] - 1)
        var_u = (hedge[3] - hedge[2] ** 2 / hedge[4]) / (hedge[4] - 1)
        ratio = math.sqrt(max(var_h, 0.0) / var_u) if var_u > 0 else float("nan")
        m["hedge_vol_ratio"] = ratio
        m["hedge_effectiveness"] = 1.0 - ratio**2
    else:
        m["hedge_vol_ratio"] = m["hedge_effectiveness"] = float("nan")
    # statistics
    days = pd.DatetimeIndex(trades["exit_time"]).floor("D").asi8 if len(trades) else []
    mean, lo, hi = bootstrap_mean_ci(trades["net_bp"].to_numpy(float), np.asarray(days),
                                     n_samples=cfg.backtest.bootstrap_samples,
                                     seed=cfg.backtest.seed)  # fmt: skip
    m["net_bp_per_trade"], m["net_bp_per_trade_ci_low"], m["net_bp_per_trade_ci_high"] = (
        mean, lo, hi)
    m["deflated_sharpe"] = deflated_sharpe(daily_returns(equity), n_trials)
    for q, v in sharpe_by_period(equity, bars_per_year).items():
        m[f"sharpe_{q}"] = v
    for reason in ("take_profit", "stop", "time", "correlation", "end_of_data"):
        m[f"exit_{reason}"] = (float((trades["exit_reason"] == reason).mean())
                               if len(trades) else float("nan"))  # fmt: skip
    hold = (trades["exit_time"] - trades["entry_time"]).dt.total_seconds() / 3600.0
    m["avg_hold_hours"] = float(hold.mean()) if len(trades) else float("nan")
    m["borrow"] = float(trades["borrow"].sum())
    m["rebalances"] = float(trades["rebalances"].sum())
    m["rebalance_cost"] = float(trades["rebalance_cost"].sum())
    held = margin[margin > 0]
    m["return_on_margin"] = (float(trades["pnl"].sum()) / float(held.mean()) if len(held)
                             else float("nan"))  # fmt: skip
    lev_ = m["avg_gross_leverage"]
    m["leverage_adjusted_sharpe"] = m["sharpe"] / lev_ if lev_ > 0 else float("nan")
    return m


def core_metrics(equity: pd.Series, trades: pd.DataFrame, bars_per_year: float,
                 n_trials: int) -> dict[str, float]:
    """The metrics of :func:`strategy_metrics` a search objective reads, computed alike.

    :func:`performance_metrics`, :func:`trade_metrics` (with ``turnover`` as there),
    ``net_bp_per_trade`` (the mean over finite values, as :func:`._stats.bootstrap_mean_ci`
    returns it, without the interval), ``deflated_sharpe`` and ``final_equity``: the
    ``light`` backtest of a strategy-search trial.
    """
    curve = equity.to_numpy()
    m = performance_metrics(curve, bars_per_year)
    m.update(trade_metrics(trades))
    mean_eq = float(np.mean(curve))
    m["turnover"] = m.pop("traded_notional") / mean_eq if mean_eq > 0 else float("nan")
    m["final_equity"] = float(curve[-1])
    v = trades["net_bp"].to_numpy(float)
    v = v[np.isfinite(v)]
    m["net_bp_per_trade"] = float(v.mean()) if len(v) else float("nan")
    m["deflated_sharpe"] = deflated_sharpe(daily_returns(equity), n_trials)
    return m
