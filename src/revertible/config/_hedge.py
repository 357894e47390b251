"""The ``hedge:`` section: a spot holding hedged with a short perpetual (issue 13).

Kept in its own module so the root :class:`~revertible.config.Config` gains one field only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HedgeConfig"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class HedgeConfig(_Frozen):
    """Short-perpetual hedge of a spot holding: margin, costs, unwind rule, windows.

    Rates are fractions (``0.0001`` is 0.01%). Funding is per settlement (8 h on Binance).
    """

    leverage: float = Field(3.0, gt=0.0, le=125.0, description="Leverage of the short perp leg.")
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
    horizon: int = Field(48, ge=1, description="Bars over which the liquidation distance is "
                                               "measured in sigmas.")
    liquidation_sigmas: float = Field(
        3.0, gt=0.0, description="Collateral to keep aside puts liquidation this many "
                                 "horizon sigmas away."
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
