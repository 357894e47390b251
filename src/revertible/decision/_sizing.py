"""Sizing: calibrated probability -> two-leg positions under explicit risk limits.

Everything here is a pure, checked calculation: no I/O, every division guarded, and a position
that cannot or should not be taken gets zero size and a ``reason`` instead of NaN or inf.

How the pieces compose, per signal (``size_signals`` runs them in this order):

1. **Legs.** Leg B notional per unit of leg-A notional, ``r``: ``|beta|`` (``split="beta"``),
   ``vol_a / vol_b`` (``"vol_parity"``: equal notional * return vol on both legs) or 1
   (``"dollar"``). Sides: ``z > 0`` shorts the spread ``s = a - beta * b``: short A, and B long if
   ``beta > 0`` (opposite sides) or short if ``beta < 0`` (same side); ``z < 0`` mirrors.
2. **Payoff.** Per unit of leg-A notional, the spread P&L is ``Δs`` (log approximation): the win at
   take-profit is ``(|z| - exit) * std``, the loss at the stop ``(stop - |z|) * std``; the
   round-trip cost ``2 * (taker_fee + slippage_bps / 1e4) * (1 + r)`` is taken off the win and
   added to the loss; the payoff ratio is ``b = net win / net loss``.
3. **Bet size** in [0, 1] from ``p`` and ``b`` (fractional Kelly or AFML), zero unless the
   expected net return per unit risked, ``p * b - (1 - p)``, exceeds ``min_edge``.
4. **Volatility target.** The full-size leg-A notional makes the position's spread volatility
   ``notional_a * std`` equal ``risk_per_trade * capital``; the bet size multiplies it.
5. **Leverage.** Each leg is isolated margin at leverage ``min(max_gross_leverage, L_safe)``,
   where ``L_safe`` keeps that leg's liquidation price beyond the price the leg reaches if it
   alone carries the spread from ``|z|`` to the stop (plus a cushion, ``LIQUIDATION_CUSHION``).
6. **Book caps**, shared by the signals of one call in descending probability: per-asset net
   notional ``<= max_asset_net_exposure * capital``, book gross notional
   ``<= max_gross_leverage * capital * (1 - buffer)``, and posted margin
   ``<= capital * (1 - buffer)`` (the buffer is never allocated). A cap that binds shrinks
   both legs together, keeping their ratio.
7. **Exchange rounding.** Quantities round *down* to ``qty_step``; a leg below ``min_notional``
   zeroes the position.

Timing: a signal's ``time_stop`` is ``entry_time + horizon * bar``, the last bar the label looks at.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ..config import CostConfig, LabelConfig, SizingConfig

__all__ = [
    "LIQUIDATION_CUSHION",
    "REQUIRED_COLUMNS",
    "SIZING_COLUMNS",
    "Payoff",
    "Bet",
    "round_trip_cost",
    "payoff",
    "expected_edge",
    "kelly_size",
    "afml_size",
    "bet_size",
    "vol_target_notional",
    "leg_ratio",
    "leg_sides",
    "liquidation_price",
    "max_safe_leverage",
    "round_qty",
    "size_signals",
]

LIQUIDATION_CUSHION = 0.5
"""Liquidation must lie beyond the stop-implied adverse leg move times ``1 + cushion``.

