"""The ``baskets:`` config section: thematic baskets, regime triggers, book risk, sectors.

Asset eligibility (history and liquidity) is not repeated here: baskets use the ``universe``
section's ``min_history_days`` (90) and ``min_quote_volume`` ($1M median daily quote volume).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BasketsConfig"]


class _Frozen(BaseModel):  # same rules as config._schema._Frozen (no import cycle)
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class BasketsConfig(_Frozen):
    """Thematic baskets from the point-in-time correlation structure (docs/design.md)."""

    windows_days: tuple[int, ...] = Field(
        (30, 60, 90), description="Return-correlation windows; clustering uses their mean."
    )
    corr_band: tuple[float, float] = Field(
        (0.6, 0.9), description="Every pairwise correlation inside a basket lies in [low, high]."
    )
    min_size: int = Field(3, ge=2, description="Smallest basket kept.")
    max_size: int = Field(5, ge=2, description="Largest basket built.")
    linkage: Literal["complete", "average", "single"] = Field(
        "complete",
        description="Hierarchical-clustering linkage on 1 - corr; complete: every pair in a "
        "cluster cut at 1 - low has corr >= low.",
    )
    shock_sigma: float = Field(
        3.0, gt=0.0, description="Stress shock in daily standard deviations (k-sigma loss)."
    )
    stress_corr: float = Field(0.95, ge=-1.0, le=1.0, description="Correlation of the stress.")
    # regime triggers
    baseline_days: int = Field(30, ge=2, description="Baseline window of both triggers.")
    shift_bars: int = Field(
        72, ge=6, description="Short correlation window compared with the 30-day baseline."
    )
    corr_shift: float = Field(0.15, gt=0.0, le=2.0, description="Correlation-shift trigger.")
    vol_sigma: float = Field(3.0, gt=0.0, description="1-hour volatility-spike trigger (sigmas).")
    # book risk
    max_book_risk: float | None = Field(
        None,
        gt=0.0,
        description="Cap on the book's shock_sigma daily loss as a share of capital, in sizing "
        "and the backtest: shock_sigma x the daily sd of the net book under the worst of the "
        "trailing covariance, all correlations at stress_corr and all at 0 (legs decoupling) "
        "(e.g. 0.1); null: no cap.",
    )
    cov_window_days: int = Field(30, ge=2, description="Trailing covariance window of book risk.")
    # sectors
    sectors: dict[str, str] | None = Field(
        None,
        description="Asset -> sector map (e.g. {'FET/USDT': 'ai'}); null: the default map of "
        "revertible.universe.DEFAULT_SECTORS, restricted to the assets present.",
    )

    @model_validator(mode="after")
    def _check(self) -> BasketsConfig:
        low, high = self.corr_band
        if not (-1.0 <= low <= 1.0 and -1.0 <= high <= 1.0):
            raise ValueError(
                f"corr_band={list(self.corr_band)} must lie within [-1, 1]; e.g. [0.6, 0.9]"
            )
        if not low < high:
            raise ValueError(
                f"corr_band={list(self.corr_band)} is inverted or empty: need low < high, "
                "e.g. [0.6, 0.9]"
            )
        if self.min_size > self.max_size:
            raise ValueError(
                f"min_size={self.min_size} must not exceed max_size={self.max_size}"
            )
        if not self.windows_days or min(self.windows_days) < 2:
            raise ValueError(f"windows_days={list(self.windows_days)}: need days >= 2")
        return self
