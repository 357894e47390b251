"""The hedge plan at one bar, and the point-in-time hedge size (pure functions).

Everything here at bar ``t`` uses bars ``<= t`` only: the trailing beta and volatility are
backward-looking rolling windows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import HedgeConfig

__all__ = ["settlement_bars", "check_hedge_inputs", "check_notional", "trailing_beta",
           "trailing_vol", "hedge_target", "plan_hedge", "unwind_rule", "worst_rally",
           "leverage_for_distance", "hedge_rule", "MAX_QUANTITY", "MAX_NOTIONAL",
           "RULE_MIN_BARS"]

SETTLEMENTS_PER_DAY = 3  # Binance USDT-M funding every 8 h (some contracts settle every 4 h)
#: Sanity bounds of ``--quantity``: units held, and the holding's notional in the quote
#: currency (1e12 USDT is more than any exchange's open interest; past it, a typo).
MAX_QUANTITY = 1e12
MAX_NOTIONAL = 1e12
#: Bars of history the leverage rule needs before it replaces its 1x start.
RULE_MIN_BARS = 48


def settlement_bars(funding: np.ndarray, default: float) -> float:
    """Median spacing, in bars, of the funding events in ``funding`` (NaN: no event).

    ``default`` (the 8 h spacing) when fewer than two events exist.
    """
    idx = np.flatnonzero(np.isfinite(funding))
    return float(np.median(np.diff(idx))) if idx.size > 1 else float(default)


def check_hedge_inputs(quantity: float, ratio: float) -> None:
    """Raise :class:`ConfigError` unless ``0 < quantity <= MAX_QUANTITY`` and ``0 < ratio <= 2``."""
    if not (math.isfinite(quantity) and quantity > 0):
        raise ConfigError(f"--quantity must be > 0 (units of the spot holding), got {quantity}")
    if quantity > MAX_QUANTITY:
        raise ConfigError(f"--quantity {quantity:g} is past the sanity bound of {MAX_QUANTITY:g} "
                          "units; pass the units actually held (e.g. --quantity 2)")
    if not (math.isfinite(ratio) and 0 < ratio <= 2):
        raise ConfigError(
            f"--ratio must lie in (0, 2] (1.0 = short the full spot notional, 0.5 = half), "
            f"got {ratio}"
        )


def check_notional(quantity: float, price: float, asset: str) -> None:
    """Raise :class:`ConfigError` if the holding's notional passes :data:`MAX_NOTIONAL`."""
    value = quantity * price
    if value > MAX_NOTIONAL:
        raise ConfigError(
            f"--quantity {quantity:g} {asset} is worth {value:.3g} at {price:,.2f}, past the "
            f"sanity bound of {MAX_NOTIONAL:.0e} (quote currency); pass the units actually held"
        )


def _log_returns(x: np.ndarray) -> pd.Series:
    return pd.Series(np.log(x)).diff()


def trailing_beta(held: np.ndarray, hedge: np.ndarray, window: int) -> np.ndarray:
    """OLS slope of the held asset's log returns on the hedge's, over the trailing ``window`` bars.

    Bar ``t`` uses returns of bars ``t - window + 1 .. t``; NaN until 90% of the window exists.
    """
    a, b = _log_returns(held), _log_returns(hedge)
    minp = max(2, int(0.9 * window))
    cov = a.rolling(window, min_periods=minp).cov(b)
    var = b.rolling(window, min_periods=minp).var()
    return (cov / var.where(var > 0)).to_numpy()


def trailing_vol(price: np.ndarray, window: int) -> np.ndarray:
    """Std (ddof 1) of log returns over the trailing ``window`` bars, per bar; NaN in warm-up."""
    minp = max(2, int(0.9 * window))
    return _log_returns(price).rolling(window, min_periods=minp).std().to_numpy()


