"""Pure cost functions shared by sizing (the decision layer) and the backtest.

Conventions (docs/design.md "Costs", :class:`revertible.config.CostConfig`)
---------------------------------------------------------------------
* A fill pays ``costs.fee`` (taker or maker, per ``costs.fill``) on its notional at the fill
  price, and a taker fill moves the price by ``costs.slippage`` against the trader: a buy fills
  at ``open * (1 + slip)``, a sell at ``open * (1 - slip)``. Maker fills: no slippage.
* Spot short legs pay ``costs.borrow_rate_daily`` per day on their notional, charged each held
  bar pro rata (an hourly bar pays ``rate / 24``).
* Perpetual legs pay ``side * qty * rate * mark`` at every funding time they hold (a position
  opened before the funding time and closed after it); a positive rate is paid by longs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import CostConfig
    from ..data import Panel

__all__ = [
    "effective_costs",
    "round_trip_cost",
    "round_trip_cost_per_leg_a",
    "fill_price",
    "borrow_per_bar",
    "funding_events_per_bar",
    "funding_schedule",
]


def round_trip_cost(costs: CostConfig) -> float:
    """Fees and slippage of a round trip per unit of *gross* notional (both legs).

    Every unit of gross notional is filled twice (entry and exit), each fill paying the fee and
    (taker) the slippage: ``2 * (fee + slippage)``. Spot taker 24 bp, perp taker 14 bp, perp
    maker 4 bp. Borrow and funding depend on the holding time and are not included.

    Examples
    --------
    >>> from revertible.config import CostConfig
    >>> round(round_trip_cost(CostConfig()) * 1e4, 9)
    24.0
    >>> round(round_trip_cost(CostConfig(venue="perp", fill="maker")) * 1e4, 9)
    4.0
    """
    return 2.0 * (costs.fee + costs.slippage)


def round_trip_cost_per_leg_a(costs: CostConfig, leg_ratio: float) -> float:
    """Round trip per unit of leg-A notional when leg B is ``leg_ratio`` x leg A.

    Examples
    --------
    >>> from revertible.config import CostConfig
    >>> round(round_trip_cost_per_leg_a(CostConfig(), 0.8), 6)
    0.00432
    """
    if not (np.isfinite(leg_ratio) and leg_ratio >= 0.0):
        raise ValueError(f"`leg_ratio >= 0` must hold, but got leg_ratio={leg_ratio!r}")
    return round_trip_cost(costs) * (1.0 + leg_ratio)


def fill_price(price: float | np.ndarray, side: float | np.ndarray, costs: CostConfig):
    """Fill price of a buy (``side > 0``) or sell (``side < 0``) at ``price`` with slippage."""
    return price * (1.0 + np.sign(side) * costs.slippage)


def borrow_per_bar(costs: CostConfig, bar: pd.Timedelta) -> float:
    """Borrow interest per bar per unit of short spot notional (0 on a perp venue)."""
    if costs.perpetual:
        return 0.0
    return costs.borrow_rate_daily * (bar / pd.Timedelta(days=1))


def funding_schedule(panel: Panel, costs: CostConfig) -> np.ndarray:
    """``(T, N)`` funding rate charged at each bar's open (0 where none; all 0 on spot).

    A finite ``panel.funding`` value is used where present; otherwise a bar carries
    ``costs.funding_rate_default`` once for each of ``costs.funding_hours`` (UTC) falling in its
    span ``[open, open + bar)``, by timestamp: at any bar size (an hourly bar opening at 08:00
    pays one, a 4h bar from 08:00 one, a daily bar three).
    """
    out = np.zeros((panel.n_bars, panel.n_assets), order="F")
    if not costs.perpetual:
        return out
    out += costs.funding_rate_default * funding_events_per_bar(
        panel.times, panel.freq, costs.funding_hours)[:, None]
    if panel.funding is not None:
        have = np.isfinite(panel.funding)
        out[have] = panel.funding[have]
    return out


def funding_events_per_bar(
    times: pd.DatetimeIndex, bar: pd.Timedelta, hours: tuple[int, ...]
) -> np.ndarray:
    """How many funding times (UTC ``hours`` of every day) fall in each bar ``[t, t + bar)``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=3, freq="4h", tz="UTC")
    >>> funding_events_per_bar(t, pd.Timedelta(hours=4), (0, 8, 16)).tolist()
    [1.0, 0.0, 1.0]
    """
    day = 86_400_000_000_000
    tod = times.as_unit("ns").asi8 % day
    span = int(bar.value)
    n = np.zeros(len(times))
    for h in hours:
        off = (h * 3_600_000_000_000 - tod) % day  # time to the next funding at hour h
        n += np.where(off < span, (span - off + day - 1) // day, 0)
    return n


def effective_costs(costs: CostConfig) -> dict[str, object]:
    """The fees a venue preset and its overrides resolve to: what a trade pays.

    Recorded in a model's meta, so scoring can say when its config's costs differ.
    """
    return {"venue": costs.venue, "fill": costs.fill, "taker_fee": costs.taker_fee,
            "maker_fee": costs.maker_fee, "slippage_bps": costs.slippage_bps,
            "borrow_rate_daily": costs.borrow_rate_daily}
