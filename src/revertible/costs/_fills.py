"""Fills that could happen: the pessimistic maker fill of a two-leg order.

``costs.fill: maker_pessimistic``.

Rule, per leg, for an order decided at the close of signal bar ``t``:

* a limit order rests at the signal bar's close ``L`` (a buy at ``L``, a sell at ``L``);
* it fills at ``L`` at the maker fee in the first bar ``t + k`` (``k = 1 .. costs.maker_wait_bars``)
  that trades *beyond* it by ``costs.maker_margin_bps``: for a buy ``low <= L * (1 - m)``, for a
  sell ``high >= L * (1 + m)``. A touch is not a fill; a bar without a price cannot fill;
* a leg still unfilled after the wait is dealt with at the open of bar ``t + wait + 1``:

  - the other leg filled (one leg legged in): the unfilled leg is completed as a taker at that
    open (taker fee and slippage); its extra cost over a maker fill at ``L`` is the *legging
    cost* ``qty * (side * (P - L) + taker_fee * P - maker_fee * L)`` (``P`` the taker fill price);
  - neither filled: ``costs.maker_unfilled`` decides: ``cancel`` (no trade) or ``cross`` (both
    legs taker at that open);

* no price at that open (the asset stopped trading): the order is cancelled, and a legged-in leg
  stays legged (its other leg ``status`` is ``missing``).

Nothing here looks past ``t + wait + 1``. The functions are pure; :func:`pessimistic_fills` runs
the rule over many orders (compiled) and :func:`pair_fill` is its one-order form. The status
codes are :data:`FILL_STATUS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numba as nb
import numpy as np

if TYPE_CHECKING:
    from ..config import CostConfig

__all__ = ["FILL_STATUS", "PairFill", "pair_fill", "pessimistic_fills", "fill_summary"]

#: Pair outcome codes: both maker, one maker and one taker, both taker, no trade, missing price.
FILL_STATUS = ("maker", "legged", "crossed", "cancelled", "missing")
_MAKER, _LEGGED, _CROSSED, _CANCELLED, _MISSING = range(5)


class PairFill(NamedTuple):
    """One two-leg order's fills (``*_a``, ``*_b`` per leg).

    ``status``: a :data:`FILL_STATUS` name; ``bar_*``: the fill bar (-1: none); ``price_*``: the
    fill price (slippage included for a taker fill, NaN if none); ``maker_*``: filled as maker;
    ``fee_*``: the fee rate paid; ``legging_cost``: extra cost of completing a legged-in order at
    the taker (per the module docstring, in quote currency for the given quantities).
    """

    status: str
    bar_a: int
    bar_b: int
    price_a: float
    price_b: float
    maker_a: bool
    maker_b: bool
    fee_a: float
    fee_b: float
    legging_cost: float


@nb.njit(cache=True, nogil=True)
def _rest(side, limit, high, low, t, wait, margin, col):  # pragma: no cover
    """First bar in ``t+1 .. t+wait`` trading beyond ``limit`` by ``margin``; -1 if none."""
    n = high.shape[0]
    for k in range(t + 1, min(t + wait + 1, n)):
        if side > 0:
            lo = low[k, col]
            if np.isfinite(lo) and lo <= limit * (1.0 - margin):
                return k
        else:
            hi = high[k, col]
            if np.isfinite(hi) and hi >= limit * (1.0 + margin):
                return k
    return -1


@nb.njit(cache=True, nogil=True)
def _pessimistic(t, ca, cb, sa, sb, qa, qb, opn, high, low, close, margin, wait, cross,
                 tfee, mfee, slip, out):  # pragma: no cover
    """One order into ``out``.

    ``out``: status, bar_a, bar_b, price_a, price_b, maker_a, maker_b, fee_a, fee_b, legging.
    """
    n = close.shape[0]
    la = close[t, ca]
    lb = close[t, cb]
    out[:] = np.nan
    out[1] = -1.0
    out[2] = -1.0
    out[5] = 0.0
    out[6] = 0.0
    if not (np.isfinite(la) and np.isfinite(lb)):
        out[0] = _MISSING
        return
    ka = _rest(sa, la, high, low, t, wait, margin, ca)
    kb = _rest(sb, lb, high, low, t, wait, margin, cb)
    if ka >= 0:
        out[1] = ka
        out[3] = la
        out[5] = 1.0
        out[7] = mfee
    if kb >= 0:
        out[2] = kb
        out[4] = lb
        out[6] = 1.0
        out[8] = mfee
    if ka >= 0 and kb >= 0:
        out[0] = _MAKER
        out[9] = 0.0
        return
    if ka < 0 and kb < 0 and not cross:
        out[0] = _CANCELLED
        return
    k = t + wait + 1
    oa = opn[k, ca] if k < n else np.nan
    ob = opn[k, cb] if k < n else np.nan
    status = _LEGGED if (ka >= 0 or kb >= 0) else _CROSSED
    if (ka < 0 and not np.isfinite(oa)) or (kb < 0 and not np.isfinite(ob)):
        out[0] = _MISSING if status == _LEGGED else _CANCELLED
        return
    legging = 0.0
    if ka < 0:
        pa = oa * (1.0 + sa * slip)
        out[1] = k
        out[3] = pa
        out[7] = tfee
        if status == _LEGGED:
            legging += abs(qa) * (sa * (pa - la) + tfee * pa - mfee * la)
    if kb < 0:
        pb = ob * (1.0 + sb * slip)
        out[2] = k
        out[4] = pb
        out[8] = tfee
        if status == _LEGGED:
            legging += abs(qb) * (sb * (pb - lb) + tfee * pb - mfee * lb)
    out[0] = status
    out[9] = legging


@nb.njit(cache=True, parallel=True)
def _pessimistic_many(t, ca, cb, sa, sb, qa, qb, opn, high, low, close, margin, wait, cross,
                      tfee, mfee, slip, out):  # pragma: no cover
    for i in nb.prange(t.shape[0]):
        _pessimistic(t[i], ca[i], cb[i], sa[i], sb[i], qa[i], qb[i], opn, high, low, close,
                     margin, wait, cross, tfee, mfee, slip, out[i])


def pessimistic_fills(
    t: np.ndarray, col_a: np.ndarray, col_b: np.ndarray, side_a: np.ndarray, side_b: np.ndarray,
    qty_a: np.ndarray, qty_b: np.ndarray, opn: np.ndarray, high: np.ndarray, low: np.ndarray,
    close: np.ndarray, costs: CostConfig, slippage: float | None = None,
) -> dict[str, np.ndarray]:
    """The pessimistic maker fills of many two-leg orders decided at the closes of bars ``t``.

    Parameters
    ----------
    t : numpy.ndarray
        Signal bars (the orders rest at their closes).
    col_a, col_b : numpy.ndarray
        Asset columns of the legs in the ``(T, N)`` price arrays.
    side_a, side_b : numpy.ndarray
        +1 buy, -1 sell.
    qty_a, qty_b : numpy.ndarray
        Quantities (their sign is ignored), for the legging cost.
    opn, high, low, close : numpy.ndarray
        ``(T, N)`` prices, NaN where an asset has no bar.
    costs : CostConfig
        ``maker_margin_bps``, ``maker_wait_bars``, ``maker_unfilled``, the taker and maker fees
        and (taker completions) ``slippage_bps``.
    slippage : float, optional
        Taker slippage per fill as a fraction (default ``costs.slippage_bps / 1e4``).

    Returns
    -------
    dict of numpy.ndarray
        ``status`` (names of :data:`FILL_STATUS`), ``bar_a``, ``bar_b``, ``price_a``,
        ``price_b``, ``maker_a``, ``maker_b``, ``fee_a``, ``fee_b``, ``legging_cost``.
    """
    f8 = np.ascontiguousarray
    n = len(t)
    out = np.empty((n, 10))
    slip = costs.slippage_bps / 1e4 if slippage is None else float(slippage)
    _pessimistic_many(
        f8(t, np.int64), f8(col_a, np.int64), f8(col_b, np.int64), f8(side_a, np.float64),
        f8(side_b, np.float64), f8(qty_a, np.float64), f8(qty_b, np.float64),
        np.asarray(opn, np.float64), np.asarray(high, np.float64), np.asarray(low, np.float64),
        np.asarray(close, np.float64), costs.maker_margin_bps / 1e4, int(costs.maker_wait_bars),
        costs.maker_unfilled == "cross", costs.taker_fee, costs.maker_fee, slip, out,
    )
    names = np.asarray(FILL_STATUS, dtype=object)
    return {
        "status": names[out[:, 0].astype(np.int64)],
        "bar_a": out[:, 1].astype(np.int64), "bar_b": out[:, 2].astype(np.int64),
        "price_a": out[:, 3], "price_b": out[:, 4],
        "maker_a": out[:, 5] > 0, "maker_b": out[:, 6] > 0,
        "fee_a": out[:, 7], "fee_b": out[:, 8], "legging_cost": out[:, 9],
    }  # fmt: skip


def pair_fill(
    t: int, side_a: float, side_b: float, qty_a: float, qty_b: float, opn: np.ndarray,
    high: np.ndarray, low: np.ndarray, close: np.ndarray, costs: CostConfig,
) -> PairFill:
    """:func:`pessimistic_fills` of one order on two-column ``(T, 2)`` price arrays (A, B)."""
    f = pessimistic_fills(np.array([t]), np.array([0]), np.array([1]), np.array([side_a]),
                          np.array([side_b]), np.array([qty_a]), np.array([qty_b]), opn, high,
                          low, close, costs)  # fmt: skip
    return PairFill(*(v[0].item() if hasattr(v[0], "item") else v[0] for v in f.values()))


def fill_summary(fills: dict[str, np.ndarray]) -> dict[str, float]:
    """``fill_rate`` (legs filled as maker over legs ordered), trades, legged share, legging cost.

    Examples
    --------
    >>> f = {"status": np.array(["maker", "legged", "cancelled"], dtype=object),
    ...      "maker_a": np.array([True, True, False]), "maker_b": np.array([True, False, False]),
    ...      "legging_cost": np.array([0.0, 2.5, np.nan])}
    >>> fill_summary(f)["fill_rate"], fill_summary(f)["legging_cost"]
    (0.5, 2.5)
    """
    status = np.asarray(fills["status"])
    n = len(status)
    makers = np.asarray(fills["maker_a"]).sum() + np.asarray(fills["maker_b"]).sum()
    traded = np.isin(status, ("maker", "legged", "crossed"))
    return {
        "orders": float(n),
        "fill_rate": float(makers / (2 * n)) if n else float("nan"),
        "traded_share": float(traded.mean()) if n else float("nan"),
        "legged_share": float((status == "legged").mean()) if n else float("nan"),
        "legging_cost": float(np.nansum(np.asarray(fills["legging_cost"])[status == "legged"])),
    }