def worst_rally(close: np.ndarray, high: np.ndarray, window: int) -> np.ndarray:
    """Per bar ``t``: the largest log rise from a close to a high at most ``window`` bars later.

    Over the history ``<= t`` only (an expanding maximum): ``max_{j <= t} log(high_j /
    min(close_{j-window..j}))``; 0 at the first bar.
    """
    low = pd.Series(np.log(close)).rolling(window + 1, min_periods=1).min().to_numpy()
    rise = np.maximum(np.log(high) - low, 0.0)
    return pd.Series(rise).cummax().fillna(0.0).to_numpy()


def leverage_for_distance(distance: np.ndarray | float, mmr: float) -> np.ndarray:
    """The highest leverage whose liquidation price lies ``distance`` (log) above the entry.

    Isolated margin: ``liq = P (1 + 1/L) / (1 + mmr)``; ``liq = P e^d`` gives
    ``L = 1 / ((1 + mmr) e^d - 1)``.
    """
    inv = (1.0 + mmr) * np.exp(np.asarray(distance, dtype=float)) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inv > 0, 1.0 / inv, np.inf)


def hedge_rule(perp_close: np.ndarray, perp_high: np.ndarray, cfg: HedgeConfig,
               holding: int) -> dict[str, np.ndarray]:
    """The leverage rule and the margin-call distance at every bar (bars ``<= t`` only).

    Returns ``sigma`` (trailing std of bar log returns, ``cfg.vol_window`` bars, from
    :data:`RULE_MIN_BARS` bars on), ``rally`` (:func:`worst_rally` over ``holding`` bars),
    ``distance`` (the larger of the rally and ``cfg.liquidation_sigmas * sigma *
    sqrt(holding)``), ``leverage`` (``cfg.leverage`` when set, else the rule's, capped at
    ``cfg.max_leverage``; 1x before the sigma is known) and ``call_distance``
    (``cfg.margin_call_sigmas * sigma * sqrt(cfg.horizon)``).
    """
    minp = min(RULE_MIN_BARS, cfg.vol_window)
    sigma = _log_returns(perp_close).rolling(cfg.vol_window, min_periods=minp).std().to_numpy()
    rally = worst_rally(perp_close, perp_high, holding)
    distance = np.maximum(rally, cfg.liquidation_sigmas * sigma * math.sqrt(holding))
    if cfg.leverage is not None:
        lev = np.full(perp_close.shape, float(cfg.leverage))
    else:
        lev = np.minimum(leverage_for_distance(distance, cfg.maintenance_margin_rate),
                         cfg.max_leverage)
        lev = np.where(np.isfinite(sigma), lev, 1.0)
    call = cfg.margin_call_sigmas * sigma * math.sqrt(cfg.horizon)
    return {"sigma": sigma, "rally": rally, "distance": distance, "leverage": lev,
            "call_distance": call}


def hedge_target(quantity: float, ratio: float, held_close: np.ndarray,
                 perp_close: np.ndarray, beta: np.ndarray | None) -> np.ndarray:
    """Contracts to short at each bar.

    Same asset (``beta`` None): ``ratio * quantity`` (a short of ``ratio`` times the holding).
    Cross-asset: ``ratio * beta_t * quantity * held_t / perp_t``, i.e. a beta-weighted share of
    the holding's notional; NaN where the beta is not known yet, zero where it is negative.
    """
    if beta is None:
        return np.full(held_close.shape, ratio * quantity)
    target = ratio * beta * quantity * held_close / perp_close
    return np.where(np.isfinite(target), np.maximum(target, 0.0), np.nan)


