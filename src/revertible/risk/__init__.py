"""Book risk: covariances of log returns, the book's risk under stress, the cap's room over time.

The bottom of the trading layers (imports only ``config`` and ``data``): ``decision`` sizes under
the cap, ``backtest`` replays it and reports the risk over time, ``baskets`` uses the same
correlations and stress. :mod:`._book` holds the covariances and the cap (pure functions, one
compiled room), :mod:`._paths` the backtest's per-day covariances and risk paths.
"""

from __future__ import annotations

from ._book import (
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
from ._paths import RiskCovariances, book_risk_paths, risk_limit, risk_metrics

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
    "RiskCovariances",
    "risk_limit",
    "book_risk_paths",
    "risk_metrics",
]
