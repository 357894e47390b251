"""Re-exports the book-risk paths of :mod:`revertible.risk` for the backtest modules using them.

Pending (issue 19): ``backtest/_engine.py`` and ``_book.py`` import ``from ..risk import ...`` and
this module goes.
"""

from __future__ import annotations

from ..risk import RiskCovariances, book_risk_paths, risk_limit, risk_metrics

__all__ = ["RiskCovariances", "risk_limit", "book_risk_paths", "risk_metrics"]
