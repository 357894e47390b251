"""Metrics of one strategy: equity-curve performance, ledger counts, probability deciles."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._stats import bootstrap_mean_ci, daily_returns, deflated_sharpe, sharpe_by_period

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["bars_per_year_of", "performance_metrics", "trade_metrics", "reversion_by_decile",
           "strategy_metrics", "core_metrics", "stake_metrics", "per_trade_note",
           "LARGEST_TRADES", "MIN_YEARS"]

#: ``annual_return`` (and ``calmar``) need at least this many years of bars: compounding six
#: weeks to a year turns -27% into -92%, a number nobody earned.
MIN_YEARS = 1.0
#: :func:`stake_metrics` reports the P&L share of this many largest trades (by stake).
LARGEST_TRADES = 20


def bars_per_year_of(times: pd.DatetimeIndex) -> float:
    """Bars in 365 days at the spacing of ``times`` (8760 hourly, 2190 at 4h, 35040 at 15m).

    The median spacing, so a missing bar does not change the annualisation.
    """
    if len(times) < 2:
        raise ValueError("bars per year need at least 2 timestamps")
    step = pd.Timedelta(int(np.median(np.diff(times.as_unit("ns").asi8))), unit="ns")
    return float(pd.Timedelta(days=365) / step)


def performance_metrics(
    equity: np.ndarray | pd.Series, bars_per_year: float | None = None, min_years: float = 0.0
) -> dict[str, float]:
    """Return, risk and drawdown of an equity curve sampled once per bar.

    ``bars_per_year``: the annualisation factor; None takes it from the bar spacing of a
    time-indexed ``equity`` (:func:`bars_per_year_of`), else hourly (``24 * 365``). Annualised
    figures are then the same at any bar size the curve is sampled at (within sampling error).
    ``annual_return`` and ``calmar`` are NaN when the curve spans fewer than ``min_years``
    years (:func:`strategy_metrics` passes :data:`MIN_YEARS`).

    Conventions: returns are simple bar returns ``E_k / E_(k-1) - 1``; ``sharpe`` is
    ``mean / std (ddof 1) * sqrt(bars_per_year)`` (no risk-free rate) and NaN when the returns
    are constant (std below ``1e-9 * |mean|``: undefined, not infinite) or fewer than 2;
    ``sortino`` divides by the downside deviation ``sqrt(mean(min(r, 0)^2))`` (NaN without a
    losing bar); ``max_drawdown`` is ``min_k(E_k / max_(j<=k) E_j) - 1``, so it is ``<= 0``
    (``-0.25``: a 25% fall from a peak); ``calmar`` is ``annual_return / -max_drawdown``
    (NaN without a drawdown); ``annual_return`` compounds ``total_return`` over
    ``n_returns / bars_per_year`` years (-1 once equity reaches 0; inf where a short curve's
    compounding overflows).

    Examples
    --------
    >>> m = performance_metrics(np.array([100.0, 120.0, 90.0, 135.0]))
    >>> round(m["total_return"], 4), round(m["max_drawdown"], 4)
    (0.35, -0.25)
    """
    if bars_per_year is None:
        index = getattr(equity, "index", None)
        timed = isinstance(index, pd.DatetimeIndex) and len(index) > 1
        bars_per_year = bars_per_year_of(index) if timed else 24.0 * 365
    e = np.asarray(equity, dtype=float)
    nan = math.nan  # one object: metric dicts with a NaN still compare equal
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
    if years >= min_years:  # a few bars compounded to a year may overflow: inf, said so
        with np.errstate(over="ignore"):
            out["annual_return"] = (float((1.0 + total) ** (1.0 / years) - 1.0)
                                    if total > -1.0 else -1.0)
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
    if out["max_drawdown"] < 0.0 and np.isfinite(out["annual_return"]):
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


def stake_metrics(trades: pd.DataFrame, largest: int = LARGEST_TRADES) -> dict[str, float]:
    """Per-trade figures weighted by stake beside the equal-weighted ``net_bp_per_trade``.

    ``net_bp_per_trade_stake_weighted``: total P&L over total gross entry notional, in bp (the
    mean of ``net_bp`` weighted by each trade's notional); ``largest_trades_pnl``: the net P&L
    of the ``largest`` trades by entry notional, and ``largest_trades_pnl_share`` that over the
    total P&L (1.0: all of it; above 1: the rest made money back).
    """
    nan = math.nan
    if not len(trades):
        return {"net_bp_per_trade_stake_weighted": nan, "largest_trades_pnl": nan,
                "largest_trades_pnl_share": nan}
    stake = (trades["notional_a"].abs() + trades["notional_b"].abs()).to_numpy(float)
    pnl = trades["pnl"].to_numpy(float)
    ok = np.isfinite(pnl) & (stake > 0)
    total_stake = float(stake[ok].sum())
    top = np.argsort(-np.where(ok, stake, -np.inf), kind="stable")[:largest]
    big = float(pnl[top].sum())
    total = float(pnl[ok].sum())
    return {
        "net_bp_per_trade_stake_weighted": 1e4 * total / total_stake if total_stake else nan,
        "largest_trades_pnl": big,
        "largest_trades_pnl_share": big / total if total else nan,
    }


def per_trade_note(metrics: dict[str, float], strategy: str) -> str:
    """A sentence when the equal- and stake-weighted per-trade figures disagree ('' if not).

    They disagree when their signs differ, or one is more than twice the other: the trades that
    carried the money then did not do what the average trade did.
    """
    eq = metrics.get(f"{strategy}.net_bp_per_trade", float("nan"))
    st = metrics.get(f"{strategy}.net_bp_per_trade_stake_weighted", float("nan"))
    if not (np.isfinite(eq) and np.isfinite(st)):
        return ""
    apart = (np.sign(eq) != np.sign(st)) or max(abs(eq), abs(st)) > 2 * min(abs(eq), abs(st))
    if not apart:
        return ""
    n = int(metrics.get(f"{strategy}.trades", 0))
    big = metrics.get(f"{strategy}.largest_trades_pnl", float("nan"))
    share = metrics.get(f"{strategy}.largest_trades_pnl_share", float("nan"))
    tail = ""
    if np.isfinite(big) and n > LARGEST_TRADES:
        what = "made" if big >= 0 else "lost"
        tail = (f"; the {LARGEST_TRADES} largest trades {what} {abs(big):,.0f}"
                + (f" ({share:.0%} of the total P&L)" if np.isfinite(share) else ""))
    return (f"{strategy}: {eq:+.1f} bp per trade with every trade counted once, but {st:+.1f} bp "
            f"weighted by stake (what the capital earned): the larger trades did "
            f"{'worse' if st < eq else 'better'} than the average one{tail}.")


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
    m = performance_metrics(curve, bars_per_year, MIN_YEARS)
    m.update(trade_metrics(trades))
    m.update(stake_metrics(trades))
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
    m = performance_metrics(curve, bars_per_year, MIN_YEARS)
    m.update(trade_metrics(trades))
    mean_eq = float(np.mean(curve))
    m["turnover"] = m.pop("traded_notional") / mean_eq if mean_eq > 0 else float("nan")
    m["final_equity"] = float(curve[-1])
    v = trades["net_bp"].to_numpy(float)
    v = v[np.isfinite(v)]
    m["net_bp_per_trade"] = float(v.mean()) if len(v) else float("nan")
    m["deflated_sharpe"] = deflated_sharpe(daily_returns(equity), n_trials)
    return m
