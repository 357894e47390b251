"""Re-exports :mod:`revertible.risk` for the decision modules that still import it from here.

Pending (issue 19): ``decision/__init__.py``, ``_size.py`` and ``_book.py`` import
``from ..risk import ...`` and this module goes.
"""

from __future__ import annotations

from ..risk import (
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

__all__ = ["log_returns", "corr_matrix", "trailing_covariance", "stress_covariance",
           "risk_matrices", "book_risk", "within_book_cap", "cap_scale", "risk_room"]
