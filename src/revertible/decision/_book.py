"""Book caps shared by the signals of one sizing call, and exchange rounding (compiled loop).

Signals are booked one after another in priority order; each one sees the room the earlier
ones left: per-asset net notional ``<= max_asset_net_exposure * capital``, book gross notional
``<= max_gross_leverage * capital * (1 - buffer)``, posted margin ``<= capital * (1 - buffer)``
(the buffer is never allocated) and, when given a covariance, the book's risk
(:func:`revertible.risk.risk_room`: ``k`` x the daily sd of the net book, worst of trailing,
all-0.95 and all-0 correlations, ``<= baskets.max_book_risk * capital``).
A cap that binds shrinks both legs together, keeping their ratio. Quantities then round
*down* to ``qty_step``; a leg below ``min_notional`` zeroes the position.
Each cap is shrunk by a relative ``TOL`` so float rounding never lands above it.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..risk import risk_room
from ._checks import TOL, require

__all__ = ["round_qty", "book_signals", "CAP_NAMES", "OK", "REACHED", "ROUNDS_TO_ZERO",
           "BELOW_MIN_NOTIONAL"]  # fmt: skip

OK, REACHED, ROUNDS_TO_ZERO, BELOW_MIN_NOTIONAL = 0, 1, 2, 3
CAP_NAMES = ("per-asset net exposure cap on {a}", "per-asset net exposure cap on {b}",
             "gross leverage cap", "margin budget (buffer kept)",
             "book risk cap (baskets.max_book_risk)")  # fmt: skip


def round_qty(notional: float, price: float, step: float) -> float:
    """Quantity for ``notional`` at ``price``, rounded down to a multiple of ``step`` (0: none).

    Examples
    --------
    >>> round_qty(1000.0, 3000.0, 0.01), round_qty(0.3, 1.0, 0.1)
    (0.33, 0.30000000000000004)

    """
    require(math.isfinite(price) and price > 0.0, "price > 0", price=price)
    require(notional >= 0.0, "notional >= 0", notional=notional)
    require(step >= 0.0, "step >= 0", step=step)
    return _round(notional / price, step)


@nb.njit(cache=True)
def _round(qty: float, step: float) -> float:
    if step == 0.0 or qty == 0.0:
        return qty
    k = math.floor(qty / step)
    if (k + 1) * step <= qty * (1.0 + 1e-12):  # 0.3 / 0.1 == 2.9999999999999996
        k += 1
    return k * step


@nb.njit(cache=True)
def book_signals(
    order, book, wanted_a, ratio, lev_a, lev_b, ia, ib, sign_a, sign_b, price_a, price_b,
    n_assets, net_cap, gross_cap, margin_cap, qty_step, min_notional, risk_mats, risk_lim,
):  # fmt: skip
    """Book ``wanted_a`` (leg-A notional, 0: skip) in ``order``; returns per-row results.

    ``book`` labels independent books (int codes; ``order`` lists each book's rows together):
    the running totals start from zero at each new label. ``risk_mats`` ``(m, n_assets,
    n_assets)`` and ``risk_lim`` (the daily-sd limit in quote currency; ``inf``: no risk cap)
    feed :func:`revertible.risk.risk_room`.

    Returns ``(notional_a, notional_b, qty_a, qty_b, margin, status, reached, reduced)``:
    ``status`` is ``OK`` (booked, maybe reduced), ``REACHED`` (a cap left no room),
    ``ROUNDS_TO_ZERO`` or ``BELOW_MIN_NOTIONAL``; ``reached`` / ``reduced`` index
    :data:`CAP_NAMES` (-1: none), ``reduced`` being the last cap that shrank the position.
    """
    n = wanted_a.shape[0]
    out_na = np.zeros(n)
    out_nb = np.zeros(n)
    out_qa = np.zeros(n)
    out_qb = np.zeros(n)
    out_margin = np.zeros(n)
    status = np.zeros(n, np.int8)
    reached = np.full(n, -1, np.int8)
    reduced = np.full(n, -1, np.int8)
    net = np.zeros(n_assets)
    touched = np.empty(2 * n, np.int64)
    n_touched = 0
    gross = 0.0
    margin = 0.0
    rooms = np.empty(5)
    current = -1
    for k in range(order.shape[0]):
        i = order[k]
        if book[i] != current:  # a new book: empty it
            current = book[i]
            for j in range(n_touched):
                net[touched[j]] = 0.0
            n_touched = 0
            gross = 0.0
            margin = 0.0
        if not wanted_a[i] > 0.0:
            continue
        r = ratio[i]
        rooms[0] = net_cap * (1.0 - TOL) - sign_a[i] * net[ia[i]]
        rooms[1] = (net_cap * (1.0 - TOL) - sign_b[i] * net[ib[i]]) / r
        rooms[2] = (gross_cap * (1.0 - TOL) - gross) / (1.0 + r)
        rooms[3] = (margin_cap * (1.0 - TOL) - margin) / (1.0 / lev_a[i] + r / lev_b[i])
        rooms[4] = risk_room(risk_mats, net, ia[i], ib[i], sign_a[i], sign_b[i] * r,
                             risk_lim * (1.0 - TOL))
        notional = wanted_a[i]
        stop = False
        for c in range(5):
            if rooms[c] < notional:
                notional = max(0.0, rooms[c])
                if notional == 0.0:
                    status[i] = REACHED
                    reached[i] = c
                    stop = True
                    break
                reduced[i] = c
        if stop:
            continue
        qa = _round(notional / price_a[i], qty_step)
        qb = _round(notional * r / price_b[i], qty_step)
        na = qa * price_a[i]
        nb_ = qb * price_b[i]
        if qa == 0.0 or qb == 0.0:
            status[i] = ROUNDS_TO_ZERO
            continue
        if min(na, nb_) < min_notional:
            status[i] = BELOW_MIN_NOTIONAL
            continue
        m = na / lev_a[i] + nb_ / lev_b[i]
        net[ia[i]] += sign_a[i] * na
        net[ib[i]] += sign_b[i] * nb_
        touched[n_touched] = ia[i]
        touched[n_touched + 1] = ib[i]
        n_touched += 2
        gross += na + nb_
        margin += m
        out_na[i], out_nb[i], out_qa[i], out_qb[i], out_margin[i] = na, nb_, qa, qb, m
    return out_na, out_nb, out_qa, out_qb, out_margin, status, reached, reduced
