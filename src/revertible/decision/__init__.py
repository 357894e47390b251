"""Decision and sizing: direction, fractional Kelly stake, two legs under risk limits.

:func:`decide` picks ``revert``, ``continue`` or ``none`` per divergence from the return heads'
outcome moments net of the venue's round trip; :func:`size_signals` sizes the decided signals
(true fractional Kelly, leg split, liquidation checks, book caps, exchange rounding).
"""

from __future__ import annotations

from ._book import round_qty
from ._book_risk import (
    book_risk,
    cap_scale,
    corr_matrix,
    log_returns,
    risk_matrices,
    risk_room,
    stress_covariance,
    trailing_covariance,
    within_book_cap,
)
from ._decide import (
    DECISION_COLUMNS,
    DIRECTIONS,
    OUTCOME_COLUMNS,
    Barriers,
    condition_on_realised,
    decide,
    trade_barriers,
)
from ._kelly import binary_kelly, empirical_payoff, kelly_fraction, net_moments
from ._legs import leg_ratio, leg_ratios, leg_sides, leg_signs
from ._payoff import (
    Bet,
    Payoff,
    afml_size,
    bet_size,
    expected_edge,
    kelly_size,
    payoff,
    round_trip_cost,
    vol_target_notional,
)
from ._rebalance import Rebalance, rebalance_orders
from ._risk import liquidation_price, liquidation_prices, max_safe_leverage, safe_leverages
from ._size import (
    REQUIRED_COLUMNS,
    SIZING_COLUMNS,
    UNIT_COLUMNS,
    size_signals,
    sizing_mode,
    unit_stakes,
)

__all__ = [
    "log_returns",
    "corr_matrix",
    "trailing_covariance",
    "stress_covariance",
    "risk_matrices",
    "book_risk",
    "within_book_cap",
    "cap_scale",
    "risk_room",
    "Rebalance",
    "rebalance_orders",
    "OUTCOME_COLUMNS",
    "DECISION_COLUMNS",
    "DIRECTIONS",
    "REQUIRED_COLUMNS",
    "SIZING_COLUMNS",
    "UNIT_COLUMNS",
    "Barriers",
    "trade_barriers",
    "decide",
    "condition_on_realised",
    "net_moments",
    "kelly_fraction",
    "binary_kelly",
    "empirical_payoff",
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
    "leg_ratios",
    "leg_sides",
    "leg_signs",
    "liquidation_price",
    "liquidation_prices",
    "max_safe_leverage",
    "safe_leverages",
    "round_qty",
    "size_signals",
    "unit_stakes",
    "sizing_mode",
]
