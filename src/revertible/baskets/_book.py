"""Book-level risk: re-exported from :mod:`revertible.risk` (where it lives).

Sizing, the backtest and the baskets share these functions; this module keeps the
``revertible.baskets`` names.
"""

from __future__ import annotations

from ..risk import (
    book_risk,
    cap_scale,
    stress_covariance,
    trailing_covariance,
    within_book_cap,
)

__all__ = ["trailing_covariance", "stress_covariance", "book_risk", "within_book_cap",
           "cap_scale"]
