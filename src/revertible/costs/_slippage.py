"""Per-asset slippage from a high-low spread estimator, and a cap on a trade's share of volume.

``costs.slippage_model: estimated``: the slippage of one fill of asset ``i`` at bar ``t`` is half
its effective spread estimated by Abdi and Ranaldo (2017, "A simple estimation of bid-ask spreads
from daily close, high, and low prices"), computed on the panel's bars over the trailing
``costs.slippage_window_days``::

    eta_t = (ln H_t + ln L_t) / 2,        c_t = ln C_t
    S^2   = 4 * mean_j[(c_(j-1) - eta_(j-1)) * (c_(j-1) - eta_j)]    over j in the window
    S     = sqrt(max(S^2, 0))

The window ends at ``t`` (the pair ``(t-1, t)`` is its last term), so the value at ``t`` uses bars
``<= t`` only. Fewer than half the window's terms valid: NaN. The slippage per fill is the larger
of half the estimate and ``costs.slippage_bps`` (its floor, and its value where the estimate is
unknown). ``constant`` (the default): ``slippage_bps`` for every asset and bar.

``costs.max_volume_share`` caps a leg's notional at that share of the signal bar's quote volume
(:func:`volume_cap`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np

if TYPE_CHECKING:
    from ..config import CostConfig
    from ..data import Panel

__all__ = ["abdi_ranaldo_spread", "slippage_per_fill", "volume_cap", "signal_round_trip",
           "not_replayed"]


@nb.njit(cache=True, parallel=True)
def _ar_spread(high, low, close, window, min_n, out):  # pragma: no cover
    n, m = close.shape
    for i in nb.prange(m):
        x = np.full(n, np.nan)
        for t in range(1, n):
            c = _log(close[t - 1, i])
            e0 = 0.5 * (_log(high[t - 1, i]) + _log(low[t - 1, i]))
            e1 = 0.5 * (_log(high[t, i]) + _log(low[t, i]))
            v = (c - e0) * (c - e1)
            if np.isfinite(v):
                x[t] = v
        s = 0.0
        k = 0
        for t in range(n):
            if np.isfinite(x[t]):
                s += x[t]
                k += 1
            j = t - window
            if j >= 0 and np.isfinite(x[j]):
                s -= x[j]
                k -= 1
            if k >= min_n:
                out[t, i] = 2.0 * np.sqrt(max(s / k, 0.0))
            else:
                out[t, i] = np.nan


@nb.njit(inline="always")
def _log(v):  # pragma: no cover
    """Natural log, NaN for non-positive or missing prices."""
    return np.log(v) if v > 0.0 else np.nan


def abdi_ranaldo_spread(panel: Panel, window_days: float = 30.0) -> np.ndarray:
    """``(T, N)`` Abdi-Ranaldo effective spread (a fraction of the price), point in time.

    Examples
    --------
    >>> import pandas as pd
    >>> from revertible.data import Panel
    >>> rng = np.random.default_rng(0)
    >>> mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 5000)))[:, None]
    >>> side = rng.choice([-1.0, 1.0], size=mid.shape)
    >>> close = mid * (1 + side * 0.001)  # trades at the bid or the ask: spread 20 bp
    >>> hi, lo = mid * 1.003, mid / 1.003
    >>> t = pd.date_range("2024-01-01", periods=5000, freq="1h", tz="UTC")
    >>> p = Panel(t, ("X/USDT",), close, hi, lo, close, close, close)
    >>> bool(abs(np.nanmedian(abdi_ranaldo_spread(p, 30)) - 0.002) < 0.001)
    True
    """
    w = panel.days_to_bars(window_days)
    out = np.empty((panel.n_bars, panel.n_assets))
    _ar_spread(np.asarray(panel.high, np.float64), np.asarray(panel.low, np.float64),
               np.asarray(panel.close, np.float64), w, max(2, w // 2), out)  # fmt: skip
    return out


def slippage_per_fill(panel: Panel, costs: CostConfig) -> np.ndarray:
    """``(T, N)`` slippage of one taker fill as a fraction of the price, per ``slippage_model``.

    ``estimated``: half the Abdi-Ranaldo spread, but at least ``costs.slippage_bps`` (a floor:
    on liquid assets the hourly estimate is often 0, below its noise) and that where it is
    unknown; ``constant``: ``costs.slippage_bps`` everywhere.
    """
    const = costs.slippage_bps / 1e4
    if costs.slippage_model == "constant":
        return np.full((panel.n_bars, panel.n_assets), const)
    half = 0.5 * abdi_ranaldo_spread(panel, costs.slippage_window_days)
    return np.fmax(half, const)


def volume_cap(notional: np.ndarray, quote_volume: np.ndarray, share: float | None) -> np.ndarray:
    """Leg notionals capped at ``share`` of the bar's quote volume.

    No cap when ``share`` is None; a bar without volume allows nothing.

    Examples
    --------
    >>> volume_cap(np.array([5e4, 5e4, 5e4]), np.array([1e6, 1e5, np.nan]), 0.1).tolist()
    [50000.0, 10000.0, 0.0]
    """
    notional = np.asarray(notional, dtype=np.float64)
    if share is None:
        return notional
    room = share * np.nan_to_num(np.asarray(quote_volume, dtype=np.float64), nan=0.0)
    return np.minimum(notional, room)


def signal_round_trip(
    costs: CostConfig, slip_a: np.ndarray, slip_b: np.ndarray, leg_ratio: np.ndarray
) -> np.ndarray:
    """Each signal's own round trip per unit of leg-A notional.

    ``2 * (fee + slip_a) + 2 * (fee + slip_b) * leg_ratio``, with the taker slippage of its own
    assets at its bar (:func:`slippage_per_fill`); maker fills pay the fee only.

    Examples
    --------
    >>> from revertible.config import CostConfig
    >>> signal_round_trip(CostConfig(), np.array([2e-4]), np.array([2e-4]), np.array([0.8]))
    array([0.00432])
    """
    fee = costs.fee
    taker = costs.fill == "taker"  # maker fills pay no slippage (CostConfig.slippage)
    sa = np.asarray(slip_a, np.float64) if taker else 0.0
    sb = np.asarray(slip_b, np.float64) if taker else 0.0
    return 2.0 * (fee + sa) + 2.0 * (fee + sb) * np.asarray(leg_ratio, np.float64)


def not_replayed(costs: CostConfig) -> str | None:
    """Why the backtest book cannot replay these costs yet (None when it can).

    ``fill: maker_pessimistic``, ``slippage_model: estimated`` and ``max_volume_share`` are
    computed here (:mod:`._fills`, this module) and compared per trade by
    ``research/fill_models.py``; until the book fills with them, a replay would silently use the
    optimistic maker fill and the constant slippage, so the commands that replay refuse them.
    """
    bad = [f"{k}={v}" for k, v, default in (
        ("costs.fill", costs.fill, "maker_pessimistic"),
        ("costs.slippage_model", costs.slippage_model, "estimated"),
    ) if v == default]  # fmt: skip
    if costs.max_volume_share is not None:
        bad.append(f"costs.max_volume_share={costs.max_volume_share}")
    if not bad:
        return None
    return (f"{', '.join(bad)}: not replayed by the backtest book yet (it would fill as the "
            "optimistic maker at the constant slippage); compare fill models with "
            "research/fill_models.py, or use costs.fill taker|maker with slippage_model constant")
