"""The ``costs`` section: venue fee presets, fill type, slippage, borrow and funding.

Every default is defined once, here. The fee actually charged is resolved from the venue preset
unless an explicit override is given (:attr:`CostConfig.taker_fee`, :attr:`CostConfig.maker_fee`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CostConfig", "VENUE_FEES"]

VENUE_FEES: dict[str, tuple[float, float]] = {"spot": (0.001, 0.001), "perp": (0.0005, 0.0002)}
"""``venue -> (taker fee, maker fee)`` per leg per side (Binance base tiers, docs/design.md)."""


class CostConfig(BaseModel):
    """Trading costs charged on both legs (docs/design.md "Costs").

    ``venue`` picks the fee preset: ``spot`` (0.10% taker, 0.10% maker) or ``perp`` (0.05%
    taker, 0.02% maker). ``fill`` picks which of the two every fill pays:

    * ``taker``: the fill is at the next bar's open plus/minus ``slippage_bps`` (per fill).
    * ``maker``: an *optimistic* assumption: every fill (entry, exit, rebalance) is a resting
      limit order filled at the next bar's open at the maker fee, with no slippage and no adverse
      selection (a real maker order fills more often when the price runs against it, and not at
      all on some bars). Compare against ``taker`` to see the sensitivity; the truth lies between.
    * ``maker_pessimistic``: a resting limit order at the signal bar's close that fills only when
      a later bar trades beyond it by ``maker_margin_bps`` within ``maker_wait_bars``; else it
      is cancelled or crosses (``maker_unfilled``); one leg filled and the other not: the second
      is completed at the taker cost, reported as the legging cost (:mod:`revertible.costs`).
      Its fills that happen pay the maker fee (``fee``), so its round trip is the maker's plus
      the legging and the trades it misses.

    Spot short legs (``venue: spot``) are margin loans paying ``borrow_rate_daily`` on the short
    notional, charged each held bar (pro rata: ``rate * bar / 1 day``). Perpetual legs
    (``venue: perp``) pay or receive funding at the funding times they are held: from the data
    where present, else ``funding_rate_default`` at each of ``funding_hours`` (UTC); they pay no
    borrow.

    The old key ``taker_fee`` is read as ``taker_fee_override`` (a config that sets it keeps its
    meaning: the taker fee charged).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    venue: Literal["spot", "perp"] = Field("spot", description="Fee preset and leg type.")
    fill: Literal["taker", "maker", "maker_pessimistic"] = Field(
        "taker", description="Fee (and slippage) of a fill; maker_pessimistic: a resting order "
        "at the signal close fills only if the next bars trade beyond it (costs/_fills.py)."
    )
    maker_margin_bps: float = Field(
        1.0, ge=0.0, description="maker_pessimistic: how far beyond the limit a bar must trade "
        "for the resting order to fill (a touch is not a fill)."
    )
    maker_wait_bars: int = Field(
        1, ge=1, description="maker_pessimistic: bars an order rests before it is cancelled or "
        "crosses."
    )
    maker_unfilled: Literal["cancel", "cross"] = Field(
        "cancel", description="maker_pessimistic: an order neither of whose legs filled is "
        "cancelled or crosses the spread (both legs taker) after maker_wait_bars."
    )
    slippage_model: Literal["constant", "estimated"] = Field(
        "constant", description="constant: slippage_bps for every asset; estimated: half the "
        "asset's Abdi-Ranaldo high-low spread over slippage_window_days, point in time, at "
        "least slippage_bps."
    )
    slippage_window_days: int = Field(
        30, ge=1, description="Trailing window of the estimated spread (slippage_model)."
    )
    max_volume_share: float | None = Field(
        None, gt=0.0, le=1.0, description="Cap on a leg's notional as a share of the signal "
        "bar's quote volume; null: no cap."
    )
    taker_fee_override: float | None = Field(
        None, ge=0.0, lt=0.1, description="Taker fee per leg per side; null: the venue preset."
    )
    maker_fee_override: float | None = Field(
        None, ge=-0.01, lt=0.1, description="Maker fee per leg per side; null: the venue preset."
    )
    slippage_bps: float = Field(2.0, ge=0.0, description="Per taker fill (maker fills: none).")
    borrow_rate_daily: float = Field(
        0.0002, ge=0.0, lt=0.1, description="Spot short legs: interest per day on the notional."
    )
    funding_rate_default: float = Field(
        0.0, gt=-0.1, lt=0.1, description="Per funding time for perpetual legs without data."
    )
    funding_hours: tuple[int, ...] = Field(
        (0, 8, 16), description="UTC hours of the funding times charged at the default rate."
    )

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "taker_fee" in data:
            data = dict(data)
            if "taker_fee_override" in data:
                raise ValueError(
                    "give costs.taker_fee_override only (costs.taker_fee is its old name)"
                )
            data["taker_fee_override"] = data.pop("taker_fee")
        if isinstance(data, dict) and "perpetual" in data:
            raise ValueError(
                f"costs.perpetual={data['perpetual']!r} is replaced by costs.venue: "
                "use `venue: perp` for perpetual legs or `venue: spot`"
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> CostConfig:
        bad = [h for h in self.funding_hours if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"funding_hours must lie in 0..23, but got {bad}")
        return self

    @property
    def taker_fee(self) -> float:
        """Taker fee per leg per side (override, else the venue preset)."""
        o = self.taker_fee_override
        return VENUE_FEES[self.venue][0] if o is None else o

    @property
    def maker_fee(self) -> float:
        """Maker fee per leg per side (override, else the venue preset)."""
        o = self.maker_fee_override
        return VENUE_FEES[self.venue][1] if o is None else o

    @property
    def fee(self) -> float:
        """Fee of one fill under ``fill`` (taker or maker)."""
        return self.taker_fee if self.fill == "taker" else self.maker_fee

    @property
    def slippage(self) -> float:
        """Slippage of one fill as a fraction of the price (0 for maker fills)."""
        return self.slippage_bps / 1e4 if self.fill == "taker" else 0.0

    @property
    def perpetual(self) -> bool:
        """Legs are perpetual futures (pay funding, no borrow)."""
        return self.venue == "perp"

    def scaled(self, mult: float) -> CostConfig:
        """These costs with fees and slippage multiplied by ``mult`` (funding, borrow: not)."""
        return self.model_copy(
            update={
                "taker_fee_override": self.taker_fee * mult,
                "maker_fee_override": self.maker_fee * mult,
                "slippage_bps": self.slippage_bps * mult,
            }
        )
