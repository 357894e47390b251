"""Book-level risk: re-exported from :mod:`revertible.decision._book_risk` (where it lives).

Sizing and the backtest sit below ``baskets`` in the pipeline and use these functions, so the
pure risk code is in ``decision``; this module keeps the ``revertible.baskets`` names.
"""

from __future__ import annotations

from ..decision._book_risk import (
    book_risk,
    cap_scale,
    stress_covariance,
    trailing_covariance,
    within_book_cap,
)

__all__ = ["trailing_covariance", "stress_covariance", "book_risk", "within_book_cap",
           "cap_scale"]
