"""Decision and sizing: direction, fractional Kelly stake, two legs under risk limits."""

from __future__ import annotations

from ._sizing import (
    LIQUIDATION_CUSHION,
    REQUIRED_COLUMNS,
    SIZING_COLUMNS,
    Bet,
    Payoff,
    afml_size,
    bet_size,
    expected_edge,
    kelly_size,
    leg_ratio,
    leg_sides,
    liquidation_price,
    max_safe_leverage,
    payoff,
    round_qty,
    round_trip_cost,
    size_signals,
    vol_target_notional,
)

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
