"""The model's training reference, which every check compares the live record with.

Its own module so that the checks (``_core``) and the sequential test's level
(``_sequential``) both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Reference"]


@dataclass(frozen=True)
class Reference:
    """The model's training reference: base rate, median probability, quantile sketch.

    ``design_effect`` (:func:`revertible.monitor.design_effect`) is how much the labels'
    dependence inflates the variance of a calibration sum at the training record's labels a
    day; ``rho`` the labels' within-day correlation it comes from, which the checks use at the
    live record's count.
    """

    base_rate: float
    median_probability: float
    n: int
    sketch: dict[str, Any]
    source: str
    design_effect: float = 1.0
    design: dict[str, Any] | None = None
    rho: float = 0.0
