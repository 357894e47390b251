"""Barrier payoff and probability-only bet sizes (the classifier-only path).

A bet that wins ``b`` per unit lost with probability ``p``: the payoff between the label's two
z barriers (:func:`payoff`), the edge ``p * b - (1 - p)``, and a bet size in [0, 1] (fractional
Kelly on the barrier odds, or AFML's map). :func:`revertible.decision.size_signals` uses these
only for signals that carry a probability and no outcome moments (``"legacy"`` sizing: the
backtest's classifier-only strategies); a model with return heads is sized by true fractional
Kelly on its outcome moments (:mod:`revertible.decision._kelly`). The barrier values understate
real losses (stops are checked on closes and overshoot): where a payoff must be used, prefer the
empirical win/loss sizes of :func:`revertible.decision.empirical_payoff`.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from scipy.special import ndtr

from ..config import CostConfig
from ..costs import round_trip_cost_per_leg_a
from ._checks import check_capital, check_payoff_ratio, check_probability, require

__all__ = [
    "Payoff",
    "Bet",
    "round_trip_cost",
    "payoff",
    "expected_edge",
    "kelly_size",
    "afml_size",
    "bet_size",
    "vol_target_notional",
]


class Payoff(NamedTuple):
    """Barrier payoff per unit of leg-A notional, net of round-trip costs on both legs.

    Attributes
    ----------
    win : float
        Net return at take-profit (may be <= 0 when costs eat the move).
    loss : float
        Net loss at the stop, as a positive number.
    ratio : float
        ``b = win / loss``; 0 when the trade is not worth taking (see ``reason``).
    cost : float
        Round-trip cost (entry and exit, both legs).
    reason : str
        Empty when ``ratio > 0``, otherwise why not.

    """

    win: float
    loss: float
    ratio: float
    cost: float
    reason: str


class Bet(NamedTuple):
    """A bet size in [0, 1], the expected edge ``p * b - (1 - p)`` and why it is zero if so."""

    size: float
    edge: float
    reason: str


def round_trip_cost(costs: CostConfig, leg_ratio: float) -> float:
    """Round-trip cost per unit of leg-A notional: two fills on each of the two legs.

    Parameters
    ----------
    costs : CostConfig
        The venue's fee of the configured fill (``costs.fee``: taker or maker) per leg per
        side and the taker slippage per fill (``costs.slippage``; 0 for maker fills).
    leg_ratio : float
        Leg-B notional per unit of leg-A notional (``>= 0``).

    Returns
    -------
    float
        ``2 * (fee + slippage) * (1 + leg_ratio)``: the cost model's
        :func:`revertible.costs.round_trip_cost_per_leg_a`, so maker fills and venue presets
        reach the decision and sizing.

    Examples
    --------
    >>> round(round_trip_cost(CostConfig(), 0.8), 6)
    0.00432

    """
    require(math.isfinite(leg_ratio) and leg_ratio >= 0.0, "leg_ratio >= 0", leg_ratio=leg_ratio)
    return round_trip_cost_per_leg_a(costs, leg_ratio)


def payoff(
    z_entry: float,
    spread_std: float,
    *,
    take_profit_z: float,
    stop_z: float,
    leg_ratio: float,
    costs: CostConfig,
) -> Payoff:
    """Net win, net loss and payoff ratio of a spread trade between its two z barriers.

    The position is ``-sign(z)`` units of spread per unit of leg-A notional, so its P&L is the
    change of the spread in log units (first order in the leg returns; with a ``vol_parity`` or
    ``dollar`` split the leg-B mismatch to ``|beta|`` is left out). The time stop is not
    modelled: an episode that times out counts as a loss at the stop, which is conservative
    because it usually exits between the barriers.

    Parameters
    ----------
    z_entry : float
        Z-score at entry (its sign only sets the direction; ``|z_entry|`` is used).
    spread_std : float
        Spread standard deviation in log units (``>= 0``).
    take_profit_z, stop_z : float
        Barriers on ``|z|`` (``take_profit_z < stop_z``), as in the label.
    leg_ratio : float
        Leg-B notional per unit of leg-A notional (costs are paid on both legs).
    costs : CostConfig
        Fees and slippage.

    Returns
    -------
    Payoff
        ``ratio == 0`` with a ``reason`` when the entry is outside the barriers, the std is
        zero or missing, or costs leave no net win.

    Raises
    ------
    ValueError
        If ``take_profit_z >= stop_z``, ``spread_std < 0`` or ``leg_ratio < 0``.

    Examples
    --------
    >>> pay = payoff(2.3, 0.02, take_profit_z=0.5, stop_z=4.0, leg_ratio=0.8, costs=CostConfig())
    >>> round(pay.win, 5), round(pay.loss, 5), round(pay.ratio, 4)
    (0.03168, 0.03832, 0.8267)

    """
    require(
        take_profit_z < stop_z,
        "take_profit_z < stop_z",
        take_profit_z=take_profit_z,
        stop_z=stop_z,
    )
    require(math.isnan(spread_std) or spread_std >= 0.0, "spread_std >= 0", spread_std=spread_std)
    cost = round_trip_cost(costs, leg_ratio)
    if not math.isfinite(z_entry):
        return Payoff(0.0, 0.0, 0.0, cost, "z_entry is missing")
    if not (math.isfinite(spread_std) and spread_std > 0.0):
        return Payoff(0.0, 0.0, 0.0, cost, "spread_std is not positive")
    z = abs(z_entry)
    if z <= take_profit_z:
        return Payoff(0.0, 0.0, 0.0, cost, "|z_entry| already within take-profit")
    if z >= stop_z:
        return Payoff(0.0, 0.0, 0.0, cost, "|z_entry| at or beyond the stop")
    win = (z - take_profit_z) * spread_std - cost
    loss = (stop_z - z) * spread_std + cost
    if win <= 0.0:
        return Payoff(win, loss, 0.0, cost, "no net win after costs")
    return Payoff(win, loss, win / loss, cost, "")  # loss > 0 since z < stop_z


def expected_edge(p: float, b: float) -> float:
    """Return the expected net gain per unit risked of a bet paying ``b`` or losing 1.

    That is ``p * b - (1 - p)``, the quantity ``min_edge`` gates.
    """
    check_probability(p)
    return p * b - (1.0 - p)


def kelly_size(p: float, b: float, fraction: float = 0.25) -> float:
    """Fractional Kelly ``fraction * (p - (1 - p) / b)``, clipped to [0, 1].

    Parameters
    ----------
    p : float
        Probability of the win (the calibrated reversion probability), in [0, 1].
    b : float
        Payoff ratio net win / net loss (finite, ``>= 0``); ``b == 0`` gives 0.
    fraction : float
        Share of full Kelly, in (0, 1].

    Examples
    --------
    >>> round(kelly_size(0.6, 1.0, 0.5), 6)
    0.1

    """
    check_probability(p)
    require(0.0 < fraction <= 1.0, "0 < fraction <= 1", fraction=fraction)
    check_payoff_ratio(b)
    if math.isnan(p) or b == 0.0:
        return 0.0
    return float(min(1.0, max(0.0, fraction * (p - (1.0 - p) / b))))


def afml_size(p: float, fraction: float = 0.25) -> float:
    """Lopez de Prado's bet size (AFML ch. 10) times ``fraction``, clipped to [0, 1].

    ``z = (p - 1/2) / sqrt(p (1 - p))`` and ``size = fraction * (2 * Phi(z) - 1)``: the two-class
    case of AFML snippet 10.1. It ignores the payoff ratio; ``bet_size`` brings the payoff in
    through the ``min_edge`` gate (asymmetric barriers move break-even to ``p = 1 / (1 + b)``).

    Examples
    --------
    >>> afml_size(0.5), afml_size(1.0, 0.25)
    (0.0, 0.25)

    """
    check_probability(p)
    require(0.0 < fraction <= 1.0, "0 < fraction <= 1", fraction=fraction)
    if math.isnan(p) or p <= 0.5:
        return 0.0
    var = p * (1.0 - p)
    full = 1.0 if var <= 0.0 else 2.0 * float(ndtr((p - 0.5) / math.sqrt(var))) - 1.0
    return float(min(1.0, max(0.0, fraction * full)))


def bet_size(
    p: float,
    b: float,
    *,
    method: Literal["kelly", "afml"] = "kelly",
    fraction: float = 0.25,
    min_edge: float = 0.0,
) -> Bet:
    """Bet size in [0, 1] from a calibrated probability and the payoff ratio.

    Zero (with a reason) unless the expected net return per unit risked, ``p * b - (1 - p)``,
    is strictly above ``min_edge``. Non-decreasing in ``p`` at fixed ``b``: both methods and
    the edge gate are.

    Parameters
    ----------
    p : float
        Calibrated probability of reversion, in [0, 1]; NaN gives 0 ("probability is missing").
    b : float
        Payoff ratio from :func:`payoff` (finite, ``>= 0``).
    method : {"kelly", "afml"}
        Fractional Kelly (default) or AFML's probability-to-size map.
    fraction : float
        Share of the full size, in (0, 1] (``SizingConfig.kelly_fraction``, used by both).
    min_edge : float
        Minimum expected net return per unit risked (``>= 0``).

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1], ``b`` negative or not finite, ``fraction`` outside (0, 1],
        ``min_edge < 0``
        or ``method`` unknown.

    Examples
    --------
    >>> bet_size(1.3, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: `0 <= p <= 1` must hold, but got p=1.3; pass a calibrated probability (NaN marks an unscored signal)
    >>> bet_size(0.4, 1.0).reason
    'edge below minimum'

    """  # noqa: E501
    check_probability(p)
    check_payoff_ratio(b)
    require(min_edge >= 0.0, "min_edge >= 0", min_edge=min_edge)
    require(method in ("kelly", "afml"), "method in {'kelly', 'afml'}", method=method)
    if math.isnan(p):
        return Bet(0.0, 0.0, "probability is missing")
    if b == 0.0:
        return Bet(0.0, -(1.0 - p), "no payoff after costs")
    edge = expected_edge(p, b)
    if not edge > min_edge:
        return Bet(0.0, edge, "edge below minimum")
    size = kelly_size(p, b, fraction) if method == "kelly" else afml_size(p, fraction)
    if size <= 0.0:
        return Bet(0.0, edge, f"{method} size is zero at p={p:.4g}")
    return Bet(size, edge, "")


def vol_target_notional(spread_std: float, capital: float, risk_per_trade: float) -> float:
    """Full-size leg-A notional whose spread volatility is ``risk_per_trade * capital``.

    ``notional_a * spread_std == risk_per_trade * capital``; 0 when ``spread_std`` or
    ``capital`` is 0 (nothing to scale).

    Raises
    ------
    ValueError
        If ``capital < 0``, ``spread_std < 0`` or ``risk_per_trade`` outside (0, 1].

    Examples
    --------
    >>> vol_target_notional(0.02, 100_000.0, 0.01)
    50000.0

    """
    check_capital(capital)
    require(spread_std >= 0.0, "spread_std >= 0", spread_std=spread_std)
    require(0.0 < risk_per_trade <= 1.0, "0 < risk_per_trade <= 1", risk_per_trade=risk_per_trade)
    if spread_std == 0.0 or capital == 0.0 or math.isinf(spread_std):
        return 0.0
    return risk_per_trade * capital / spread_std


