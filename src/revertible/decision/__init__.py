"""Decision and sizing: direction on held-out evidence, fractional Kelly stake, two legs.

:func:`decide` picks ``revert``, ``continue`` or ``none`` per divergence: a direction only if the
lower confidence bound of its calibrated expected return (the model's held-out record) net of
the venue's round trip and expected carry is above zero; :func:`size_signals` sizes the decided
signals (fractional Kelly on the lower bound under the per-trade cap, leg split, liquidation
checks, book caps, exchange rounding) and gives every row the legs it would have if taken.
"""

from __future__ import annotations

from ._book import (
    BookCaps,
    Booking,
    book_caps,
    book_entries,
    book_full,
    new_booking,
    round_qty,
)
from ._codes import CAP_NAMES, Booked, Cap, Exit
from ._decide import (
    DECISION_COLUMNS,
    DIRECTIONS,
    OUTCOME_COLUMNS,
    Barriers,
    condition_on_realised,
    decide,
    expected_carry,
    trade_barriers,
)
from ._kelly import kelly_fraction, net_moments
from ._legs import leg_ratio, leg_ratios, leg_sides, leg_signs
from ._quality import (
    QUALITY_DECILES,
    RECORD_MIN_TRADES,
    TIE_BP,
    decision_quality,
    quality_table,
    realised_net,
    record_shortfall,
    tied_levels,
)
from ._rebalance import Rebalance, drift_order, rebalance_orders
from ._risk import liquidation_price, liquidation_prices, max_safe_leverage, safe_leverages
from ._size import (
    REQUIRED_COLUMNS,
    SIZING_COLUMNS,
    STAKE_COLUMNS,
    UNIT_COLUMNS,
    size_signals,
    unit_stakes,
)
from ._steps import direction_if_taken

__all__ = [
    "direction_if_taken",
    "Rebalance",
    "rebalance_orders",
    "drift_order",
    "OUTCOME_COLUMNS",
    "DECISION_COLUMNS",
    "DIRECTIONS",
    "REQUIRED_COLUMNS",
    "SIZING_COLUMNS",
    "UNIT_COLUMNS",
    "STAKE_COLUMNS",
    "Barriers",
    "trade_barriers",
    "decide",
    "condition_on_realised",
    "expected_carry",
    "decision_quality",
    "quality_table",
    "realised_net",
    "record_shortfall",
    "QUALITY_DECILES",
    "RECORD_MIN_TRADES",
    "TIE_BP",
    "tied_levels",
    "net_moments",
    "kelly_fraction",
    "leg_ratio",
    "leg_ratios",
    "leg_sides",
    "leg_signs",
    "liquidation_price",
    "liquidation_prices",
    "max_safe_leverage",
    "safe_leverages",
    "round_qty",
    "BookCaps",
    "Booking",
    "book_caps",
    "book_entries",
    "book_full",
    "new_booking",
    "Booked",
    "Cap",
    "CAP_NAMES",
    "Exit",
    "size_signals",
    "unit_stakes",
]
