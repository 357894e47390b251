"""The leverage sweep and the one-line verdict of a hedge replay.

The sweep replays the same hedge at fixed leverages (:data:`SWEEP_LEVERAGES`) twice: with
``on_margin_call: stop`` (what the margin alone survives: liquidations, hedged share of bars,
volatility, funding) and with ``top_up`` (the collateral its margin calls add, whether or not a
liquidation would have followed: a row can show no liquidation and a top-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SWEEP_LEVERAGES", "SWEEP_COLUMNS", "leverage_sweep", "hedge_verdict"]

SWEEP_LEVERAGES = (1.0, 2.0, 3.0, 5.0)
SWEEP_COLUMNS = ("leverage", "liquidations", "first_liquidation", "hedged_share",
                 "hedged_volatility", "funding_paid", "top_up_collateral", "margin_calls")


def leverage_sweep(replay: Callable[[float, str], Any], times: pd.DatetimeIndex,
                   leverages: tuple[float, ...] = SWEEP_LEVERAGES) -> pd.DataFrame:
    """One row per leverage: :data:`SWEEP_COLUMNS`.

    ``replay(leverage, policy)`` returns a :class:`~revertible.hedge.HedgeReplay` of the same
    hedge at that fixed leverage and ``on_margin_call`` policy. ``liquidations``,
    ``first_liquidation`` (UTC time, empty: none), ``hedged_share``, ``hedged_volatility`` and
    ``funding_paid`` come from the ``stop`` replay; ``top_up_collateral`` (added after the opening
    margin) and ``margin_calls`` from the ``top_up`` one.
    """
    rows = []
    for lev in leverages:
        stop = replay(lev, "stop").metrics
        top = replay(lev, "top_up").metrics
        bar = int(stop["liquidated_at_bar"])
        rows.append({
            "leverage": lev, "liquidations": int(stop["liquidations"]),
            "first_liquidation": f"{times[bar]:%Y-%m-%d %H:%M}" if bar >= 0 else "",
            "hedged_share": stop["hedged_bars"], "hedged_volatility": stop["hedged.volatility"],
            "funding_paid": stop["funding_paid"], "top_up_collateral": top["collateral_added"],
            "margin_calls": int(top["margin_calls"]),
        })
    return pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))


def _pct(x: float) -> str:
    return f"{x:.1%}" if np.isfinite(x) else "n/a"


def hedge_verdict(metrics: dict[str, float], times: pd.DatetimeIndex, sweep: pd.DataFrame,
                  policy: str, top_up_cost: float | None = None, quote: str = "USDT") -> str:
    """One line: survived or liquidated (when, what the policy did), the volatility, the fix.

    ``top_up_cost``: the collateral the same hedge would have added under ``top_up``.
    """
    vol_u, vol_h = metrics["unhedged.volatility"], metrics["hedged.volatility"]
    share = vol_h / vol_u if vol_u > 0 else float("nan")
    vols = (f"volatility {_pct(vol_u)} unhedged -> {_pct(vol_h)} hedged ({_pct(share)} of it), "
            f"hedged {_pct(metrics['hedged_bars'])} of bars")
    calls = int(metrics.get("margin_calls", 0))
    topped = (f"; {calls} margin call(s) topped up with {metrics['collateral_added']:,.2f} "
              f"{quote}" if calls else "")
    safe = sweep.loc[sweep["liquidations"] == 0, "leverage"]
    safe_text = f"{safe.max():g}x or less" if len(safe) else "below 1x"
    bar = int(metrics["liquidated_at_bar"])
    if bar < 0:
        near = int(metrics.get("closest_at_bar", -1))
        close = (f", closest approach {_pct(metrics['closest_liquidation_distance'])} below the "
                 f"liquidation price on {times[near]:%Y-%m-%d}" if near >= 0 else "")
        lev = metrics["opening_leverage"]
        if not np.isfinite(lev):
            return f"NO HEDGE: the short was never opened in the range; {vols}."
        return f"OK: the short opened at {lev:.2f}x was never liquidated{close}; {vols}{topped}."
    when = f"{times[bar]:%Y-%m-%d %H:%M} UTC"
    n = int(metrics["liquidations"])
    if policy == "stop":
        after = "the holding stayed unhedged after it (on_margin_call: stop)"
    else:
        after = (f"re-opened {int(metrics['reopens'])} time(s) with fresh margin "
                 f"(on_margin_call: {policy}, {metrics['collateral_added']:,.2f} {quote} "
                 "collateral added in all)")
    cost = (f" ({top_up_cost:,.2f} {quote} of extra collateral here)"
            if top_up_cost is not None and policy != "top_up" else "")
    return (f"LIQUIDATED {n} time(s), first on {when}; {after}; {vols}{topped}. Fix: leverage "
            f"{safe_text} (no liquidation on this range, see the sweep), leave hedge.leverage "
            f"unset for the rule, or hedge.on_margin_call: top_up{cost}.")
