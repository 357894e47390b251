"""The ``hedge:`` section: a spot holding hedged with a short perpetual (issue 13).

Kept in its own module so the root :class:`~revertible.config.Config` gains one field only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HedgeConfig"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class HedgeConfig(_Frozen):
    """Short-perpetual hedge of a spot holding: margin, costs, unwind rule, windows.

    Rates are fractions (``0.0001`` is 0.01%). Funding is per settlement (8 h on Binance).

    The leverage rule (``leverage: null``, the default): at each bar ``t`` the short's
    liquidation price must lie beyond the larger of (a) the perpetual's worst rally over
    ``holding_bars`` bars in its own history up to ``t`` (highest high over the lowest close
    before it) and (b) ``liquidation_sigmas`` times the trailing volatility times
    ``sqrt(holding_bars)``; the leverage is the highest that does so, capped at
    ``max_leverage``. Under a random walk the price touches a level ``z`` holding-period sigmas
    away with probability ``2 (1 - Phi(z))`` (4.6% at the default ``z = 2``). Before 48 bars
    of history exist it is 1x (liquidation only past a doubling of the price).
    """

    leverage: float | None = Field(
        None, gt=0.0, le=125.0,
        description="Leverage of the short perp leg; null: the leverage rule (class notes).",
    )
    max_leverage: float = Field(
        5.0, gt=0.0, le=125.0, description="Cap on the leverage the rule may choose."
    )
    holding_bars: int | None = Field(
        None, ge=1, description="Holding period of the hedge in bars (the rule's window); "
                                "null: the replay's range.",
    )
    on_margin_call: Literal["top_up", "reopen", "stop"] = Field(
        "top_up",
        description="On a margin call (liquidation within margin_call_sigmas horizon sigmas): "
                    "top_up adds collateral back to the rule's margin; reopen does nothing "
                    "until a liquidation, then re-opens the short with fresh margin at the "
                    "next open; stop leaves the holding unhedged after a liquidation. A "
                    "liquidation that gaps past a call re-opens under top_up too.",
    )
    margin_call_sigmas: float = Field(
        3.0, gt=0.0, description="A margin call when the liquidation price comes within this "
                                 "many sigmas over `horizon` bars.",
    )
    maintenance_margin_rate: float = Field(
        0.004, ge=0.0, lt=1.0, description="Maintenance margin as a share of the perp notional."
    )
    taker_fee: float = Field(
        0.0005, ge=0.0, lt=0.1, description="Perp leg taker fee per fill (Binance USDT-M 0.05%)."
    )
    slippage_bps: float = Field(2.0, ge=0.0, description="Slippage per perp fill, in bp.")
    unwind: bool = Field(
        False, description="Replay applies the funding unwind / re-hedge rule (--unwind flips it)."
    )
    unwind_funding: float = Field(
        0.0001, ge=0.0,
        description="Unwind when the funding PAID by the short exceeds this per settlement.",
    )
    unwind_persistence: int = Field(
        3, ge=1, description="...for this many consecutive settlements (and re-hedge after as "
                             "many settlements back at or below it)."
    )
    vol_window: int = Field(720, ge=10, description="Bars of the trailing volatility window.")
    horizon: int = Field(48, ge=1, description="Bars of the margin-call check (the time a "
                                               "hedger needs to add collateral).")
    liquidation_sigmas: float = Field(
        2.0, gt=0.0, description="The rule keeps liquidation at least this many sigmas of the "
                                 "holding period away (and beyond the worst rally)."
    )
    beta_window: int = Field(
        720, ge=10, description="Trailing bars of the cross-asset hedge beta (--hedge-with)."
    )
    rebalance_drift: float = Field(
        0.008, gt=0.0, lt=1.0,
        description="Relative drift of held contracts from target that triggers a resize "
                    "(cross-asset hedges), and the default live rebalance threshold while "
                    "backtest.rebalance_drift does not exist.",
    )