The stop is checked on bar closes, so a leg can overshoot it within a bar; the cushion keeps
room for that. (Candidate for a ``sizing.liquidation_cushion`` config field.)
"""

REQUIRED_COLUMNS = (
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std", "probability",
    "price_a", "price_b",
)  # fmt: skip
"""Columns ``size_signals`` needs; ``vol_a`` and ``vol_b`` too when ``split="vol_parity"``."""

SIZING_COLUMNS = (
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr", "reason",
    "bet_size", "payoff_ratio", "margin", "leg_a_leverage", "leg_b_leverage",
    "leg_a_liq_price", "leg_b_liq_price",
)  # fmt: skip
"""Columns ``size_signals`` adds (DESIGN.md signal columns, then transparency columns)."""

_TOL = 1e-9  # relative shrink of every cap so float rounding never lands above it
_BIG_LOG_MOVE = 700.0  # exp() overflows past ~709; a log move this large is never survivable


def _fmt(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def _require(ok: bool, rule: str, fix: str = "", **values: object) -> None:
    """Raise ``ValueError("`rule` must hold, but got k=v; fix")`` unless ``ok``."""
    if ok:
        return
    got = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
    if len(values) > 1:
        got = f"({got})"
    raise ValueError(f"`{rule}` must hold, but got {got}" + (f"; {fix}" if fix else ""))


def _check_probability(p: float, name: str = "p") -> None:
    _require(
        math.isnan(p) or 0.0 <= p <= 1.0,
        f"0 <= {name} <= 1",
        "pass a calibrated probability (NaN marks an unscored signal)",
        **{name: p},
    )


def _check_payoff_ratio(b: float) -> None:
    _require(math.isfinite(b) and b >= 0.0, "0 <= b < inf", "b is net win / net loss (payoff)", b=b)


def _check_capital(capital: float) -> None:
    _require(
        math.isfinite(capital) and capital >= 0.0,
        "capital >= 0",
        "pass the account equity in quote currency",
        capital=capital,
    )


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
        ``taker_fee`` per leg per side and ``slippage_bps`` per fill.
    leg_ratio : float
        Leg-B notional per unit of leg-A notional (``>= 0``).

    Returns
    -------
    float
        ``2 * (taker_fee + slippage_bps / 1e4) * (1 + leg_ratio)``.

    Examples
    --------
    >>> round(round_trip_cost(CostConfig(), 0.8), 6)
    0.00432

    """
    _require(math.isfinite(leg_ratio) and leg_ratio >= 0.0, "leg_ratio >= 0", leg_ratio=leg_ratio)
    per_fill = costs.taker_fee + costs.slippage_bps / 1e4
    return 2.0 * per_fill * (1.0 + leg_ratio)


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
    _require(
        take_profit_z < stop_z,
        "take_profit_z < stop_z",
        take_profit_z=take_profit_z,
        stop_z=stop_z,
    )
    _require(math.isnan(spread_std) or spread_std >= 0.0, "spread_std >= 0", spread_std=spread_std)
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
    _check_probability(p)
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
    _check_probability(p)
    _require(0.0 < fraction <= 1.0, "0 < fraction <= 1", fraction=fraction)
    _check_payoff_ratio(b)
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
    _check_probability(p)
    _require(0.0 < fraction <= 1.0, "0 < fraction <= 1", fraction=fraction)
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
    _check_probability(p)
    _check_payoff_ratio(b)
    _require(min_edge >= 0.0, "min_edge >= 0", min_edge=min_edge)
    _require(method in ("kelly", "afml"), "method in {'kelly', 'afml'}", method=method)
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
    _check_capital(capital)
    _require(spread_std >= 0.0, "spread_std >= 0", spread_std=spread_std)
    _require(0.0 < risk_per_trade <= 1.0, "0 < risk_per_trade <= 1", risk_per_trade=risk_per_trade)
    if spread_std == 0.0 or capital == 0.0 or math.isinf(spread_std):
        return 0.0
    return risk_per_trade * capital / spread_std


def leg_ratio(
    split: Literal["beta", "vol_parity", "dollar"],
    beta: float,
    vol_a: float = math.nan,
    vol_b: float = math.nan,
) -> float:
    """Leg-B notional per unit of leg-A notional for a split method.

    ``"beta"``: ``|beta|``; ``"vol_parity"``: ``vol_a / vol_b`` (so that
    ``notional_a * vol_a == notional_b * vol_b``, vols are each leg's return volatility);
    ``"dollar"``: 1.

    Raises
    ------
    ValueError
        If ``beta`` is zero or not finite, a vol is not positive for ``"vol_parity"``, or the
        split is unknown.

    Examples
    --------
    >>> leg_ratio("beta", -0.8), leg_ratio("dollar", 0.8), leg_ratio("vol_parity", 0.8, 0.03, 0.04)
    (0.8, 1.0, 0.75)

    """
    _require(math.isfinite(beta) and beta != 0.0, "beta != 0 and finite", beta=beta)
    if split == "beta":
        return abs(beta)
    if split == "dollar":
        return 1.0
    if split == "vol_parity":
        ok = math.isfinite(vol_a) and math.isfinite(vol_b) and vol_a > 0.0 and vol_b > 0.0
        _require(ok, "vol_a > 0 and vol_b > 0", vol_a=vol_a, vol_b=vol_b)
        return vol_a / vol_b
    _require(False, "split in {'beta', 'vol_parity', 'dollar'}", split=split)
    raise AssertionError  # pragma: no cover - _require raised


