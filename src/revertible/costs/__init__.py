"""Cost model: fees, slippage, spot borrow and perpetual funding (below ``decision``)."""

from __future__ import annotations

from ._fills import FILL_STATUS, PairFill, fill_summary, pair_fill, pessimistic_fills
from ._model import (
    borrow_per_bar,
    effective_costs,
    fill_price,
    funding_events_per_bar,
    funding_schedule,
    round_trip_cost,
    round_trip_cost_per_leg_a,
)
from ._slippage import (
    abdi_ranaldo_spread,
    not_replayed,
    signal_round_trip,
    slippage_per_fill,
    volume_cap,
)

__all__ = [
    "effective_costs",
    "round_trip_cost",
    "round_trip_cost_per_leg_a",
    "fill_price",
    "borrow_per_bar",
    "funding_events_per_bar",
    "funding_schedule",
    "FILL_STATUS",
    "PairFill",
    "pair_fill",
    "pessimistic_fills",
    "fill_summary",
    "abdi_ranaldo_spread",
    "slippage_per_fill",
    "signal_round_trip",
    "volume_cap",
    "not_replayed",
]
