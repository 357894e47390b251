"""Leverage and liquidation: each leg's liquidation price beyond its plausible adverse move.

Each leg is isolated margin at leverage ``min(max_gross_leverage, L_safe)``. ``L_safe`` keeps the
leg's liquidation price beyond the larger of two adverse log moves, times ``1 + cushion``
(``sizing.liquidation_cushion``: stops are checked on closes, a leg can overshoot within a bar):

* the **stop move**: the move the leg makes if it alone carries the spread from its current
  ``z'`` to the trade's stop, ``(stop distance in z) * spread_std`` for leg A and that over
  ``|beta|`` for leg B;
* the **leg's own move**: ``k * vol * sqrt(horizon)`` with ``vol`` the leg's trailing one-bar
  log-return volatility and ``k = sizing.liquidation_sigmas``: a leg can move a lot while the
  spread stays put (both legs together), which the stop alone never sees.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import SizingConfig
from ._checks import BIG_LOG_MOVE, TOL, check_side, require

__all__ = ["liquidation_price", "max_safe_leverage", "liquidation_prices", "safe_leverages"]

_CUSHION = SizingConfig.model_fields["liquidation_cushion"].default


def liquidation_price(price: float, side: str, leverage: float, mmr: float) -> float:
    """Isolated-margin liquidation price of a leg entered at ``price`` with ``leverage``.

    Long: ``price * (1 - 1/L + mmr)`` (floored at 0: no liquidation); short:
    ``price * (1 + 1/L - mmr)``.

    Raises
    ------
    ValueError
        If ``price <= 0``, ``leverage <= 0``, ``mmr`` outside [0, 1) or the side is unknown.

    Examples
    --------
    >>> liquidation_price(100.0, "long", 3.0, 0.005), liquidation_price(100.0, "short", 2.0, 0.0)
    (67.16666666666667, 150.0)

    """
    require(math.isfinite(price) and price > 0.0, "price > 0", price=price)
    require(math.isfinite(leverage) and leverage > 0.0, "leverage > 0", leverage=leverage)
    require(0.0 <= mmr < 1.0, "0 <= mmr < 1", mmr=mmr)
    check_side(side)
    if side == "long":
        return max(0.0, price * (1.0 - 1.0 / leverage + mmr))
    return price * (1.0 + 1.0 / leverage - mmr)


def max_safe_leverage(
    adverse_log_move: float,
    side: str,
    mmr: float,
    *,
    max_leverage: float,
    cushion: float = _CUSHION,
) -> float:
    """Highest leverage (at most ``max_leverage``) whose liquidation lies beyond an adverse move.

    The move ``m = adverse_log_move * (1 + cushion)`` in log price is a fractional drop
    ``1 - exp(-m)`` for a long and a rise ``exp(m) - 1`` for a short; the liquidation distance
    at leverage ``L`` is ``1/L - mmr``, so ``L < 1 / (fraction + mmr)``.

    Raises
    ------
    ValueError
        If ``adverse_log_move < 0``, ``cushion < 0``, ``max_leverage <= 0``, ``mmr`` outside
        [0, 1) or the side is unknown.

    Examples
    --------
    >>> round(max_safe_leverage(0.2, "short", 0.0, max_leverage=10.0, cushion=0.0), 4)
    4.5167

    """
    require(adverse_log_move >= 0.0, "adverse_log_move >= 0", adverse_log_move=adverse_log_move)
    require(cushion >= 0.0, "cushion >= 0", cushion=cushion)
    require(
        math.isfinite(max_leverage) and max_leverage > 0.0,
        "max_leverage > 0",
        max_leverage=max_leverage,
    )
    require(0.0 <= mmr < 1.0, "0 <= mmr < 1", mmr=mmr)
    check_side(side)
    move = min(adverse_log_move * (1.0 + cushion), BIG_LOG_MOVE)
    frac = -math.expm1(-move) if side == "long" else math.expm1(move)
    denom = frac + mmr
    if denom <= 0.0:
        return max_leverage
    return min(max_leverage, (1.0 - TOL) / denom)



def safe_leverages(
    adverse_log_move: np.ndarray, sign: np.ndarray, mmr: float, max_leverage: float
) -> np.ndarray:
    """Vectorised :func:`max_safe_leverage` (cushion already in the move); ``sign`` +1 long.

    NaN moves give NaN.

    Examples
    --------
    >>> safe_leverages(np.array([0.2]), np.array([-1.0]), 0.0, 10.0).round(4).tolist()
    [4.5167]

    """
    move = np.minimum(np.asarray(adverse_log_move, dtype=float), BIG_LOG_MOVE)
    frac = np.where(np.asarray(sign) > 0, -np.expm1(-move), np.expm1(move))
    denom = frac + mmr
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lev = np.where(denom > 0.0, (1.0 - TOL) / denom, max_leverage)
    return np.where(np.isnan(move), np.nan, np.minimum(max_leverage, lev))


def liquidation_prices(
    price: np.ndarray, sign: np.ndarray, leverage: np.ndarray, mmr: float
) -> np.ndarray:
    """Vectorised :func:`liquidation_price` (``sign`` +1 long, -1 short); 0 where not traded."""
    price = np.asarray(price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.asarray(leverage, dtype=float)
        long_ = np.maximum(0.0, price * (1.0 - inv + mmr))
        short = price * (1.0 + inv - mmr)
    out = np.where(np.asarray(sign) > 0, long_, short)
    return np.where(np.isfinite(out), out, 0.0)