def leg_sides(z_entry: float, beta: float) -> tuple[str, str]:
    """Sides (``"long"``/``"short"``) of legs A and B for a trade betting ``z`` reverts to 0.

    ``z > 0``: short the spread, so short A; B is long when ``beta > 0`` (opposite sides) and
    short when ``beta < 0`` (same side). ``z < 0`` mirrors.

    Examples
    --------
    >>> leg_sides(2.3, 0.8), leg_sides(2.3, -0.8), leg_sides(-2.3, 0.8), leg_sides(-2.3, -0.8)
    (('short', 'long'), ('short', 'short'), ('long', 'short'), ('long', 'long'))

    """
    _require(math.isfinite(z_entry) and z_entry != 0.0, "z_entry != 0", z_entry=z_entry)
    _require(math.isfinite(beta) and beta != 0.0, "beta != 0", beta=beta)
    sign_a = -1.0 if z_entry > 0 else 1.0
    sign_b = -sign_a if beta > 0 else sign_a
    return ("long" if sign_a > 0 else "short", "long" if sign_b > 0 else "short")


def _check_side(side: str) -> None:
    _require(side in ("long", "short"), "side in {'long', 'short'}", side=side)


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
    _require(math.isfinite(price) and price > 0.0, "price > 0", price=price)
    _require(math.isfinite(leverage) and leverage > 0.0, "leverage > 0", leverage=leverage)
    _require(0.0 <= mmr < 1.0, "0 <= mmr < 1", mmr=mmr)
    _check_side(side)
    if side == "long":
        return max(0.0, price * (1.0 - 1.0 / leverage + mmr))
    return price * (1.0 + 1.0 / leverage - mmr)


