"""Cost model: fees, slippage, spot borrow and perpetual funding (below ``decision``)."""

from __future__ import annotations

from ._model import (
    borrow_per_bar,
    effective_costs,
    fill_price,
    funding_events_per_bar,
    funding_schedule,
    round_trip_cost,
    round_trip_cost_per_leg_a,
)

__all__ = [
    "effective_costs",
    "round_trip_cost",
    "round_trip_cost_per_leg_a",
    "fill_price",
    "borrow_per_bar",
    "funding_events_per_bar",
    "funding_schedule",
]