def unwind_rule(funding: np.ndarray, cfg: HedgeConfig, per_8h: float = 1.0) -> dict[str, object]:
    """State of the funding unwind rule after the last settlement in ``funding`` (NaN: none).

    The source's rule: when funding PAID by the short stays above ``unwind_funding`` per
    settlement (0.01% per 8 h) for ``unwind_persistence`` settlements in a row, the hedge costs more
    than it protects: unwind; re-hedge after as many settlements back at or below it. With
    ``per_8h`` settlements per 8 h (2 for 4-hourly funding) the per-settlement threshold is
    ``unwind_funding / per_8h``.
    """
    events = funding[np.isfinite(funding)]
    paid = -events
    thr = cfg.unwind_funding / per_8h
    above = paid > thr
    streak = 0
    for flag in above[::-1][: cfg.unwind_persistence]:  # at most `persistence` items
        if not flag:
            break
        streak += 1
    action = "unwind" if streak >= cfg.unwind_persistence else "keep"
    every = f" ({thr:.4%} per settlement)" if per_8h != 1.0 else ""
    text = (f"unwind when funding paid by the short exceeds {cfg.unwind_funding:.4%} per 8h{every}"
            f" for {cfg.unwind_persistence} settlements in a row; last {streak} above -> {action}")
    return {"rule": text, "paid_streak": streak, "action": action}


def plan_hedge(
    *, contracts: float, spot_price: float, perp_price: float, hedge_spot_price: float,
    funding_rate: float, sigma: float, cfg: HedgeConfig, leverage: float, holding: int,
    distance: float, settlements_per_day: float = SETTLEMENTS_PER_DAY,
) -> dict[str, float]:
    """The short-perpetual hedge at one bar.

    Parameters
    ----------
    contracts : float
        Contracts (units of the hedge asset) to short.
    spot_price, perp_price, hedge_spot_price : float
        Held asset's spot, hedge perpetual and hedge asset's spot prices at the bar.
    funding_rate : float
        The latest funding rate (per settlement; positive: shorts receive).
    sigma : float
        Std of the perp's bar log returns over ``cfg.vol_window``.
    cfg : HedgeConfig
    leverage : float
        Leverage of the short (the rule's or ``cfg.leverage``).
    holding : int
        Holding period in bars: the distance is judged over it.
    distance : float
        The rule's required liquidation distance (log), :func:`hedge_rule`.
    settlements_per_day : float
        Funding settlements per day (3 for 8-hourly funding).

    Returns
    -------
    dict
        ``contracts``, ``notional``, ``initial_margin`` (notional / leverage),
        ``maintenance_margin``, ``liquidation_price`` (isolated margin = initial margin:
        ``P (1 + 1/leverage) / (1 + mmr)``), ``liquidation_distance`` (log distance),
        ``liquidation_sigmas`` (that distance in sigmas over the ``holding`` bars),
        ``required_distance`` (the rule's), ``collateral`` (margin that puts liquidation the
        rule's distance away, at least the initial margin), ``basis`` and ``basis_bp``
        (perp - hedge spot),
        ``funding_rate`` and ``funding_paid_per_day`` (at the current rate; negative: received).
    """
    mmr = cfg.maintenance_margin_rate
    notional = contracts * perp_price
    initial = notional / leverage
    liq = perp_price * (1.0 + 1.0 / leverage) / (1.0 + mmr)
    sigma_h = sigma * math.sqrt(holding)
    dist = math.log(liq / perp_price)
    up = perp_price * math.exp(distance) if math.isfinite(distance) else float("nan")
    collateral = max(initial, contracts * (up * (1.0 + mmr) - perp_price))
    basis = perp_price - hedge_spot_price
    return {
        "contracts": contracts,
        "notional": notional,
        "initial_margin": initial,
        "maintenance_margin": notional * mmr,
        "liquidation_price": liq,
        "liquidation_distance": dist,
        "liquidation_sigmas": dist / sigma_h if sigma_h > 0 else float("nan"),
        "sigma_holding": sigma_h,
        "holding_bars": float(holding),
        "required_distance": distance,
        "collateral": collateral,
        "basis": basis,
        "basis_bp": 1e4 * basis / hedge_spot_price,
        "funding_rate": funding_rate,
        "funding_paid_per_day": -funding_rate * notional * settlements_per_day,
    }