def max_safe_leverage(
    adverse_log_move: float,
    side: str,
    mmr: float,
    *,
    max_leverage: float,
    cushion: float = LIQUIDATION_CUSHION,
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
    _require(adverse_log_move >= 0.0, "adverse_log_move >= 0", adverse_log_move=adverse_log_move)
    _require(cushion >= 0.0, "cushion >= 0", cushion=cushion)
    _require(
        math.isfinite(max_leverage) and max_leverage > 0.0,
        "max_leverage > 0",
        max_leverage=max_leverage,
    )
    _require(0.0 <= mmr < 1.0, "0 <= mmr < 1", mmr=mmr)
    _check_side(side)
    move = min(adverse_log_move * (1.0 + cushion), _BIG_LOG_MOVE)
    frac = -math.expm1(-move) if side == "long" else math.expm1(move)
    denom = frac + mmr
    if denom <= 0.0:
        return max_leverage
    return min(max_leverage, (1.0 - _TOL) / denom)


def round_qty(notional: float, price: float, step: float) -> float:
    """Quantity for ``notional`` at ``price``, rounded down to a multiple of ``step`` (0: none).

    Examples
    --------
    >>> round_qty(1000.0, 3000.0, 0.01), round_qty(0.3, 1.0, 0.1)
    (0.33, 0.30000000000000004)

    """
    _require(math.isfinite(price) and price > 0.0, "price > 0", price=price)
    _require(notional >= 0.0, "notional >= 0", notional=notional)
    _require(step >= 0.0, "step >= 0", step=step)
    qty = notional / price
    if step == 0.0 or qty == 0.0:
        return qty
    k = math.floor(qty / step)
    if (k + 1) * step <= qty * (1.0 + 1e-12):  # 0.3 / 0.1 == 2.9999999999999996
        k += 1
    return k * step


def _row_inputs(row: dict, split: str) -> str:
    """Why a row cannot be sized (empty when its inputs are usable)."""
    if row["asset_a"] == row["asset_b"]:
        return "asset_a equals asset_b"
    if pd.isna(row["entry_time"]):
        return "entry_time is missing"
    if math.isnan(row["probability"]):
        return "probability is missing"
    for key in ("z_entry", "beta"):
        if not (math.isfinite(row[key]) and row[key] != 0.0):
            return f"{key} is zero or missing"
    for key in ("spread_std", "price_a", "price_b"):
        if not (math.isfinite(row[key]) and row[key] > 0.0):
            return f"{key} is not positive"
    if split == "vol_parity":
        for key in ("vol_a", "vol_b"):
            if not (math.isfinite(row[key]) and row[key] > 0.0):
                return f"{key} is not positive (vol_parity split)"
    return ""


class _Book:
    """Running totals of the positions sized so far in one ``size_signals`` call."""

    def __init__(self, capital: float, sizing: SizingConfig) -> None:
        self.net: dict[object, float] = {}
        self.gross = 0.0
        self.margin = 0.0
        self.net_cap = sizing.max_asset_net_exposure * capital
        self.margin_cap = capital * (1.0 - sizing.buffer)
        self.gross_cap = sizing.max_gross_leverage * self.margin_cap

    def rooms(self, legs: list[tuple[object, float, float, float]]) -> list[tuple[float, str]]:
        """Largest leg-A notional each cap allows; ``legs`` = (asset, sign, ratio, leverage).

        Each cap is shrunk by a relative ``_TOL`` so float rounding never lands above it, and
        a cap that has bound once leaves no sliver of room behind.
        """
        out = []
        for asset, sign, ratio, _ in legs:
            room = self.net_cap * (1.0 - _TOL) - sign * self.net.get(asset, 0.0)
            out.append((room / ratio, f"per-asset net exposure cap on {asset}"))
        per_a = sum(ratio for _, _, ratio, _ in legs)
        out.append(((self.gross_cap * (1.0 - _TOL) - self.gross) / per_a, "gross leverage cap"))
        per_a = sum(ratio / lev for _, _, ratio, lev in legs)
        room = self.margin_cap * (1.0 - _TOL) - self.margin
        out.append((room / per_a, "margin budget (buffer kept)"))
        return out

    def add(self, legs: list[tuple[object, float, float]], margin: float) -> None:
        """Book legs given as (asset, sign, notional)."""
        for asset, sign, notional in legs:
            self.net[asset] = self.net.get(asset, 0.0) + sign * notional
            self.gross += notional
        self.margin += margin


def _size_one(
    row: dict,
    book: _Book,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    capital: float,
    cushion: float,
) -> dict:
    """Size one signal against the book (updated in place); returns its sizing fields."""
    out: dict = {"bet_size": 0.0, "payoff_ratio": 0.0}
    notes: list[str] = []
    z, beta, std = row["z_entry"], row["beta"], row["spread_std"]
    if math.isfinite(z) and z != 0.0 and math.isfinite(beta) and beta != 0.0:
        out["leg_a_side"], out["leg_b_side"] = leg_sides(z, beta)
    if capital == 0.0:
        return {**out, "reason": "no capital"}
    why = _row_inputs(row, sizing.split)
    if why:
        return {**out, "reason": why}
    ratio = leg_ratio(sizing.split, beta, row.get("vol_a", math.nan), row.get("vol_b", math.nan))
    pay = payoff(z, std, take_profit_z=label.exit, stop_z=label.stop, leg_ratio=ratio, costs=costs)
    if pay.reason:
        return {**out, "reason": pay.reason}
    out["payoff_ratio"] = pay.ratio
    bet = bet_size(
        row["probability"],
        pay.ratio,
        method=sizing.method,
        fraction=sizing.kelly_fraction,
        min_edge=sizing.min_edge,
    )
    out["bet_size"] = bet.size
    if bet.reason:
        return {**out, "reason": bet.reason}
    wanted = vol_target_notional(std, capital, sizing.risk_per_trade) * bet.size

    # Leverage: each leg alone carrying the spread from |z| to the stop must not liquidate it.
    move_a = (label.stop - abs(z)) * std
    moves = {"a": move_a, "b": move_a / abs(beta)}
    floor = min(1.0, sizing.max_gross_leverage)
    lev = {}
    for leg in ("a", "b"):
        lev[leg] = max_safe_leverage(
            moves[leg],
            out[f"leg_{leg}_side"],
            sizing.maintenance_margin_rate,
            max_leverage=sizing.max_gross_leverage,
            cushion=cushion,
        )
        if lev[leg] < floor * (1.0 - 1e-6):
            why = f"leg {leg} would be liquidated before the stop even at {floor:.3g}x leverage"
            return {**out, "reason": why}
        if lev[leg] < sizing.max_gross_leverage * (1.0 - 1e-6):
            notes.append(
                f"leg {leg} leverage lowered to {lev[leg]:.3g}x so the stop precedes liquidation"
            )

    # Book caps, in units of leg-A notional.
    sign = {leg: 1.0 if out[f"leg_{leg}_side"] == "long" else -1.0 for leg in ("a", "b")}
    legs = [
        (row["asset_a"], sign["a"], 1.0, lev["a"]),
        (row["asset_b"], sign["b"], ratio, lev["b"]),
    ]
    notional_a = wanted
    for room, what in book.rooms(legs):
        if room < notional_a:
            notional_a = max(0.0, room)
            if notional_a == 0.0:
                return {**out, "reason": "; ".join([f"{what} reached", *notes])}
            notes = [n for n in notes if not n.startswith("reduced by")]
            notes.append(f"reduced by {what}")

    # Exchange rounding and minimum notional.
    qty_a = round_qty(notional_a, row["price_a"], sizing.qty_step)
    qty_b = round_qty(notional_a * ratio, row["price_b"], sizing.qty_step)
    n_a, n_b = qty_a * row["price_a"], qty_b * row["price_b"]
    if qty_a == 0.0 or qty_b == 0.0:
        return {**out, "reason": "; ".join(["quantity rounds to zero at qty_step", *notes])}
    if min(n_a, n_b) < sizing.min_notional:
        return {**out, "reason": "; ".join(["leg below min_notional", *notes])}
    margin = n_a / lev["a"] + n_b / lev["b"]
    book.add([(row["asset_a"], sign["a"], n_a), (row["asset_b"], sign["b"], n_b)], margin)
    mmr = sizing.maintenance_margin_rate
    out.update(
        leg_a_notional=n_a,
        leg_a_qty=qty_a,
        leg_b_notional=n_b,
        leg_b_qty=qty_b,
        gross_leverage=(n_a + n_b) / capital,
        margin=margin,
        leg_a_leverage=lev["a"],
        leg_b_leverage=lev["b"],
        leg_a_liq_price=liquidation_price(row["price_a"], out["leg_a_side"], lev["a"], mmr),
        leg_b_liq_price=liquidation_price(row["price_b"], out["leg_b_side"], lev["b"], mmr),
        reason="; ".join(notes),
    )
    return out


def size_signals(
    signals: pd.DataFrame,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    *,
    bar: pd.Timedelta = pd.Timedelta(hours=1),  # noqa: B008 - immutable
    capital: float | None = None,
    liq_cushion: float = LIQUIDATION_CUSHION,
) -> pd.DataFrame:
    """Size scored divergences into two-leg positions under the book's risk limits.

    Parameters
    ----------
    signals : pandas.DataFrame
        One row per divergence with at least ``REQUIRED_COLUMNS`` (``vol_a``/``vol_b`` as
        well for ``split="vol_parity"``): ``z_entry``, ``beta`` and ``spread_std`` (log units)
        frozen at entry, the calibrated ``probability`` (NaN: not scored), leg prices
        ``price_a``/``price_b`` (quote currency) used for quantities and liquidation prices.
    sizing, costs, label : SizingConfig, CostConfig, LabelConfig
        Risk limits, trading costs, and the barriers (``exit``, ``stop``, ``horizon``).
    bar : pandas.Timedelta
        Bar length; ``time_stop = entry_time + label.horizon * bar``.
    capital : float, optional
        Account equity in quote currency; ``sizing.capital`` if None.
    liq_cushion : float
        See ``LIQUIDATION_CUSHION``.

    Returns
    -------
    pandas.DataFrame
        ``signals`` (same index and order) with ``SIZING_COLUMNS`` added. Notionals are absolute
        quote amounts; ``gross_leverage`` is the position's gross notional / capital;
        ``take_profit_z``/``stop_z`` are barriers on ``sign(z_entry) * z`` as in the label.
        ``reason`` is empty for a position sized as requested at full leverage, says why for
        a zero position, and for a traded one notes the binding cap (``"reduced by ..."``) or
        a leverage lowered for the liquidation check: test ``leg_a_notional > 0`` for
        "traded". Sides are filled whenever ``z_entry`` and ``beta`` fix them. No numeric
        output is NaN or inf.

    Notes
    -----
    Signals of one call share the book limits and are sized in descending probability (ties
    in row order), so a later, less likely signal is the one reduced. A signal's own size is
    non-decreasing in its probability when it is alone; in a batch, offsetting exposures of
    other signals can free per-asset room, so that holds only per processing order.

    Raises
    ------
    ValueError
        On missing columns, a probability outside [0, 1], negative capital, a non-positive
        ``bar`` or a negative ``liq_cushion``.

    """
    split = sizing.split
    need = REQUIRED_COLUMNS + (("vol_a", "vol_b") if split == "vol_parity" else ())
    missing = [c for c in need if c not in signals.columns]
    _require(
        not missing,
        "signals has every required column",
        "add them (episode key, z_entry, beta, spread_std, probability, leg prices and vols)",
        missing=missing,
    )
    cap = float(sizing.capital if capital is None else capital)
    _check_capital(cap)
    _require(bar > pd.Timedelta(0), "bar > 0", bar=str(bar))
    _require(liq_cushion >= 0.0, "liq_cushion >= 0", liq_cushion=liq_cushion)

    numeric = ["z_entry", "beta", "spread_std", "probability", "price_a", "price_b"]
    numeric += [c for c in ("vol_a", "vol_b") if c in signals.columns]
    cols = {c: np.asarray(signals[c], dtype=float) for c in numeric}
    prob = cols["probability"]
    bad = np.flatnonzero(~np.isnan(prob) & ((prob < 0.0) | (prob > 1.0)))
    if bad.size:
        i = int(bad[0])
        where = (
            f"row {i} ({signals['asset_a'].iloc[i]} / {signals['asset_b'].iloc[i]} at "
            f"{signals['entry_time'].iloc[i]})"
        )
        _require(
            False,
            "0 <= probability <= 1",
            f"in {where}; pass calibrated probabilities (NaN marks an unscored signal)",
            probability=float(prob[i]),
        )

    n = len(signals)
    book = _Book(cap, sizing)
    results: list[dict] = [{}] * n
    # Descending probability, ties in row order; NaN (unscored) last.
    order = sorted(range(n), key=lambda i: (math.isnan(prob[i]), -np.nan_to_num(prob[i])))
    for i in order:
        row = {c: cols[c][i] for c in cols}
        row.update(
            asset_a=signals["asset_a"].iloc[i],
            asset_b=signals["asset_b"].iloc[i],
            entry_time=signals["entry_time"].iloc[i],
        )
        results[i] = _size_one(row, book, sizing, costs, label, cap, liq_cushion)

    out = signals.copy()
    for leg in ("a", "b"):
        out[f"leg_{leg}_side"] = [r.get(f"leg_{leg}_side", "") for r in results]
        for field in ("notional", "qty"):
            out[f"leg_{leg}_{field}"] = np.array(
                [r.get(f"leg_{leg}_{field}", 0.0) for r in results], dtype=float
            )
        price = cols[f"price_{leg}"]
        out[f"leg_{leg}_price"] = np.where(np.isfinite(price) & (price > 0.0), price, 0.0)
    out["gross_leverage"] = np.array([r.get("gross_leverage", 0.0) for r in results], dtype=float)
    out["take_profit_z"] = float(label.exit)
    out["stop_z"] = float(label.stop)
    out["time_stop"] = signals["entry_time"] + label.horizon * bar
    out["min_abs_corr"] = float(sizing.min_abs_corr_exit)
    out["reason"] = [r.get("reason", "") for r in results]
    for key in (
        "bet_size",
        "payoff_ratio",
        "margin",
        "leg_a_leverage",
        "leg_b_leverage",
        "leg_a_liq_price",
        "leg_b_liq_price",
    ):
        out[key] = np.array([r.get(key, 0.0) for r in results], dtype=float)
    return out
