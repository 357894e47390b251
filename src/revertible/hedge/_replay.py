"""Replay a spot holding against the same holding hedged with a short perpetual (pure core).

Timing (every decision uses bars ``<= t`` only):

- bar ``0`` is the baseline: the holding is valued at its close, the first hedge is decided there
  and filled at the **open** of bar ``1``. Every later resize, unwind or re-hedge is decided at the
  close of bar ``t`` and filled at the open of ``t + 1`` (taker fee + slippage on the perp
  notional).
- funding settling at bar ``t`` (its open time) applies to the contracts carried *into* ``t``
  (held before the fill at that open). A short receives ``rate * contracts * perp_open``; a negative
  rate is paid. ``funding_paid`` is the net amount paid (negative: received).
- the margin account starts at ``notional / leverage`` with the leverage decided at the previous
  close (the rule of :func:`~revertible.hedge.hedge_rule`, or ``hedge.leverage``), is marked to
  market every bar, and the short is liquidated when the bar's **high** reaches the price at
  which equity equals ``maintenance_margin_rate * notional``; it is then closed at that price and
  the remaining maintenance margin is lost. A gap at the open beyond it liquidates at the open.
- ``hedge.on_margin_call``: ``top_up`` checks at each close whether the liquidation price lies
  within the margin-call distance and, if so, adds collateral back to ``notional / leverage`` at
  that close's price (a transfer, not a P&L); after a liquidation it (like ``reopen``) re-opens
  the short at the next open with fresh margin; ``stop`` stays unhedged after a liquidation.
  Margin put in (opening, re-opening, resizing up, topping up) is ``collateral_in``, margin taken
  out (resizing down, closing) is negative there; ``collateral_posted`` is the peak of their sum,
  ``collateral_added`` that peak less the opening margin.
- the hedge is marked at the last close; no closing fee is charged at the end of the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import HedgeConfig

__all__ = ["HedgeReplay", "replay_hedge", "hedge_metrics", "REPLAY_COLUMNS"]

REPLAY_COLUMNS = ("contracts", "spot_pnl", "perp_pnl", "funding", "fees", "basis_pnl",
                  "liquidation_loss", "margin", "collateral_in", "liquidation_price", "hedge_on")


_POLICY = {"stop": 0, "reopen": 1, "top_up": 2}


@nb.njit(cache=True)
def _kernel(s_close, p_open, p_close, p_high, b_open, b_close, funding, target, quantity,
            lev, call_dist, policy, mmr, cost, unwind, unwind_thr, persist,
            drift):  # pragma: no cover - numba
    n = s_close.size
    contracts = np.zeros(n)
    spot_pnl = np.zeros(n)
    perp_pnl = np.zeros(n)
    fund = np.zeros(n)
    fees = np.zeros(n)
    basis_pnl = np.zeros(n)
    liq_loss = np.zeros(n)
    margin = np.zeros(n)
    coll_in = np.zeros(n)
    liqp = np.full(n, np.nan)
    # liquidations, unwinds, rehedges, resizes, margin calls, re-opens after a liquidation
    counts = np.zeros(6, dtype=np.int64)
    liq_bar = -1
    h = 0.0  # contracts held (short, >= 0)
    m = 0.0  # margin equity
    off = False  # unwound by the funding rule
    dead = False  # liquidated, policy stop
    was_liq = False  # flat after a liquidation (reopen / top_up re-open)
    hi = 0
    lo = 0
    want = 0.0
    if np.isfinite(target[0]) and target[0] > 0.0:
        want = target[0]
    for t in range(1, n):
        spot_pnl[t] = quantity * (s_close[t] - s_close[t - 1])
        if h > 0.0:  # gap from the previous close to this open, on the contracts carried in
            g = -h * (p_open[t] - p_close[t - 1])
            perp_pnl[t] += g
            basis_pnl[t] += -h * (b_open[t] - b_close[t - 1])
            m += g
            if np.isfinite(funding[t]):
                fund[t] = funding[t] * h * p_open[t]
                m += fund[t]
            if m < mmr * h * p_open[t]:  # gapped through the liquidation price
                liq_loss[t] = max(m, 0.0)
                counts[0] += 1
                if liq_bar < 0:
                    liq_bar = t
                h = 0.0
                m = 0.0
                dead = policy == 0
                was_liq = True
                want = 0.0
        if want != h:  # fill the decision of the previous close at this open
            dh = want - h
            fees[t] = abs(dh) * p_open[t] * cost
            if h == 0.0:
                m = want * p_open[t] / lev[t - 1]
                coll_in[t] = m
                if was_liq:
                    counts[5] += 1
                    was_liq = False
            elif dh > 0.0:
                add = dh * p_open[t] / lev[t - 1]
                m += add
                coll_in[t] = add
            else:  # smaller (or closed): the freed margin goes back to the hedger
                coll_in[t] = -m * (1.0 - want / h)
                m *= want / h
            m -= fees[t]
            h = want
            if h == 0.0:
                m = 0.0
        if h > 0.0:
            liq = (m + h * p_open[t]) / (h * (1.0 + mmr))
            liqp[t] = liq
            if p_high[t] >= liq:
                perp_pnl[t] += -h * (liq - p_open[t])
                liq_loss[t] = mmr * h * liq
                counts[0] += 1
                if liq_bar < 0:
                    liq_bar = t
                h = 0.0
                m = 0.0
                dead = policy == 0
                was_liq = True
            else:
                d = -h * (p_close[t] - p_open[t])
                perp_pnl[t] += d
                basis_pnl[t] += -h * (b_close[t] - b_open[t])
                m += d
        # a margin call at this close: top up to the rule's margin at this close's price
        if h > 0.0 and policy == 2 and np.isfinite(call_dist[t]):
            liq_c = (m + h * p_close[t]) / (h * (1.0 + mmr))
            if np.log(liq_c / p_close[t]) < call_dist[t]:
                need = h * p_close[t] / lev[t]
                if need > m:
                    coll_in[t] += need - m
                    m = need
                    counts[4] += 1
        contracts[t] = h
        margin[t] = m
        # decide at this close, for the next open
        if np.isfinite(funding[t]):
            if -funding[t] > unwind_thr:
                hi += 1
                lo = 0
            else:
                lo += 1
                hi = 0
            if unwind and not off and hi >= persist:
                off = True
                counts[1] += 1
            elif unwind and off and lo >= persist:
                off = False
                counts[2] += 1
        if dead or off or not (np.isfinite(target[t]) and target[t] > 0.0):
            want = 0.0
        elif h == 0.0:
            want = target[t]
        elif abs(target[t] / h - 1.0) > drift:
            want = target[t]
            counts[3] += 1
        else:
            want = h
    return (contracts, spot_pnl, perp_pnl, fund, fees, basis_pnl, liq_loss, margin, coll_in,
            liqp, counts, liq_bar)


@dataclass(frozen=True)
class HedgeReplay:
    """Result of :func:`replay_hedge`.

    Attributes
    ----------
    bars : pandas.DataFrame
        One row per bar (index: bar open time): :data:`REPLAY_COLUMNS` plus ``unhedged_equity``,
        ``hedged_equity``, ``basis`` (perp close - hedge-asset spot close), ``perp_close`` and
        ``funding_rate``.
    metrics : dict
        Flat metrics, see :func:`hedge_metrics`.
    """

    bars: pd.DataFrame
    metrics: dict[str, float]


def replay_hedge(
    times: pd.DatetimeIndex,
    spot_close: np.ndarray,
    perp_open: np.ndarray,
    perp_close: np.ndarray,
    perp_high: np.ndarray,
    basis_open: np.ndarray,
    basis_close: np.ndarray,
    funding: np.ndarray,
    target: np.ndarray,
    quantity: float,
    cfg: HedgeConfig,
    *,
    unwind: bool,
    periods_per_year: float,
    rule: dict[str, np.ndarray] | None = None,
    policy: str | None = None,
) -> HedgeReplay:
    """Replay the holding alone and hedged by ``target`` short contracts (see module notes).

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Bar open times of the range, length ``T >= 2``.
    spot_close : numpy.ndarray
        Close of the held asset's spot (no NaN).
    perp_open, perp_close, perp_high : numpy.ndarray
        The hedge perpetual's bars (no NaN).
    basis_open, basis_close : numpy.ndarray
        Perp minus the hedge asset's spot, at the open and the close.
    funding : numpy.ndarray
        Funding rate settling at each bar, NaN where none.
    target : numpy.ndarray
        Contracts to be short, decided at each bar's close from data ``<= t`` (NaN: none yet).
    quantity : float
        Units of the held asset.
    cfg : HedgeConfig
        Leverage, margin, costs, unwind threshold/persistence, resize drift.
    unwind : bool
        Apply the funding unwind / re-hedge rule.
    periods_per_year : float
        Bars per year (8760 for hourly) for the annualised volatility.
    rule : dict, optional
        ``leverage`` and ``call_distance`` per bar (:func:`~revertible.hedge.hedge_rule`);
        default: the rule on this range's perpetual, held for ``hedge.holding_bars`` or the range.
    policy : {'top_up', 'reopen', 'stop'}, optional
        After a margin call or a liquidation (default ``hedge.on_margin_call``).

    Returns
    -------
    HedgeReplay
    """
    from ._plan import hedge_rule

    f = np.ascontiguousarray
    if rule is None:
        rule = hedge_rule(np.asarray(perp_close, float), np.asarray(perp_high, float), cfg,
                          cfg.holding_bars or len(times))
    cost = cfg.taker_fee + cfg.slippage_bps * 1e-4
    out = _kernel(f(spot_close, float), f(perp_open, float), f(perp_close, float),
                  f(perp_high, float), f(basis_open, float), f(basis_close, float),
                  f(funding, float), f(target, float), float(quantity),
                  f(rule["leverage"], float), f(rule["call_distance"], float),
                  _POLICY[policy or cfg.on_margin_call], cfg.maintenance_margin_rate, cost,
                  bool(unwind), cfg.unwind_funding, cfg.unwind_persistence, cfg.rebalance_drift)
    *cols, counts, liq_bar = out
    bars = pd.DataFrame(dict(zip(REPLAY_COLUMNS[:-1], cols, strict=True)), index=times)
    bars["hedge_on"] = bars["contracts"] > 0
    v0 = quantity * float(spot_close[0])
    hedged = (bars["spot_pnl"] + bars["perp_pnl"] + bars["funding"] - bars["fees"]
              - bars["liquidation_loss"])
    bars["unhedged_equity"] = v0 + bars["spot_pnl"].cumsum()
    bars["hedged_equity"] = v0 + hedged.cumsum()
    bars["basis"] = basis_close
    bars["perp_close"] = perp_close
    bars["funding_rate"] = funding
    metrics = hedge_metrics(bars, periods_per_year)
    metrics.update(liquidations=float(counts[0]), unwinds=float(counts[1]),
                   rehedges=float(counts[2]), resizes=float(counts[3]),
                   margin_calls=float(counts[4]), reopens=float(counts[5]))
    metrics["liquidated_at_bar"] = float(liq_bar)  # the first liquidation, -1: none
    # capital in the margin account: deposits less withdrawals (not the P&L it accrues)
    coll = np.cumsum(bars["collateral_in"].to_numpy())
    first = np.flatnonzero(coll > 0)
    metrics["collateral_posted"] = float(coll.max(initial=0.0))
    metrics["collateral_added"] = float(coll.max(initial=0.0) - (coll[first[0]] if first.size
                                                                  else 0.0))
    # the leverage of the first fill: decided at the close before it
    metrics["opening_leverage"] = (float(rule["leverage"][first[0] - 1]) if first.size
                                   else float("nan"))
    gap = np.log(bars["liquidation_price"].to_numpy() / np.asarray(perp_high, float))
    ok = np.isfinite(gap)
    metrics["closest_liquidation_distance"] = float(gap[ok].min()) if ok.any() else float("nan")
    metrics["closest_at_bar"] = float(np.flatnonzero(ok)[np.argmin(gap[ok])]) if ok.any() \
        else -1.0
    return HedgeReplay(bars=bars, metrics=metrics)


def _vol(equity: np.ndarray, periods_per_year: float) -> float:
    r = np.diff(equity) / equity[:-1]
    return float(np.std(r, ddof=1) * np.sqrt(periods_per_year)) if r.size > 1 else float("nan")


def _max_dd(equity: np.ndarray) -> float:
    return float(np.max(1.0 - equity / np.maximum.accumulate(equity)))


def hedge_metrics(bars: pd.DataFrame, periods_per_year: float) -> dict[str, float]:
    """Flat metrics of a replay.

    ``unhedged.*`` / ``hedged.*``: ``volatility`` (annualised std of bar returns of the equity),
    ``max_drawdown`` (positive fraction), ``return`` (over the range, on the holding's starting
    value). ``funding_paid`` (net paid by the short, quote currency; negative = received),
    ``basis_pnl`` (perp P&L from the perp-minus-spot change), ``fees``, ``liquidation_loss``,
    ``spot_pnl``, ``perp_pnl``, ``hedge_effectiveness`` (``1 - var(hedged bar P&L) /
    var(unhedged bar P&L)``) and ``hedged_bars`` (share of bars with a hedge on).
    """
    u = bars["unhedged_equity"].to_numpy()
    h = bars["hedged_equity"].to_numpy()
    du, dh = np.diff(u), np.diff(h)
    var_u = float(np.var(du, ddof=1)) if du.size > 1 else float("nan")
    eff = 1.0 - float(np.var(dh, ddof=1)) / var_u if var_u > 0 else float("nan")
    return {
        "unhedged.volatility": _vol(u, periods_per_year),
        "hedged.volatility": _vol(h, periods_per_year),
        "unhedged.max_drawdown": _max_dd(u),
        "hedged.max_drawdown": _max_dd(h),
        "unhedged.return": float(u[-1] / u[0] - 1.0),
        "hedged.return": float(h[-1] / u[0] - 1.0),
        "funding_paid": float(-bars["funding"].sum()),
        "basis_pnl": float(bars["basis_pnl"].sum()),
        "fees": float(bars["fees"].sum()),
        "liquidation_loss": float(bars["liquidation_loss"].sum()),
        "spot_pnl": float(bars["spot_pnl"].sum()),
        "perp_pnl": float(bars["perp_pnl"].sum()),
        "hedge_effectiveness": eff,
        "hedged_bars": float(bars["hedge_on"].iloc[1:].mean()),
    }
