"""Inputs of the decision and sizing: leg prices and vols, and live re-measurement.

Historical rows are priced at the close of their entry bar ``t`` (what the hourly run printed at
``t``). Live rows (open divergences) are priced at the **last bar** ``T``: leg closes and leg vols
at ``T``, ``z'_T = sign(z_entry) * (a_T - beta * b_T - mean) / std`` with the hedge ratio, mean and
std frozen at entry, and the outcome moments conditioned on what each direction already gained:
the reversion trade earned ``(|z_entry| - z'_T) * std / (1 + |beta|)`` per unit of gross notional
(log, first order), the continuation the opposite; a gain is removed, a loss is not credited
(:func:`revertible.decision.condition_on_realised`). A live row whose direction's stop or
take-profit was already touched on a close in ``t+1 .. T`` is kept with zero size and a reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Panel
from ..decision import Barriers
from ..episodes import LEG_VOL_DAYS, leg_vols

__all__ = ["LEG_VOL_DAYS", "leg_vols", "pricing_inputs", "live_path", "touched_reasons"]

def _legs(panel: Panel, episodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    index = pd.Index(list(panel.assets), dtype=object)
    legs = []
    for col in ("asset_a", "asset_b"):
        idx = index.get_indexer(pd.Index(episodes[col], dtype=object)).astype(np.int64)
        if (idx < 0).any():
            k = int(np.argmax(idx < 0))
            raise ValueError(f"episodes row {k}: {col} {episodes[col].iloc[k]!r} is not an asset "
                             "of the panel; score episodes built from the same panel")
        legs.append(idx)
    return legs[0], legs[1]


def pricing_inputs(
    panel: Panel, episodes: pd.DataFrame, vols: np.ndarray, *, live: bool
) -> dict[str, np.ndarray]:
    """Leg prices and vols at the pricing bar: the entry bar, or the last bar when ``live``."""
    if live:
        t = np.full(len(episodes), panel.n_bars - 1, dtype=np.int64)
    else:
        t = panel.times.get_indexer(pd.DatetimeIndex(episodes["entry_time"]))
    ia, ib = _legs(panel, episodes)
    return {
        "price_a": panel.close[t, ia],
        "price_b": panel.close[t, ib],
        "vol_a": vols[t, ia],
        "vol_b": vols[t, ib],
    }


def live_path(panel: Panel, episodes: pd.DataFrame, horizon: int) -> np.ndarray:
    """``(n, horizon)`` ``z'`` on the closes of bars ``t+1 .. t+horizon`` capped at the last bar.

    Frozen ``beta``, ``spread_mean`` and ``spread_std`` from entry; NaN past the last bar or
    where a leg has no close. Column ``k`` is bar ``t + 1 + k``.
    """
    n = len(episodes)
    t = panel.times.get_indexer(pd.DatetimeIndex(episodes["entry_time"])).astype(np.int64)
    ia, ib = _legs(panel, episodes)
    bars = t[:, None] + 1 + np.arange(horizon)[None, :]
    inside = bars <= panel.n_bars - 1
    bars = np.minimum(bars, panel.n_bars - 1)
    logc = panel.log_close()
    a = logc[bars, ia[:, None]]
    b = logc[bars, ib[:, None]]
    beta = episodes["beta"].to_numpy(float)[:, None]
    mean = episodes["spread_mean"].to_numpy(float)[:, None]
    std = episodes["spread_std"].to_numpy(float)[:, None]
    sign = np.sign(episodes["z_entry"].to_numpy(float))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        zp = sign * (a - beta * b - mean) / std
    return np.where(inside, zp, np.nan).reshape(n, horizon)


def z_now(panel: Panel, episodes: pd.DataFrame) -> np.ndarray:
    """``z'`` at the last bar's closes (frozen entry parameters); NaN without a close."""
    ia, ib = _legs(panel, episodes)
    logc = panel.log_close()[-1]
    sign = np.sign(episodes["z_entry"].to_numpy(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return sign * (logc[ia] - episodes["beta"].to_numpy(float) * logc[ib]
                       - episodes["spread_mean"].to_numpy(float)) / episodes[
                           "spread_std"].to_numpy(float)  # fmt: skip


def touched_reasons(
    path: np.ndarray, direction: np.ndarray, bars: dict[str, Barriers]
) -> np.ndarray:
    """Per row, why the chosen direction's trade is already over (empty: still live).

    ``path`` is :func:`live_path`; the reversion trade is over once ``z' <= take_profit`` or
    ``z' >= stop`` on a close, the continuation trade once ``z' >= take_profit`` or
    ``z' <= stop``.
    """
    out = np.full(len(direction), "", dtype=object)
    with np.errstate(invalid="ignore"):
        for d, hi_is_tp in (("revert", False), ("continue", True)):
            b = bars[d]
            rows = direction == d
            if not rows.any():
                continue
            p = path[rows]
            tp = (p >= b.take_profit) if hi_is_tp else (p <= b.take_profit)
            sl = (p <= b.stop) if hi_is_tp else (p >= b.stop)
            first_tp = np.where(tp.any(axis=1), tp.argmax(axis=1), path.shape[1])
            first_sl = np.where(sl.any(axis=1), sl.argmax(axis=1), path.shape[1])
            msg = np.full(int(rows.sum()), "", dtype=object)
            msg[first_tp < first_sl] = f"{d} take-profit already touched since entry"
            msg[first_sl < first_tp] = f"{d} stop already touched since entry"
            out[rows] = msg
    return out
