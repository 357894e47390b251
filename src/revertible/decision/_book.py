"""The book: caps shared by the positions of one book, and exchange rounding (compiled).

One implementation for live sizing (:func:`revertible.decision.size_signals`, each book starting
empty) and the backtest's replay (each bar's entries booked onto the positions it carries in).
Candidates are booked one after another in priority order; each one sees the room the book and
the earlier ones left: per-asset net notional ``<= max_asset_net_exposure * equity``, book gross
notional ``<= max_gross_leverage * equity * (1 - buffer)``, posted margin ``<= equity * (1 -
buffer)`` (the buffer is never allocated), when given a covariance the book's risk
(:func:`revertible.risk.risk_room`: ``k`` x the daily sd of the net book, worst of trailing,
all-0.95 and all-0 correlations, ``<= baskets.max_book_risk * equity``), and at most
``max_positions`` positions. A cap that binds shrinks both legs together, keeping their ratio.
Quantities then round *down* to ``qty_step``; a leg below ``min_notional`` zeroes the position.
Each cap is shrunk by a relative ``TOL`` so float rounding never lands above it, and a cap
whose free room is float dust (at most :data:`DUST` of the cap) counts as reached.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numba as nb
import numpy as np

from ..risk import risk_room
from ._checks import TOL, require
from ._codes import Booked, Cap

if TYPE_CHECKING:
    from ..config import SizingConfig

__all__ = ["round_qty", "BookCaps", "Booking", "book_caps", "new_booking", "book_entries",
           "book_signals", "book_full"]  # fmt: skip

DUST = 1e-12
"""A cap's free room at most this fraction of the cap is float dust: the cap is reached."""

NO_LIMIT = np.iinfo(np.int64).max
"""``max_positions`` of a book without a count limit."""


class BookCaps(NamedTuple):
    """A book's limits at one equity (the notional caps already shrunk by ``TOL``)."""

    net: float  # per-asset net notional
    gross: float  # gross notional
    margin: float  # posted margin
    positions: int  # open positions


def book_caps(sizing: SizingConfig, equity: float, max_positions: int | None = None) -> BookCaps:
    """The caps of a book worth ``equity`` under ``sizing`` (None: no count limit)."""
    margin = equity * (1.0 - sizing.buffer) * (1.0 - TOL)
    return BookCaps(float(sizing.max_asset_net_exposure * equity * (1.0 - TOL)),
                    float(sizing.max_gross_leverage * margin), float(margin),
                    NO_LIMIT if max_positions is None else int(max_positions))  # fmt: skip


class Booking(NamedTuple):
    """Per-candidate results of the book (filled in place by :func:`book_entries`)."""

    notional_a: np.ndarray  # booked leg notionals (0: not booked)
    notional_b: np.ndarray
    qty_a: np.ndarray  # booked quantities (multiples of qty_step)
    qty_b: np.ndarray
    margin: np.ndarray  # posted margin
    status: np.ndarray  # Booked code
    reached: np.ndarray  # Cap that left no room (-1: none)
    reduced: np.ndarray  # last Cap that shrank the position (-1: none)


def new_booking(n: int) -> Booking:
    """An empty :class:`Booking` for ``n`` candidates."""
    return Booking(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
                   np.zeros(n, np.int8), np.full(n, -1, np.int8), np.full(n, -1, np.int8))


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
def _qty(notional: float, price: float, step: float) -> float:
    """:func:`round_qty`, 0 for a non-positive notional or an unusable price."""
    if not (math.isfinite(price) and price > 0.0 and notional > 0.0):
        return 0.0
    return _round(notional / price, step)


@nb.njit(cache=True)
def _stop(rows, start, busy, skip_busy, out, status, cap):
    """Give ``status`` (and ``cap``) to ``rows[start:]`` (without the busy ones if asked)."""
    for k in range(start, rows.shape[0]):
        i = rows[k]
        if skip_busy and busy[i]:
            continue
        out.status[i] = status
        out.reached[i] = cap


_MAX_POSITIONS, _REACHED = int(Booked.MAX_POSITIONS), int(Booked.REACHED)
_GROSS, _MARGIN = int(Cap.GROSS), int(Cap.MARGIN)


@nb.njit(cache=True)
def book_full(caps, gross, margin, count):
    """Why a book takes no new position: ``(status, cap)``, ``(-1, -1)`` if it may.

    ``MAX_POSITIONS`` at ``caps.positions``, else ``REACHED`` for a non-empty book at its gross
    (``cap`` ``GROSS``) or margin (``MARGIN``) cap.
    """
    if count >= caps[3]:
        return _MAX_POSITIONS, -1
    if count > 0 and gross >= caps[1]:
        return _REACHED, _GROSS
    if count > 0 and margin >= caps[2]:
        return _REACHED, _MARGIN
    return -1, -1


@nb.njit(cache=True)
def book_entries(
    net, gross, margin, count, rows, busy, want_a, want_b, lev_a, lev_b, ia, ib, sign_a, sign_b,
    price_a, price_b, caps, qty_step, min_notional, risk_mats, risk_lim, out,
):  # fmt: skip
    """Book the candidates ``rows`` (priority order) onto a book; returns its new totals.

    The carried-in book: ``net`` (per-asset signed net notional, updated in place), ``gross``,
    ``margin`` and ``count`` (open positions). Per candidate ``i``: the wanted leg notionals
    ``want_a[i]``/``want_b[i]``, leg leverages, asset indices into ``net``, leg signs and prices;
    ``busy[i]``: its pair already holds a position (not booked). ``caps`` is a
    :class:`BookCaps`; ``risk_mats`` ``(m, n_assets, n_assets)`` and ``risk_lim`` (the
    daily-sd limit in quote currency; ``inf``: no risk cap) feed
    :func:`revertible.risk.risk_room`. The candidates are taken in chunks of the free position
    slots: at each chunk's start a book at its count or (not empty and) at its gross or margin
    cap turns every remaining candidate away (``MAX_POSITIONS`` or ``REACHED``); busy pairs are
    turned away after the first such check. Results go into ``out`` (:class:`Booking`) at
    index ``i``; returns ``(gross, margin, count)`` after the bookings.
    """
    net_cap, gross_cap, margin_cap, max_count = caps
    lim = risk_lim * (1.0 - TOL)
    n = rows.shape[0]
    left = 0  # candidates left in the current chunk
    first = True
    for k in range(n):
        i = rows[k]
        if not first and busy[i]:
            continue
        if left == 0:  # a chunk's start: how many slots does the book have left?
            full, cap = book_full(caps, gross, margin, count)
            if full >= 0:
                _stop(rows, k, busy, not first, out, full, cap)
                break
            slots = max_count - count
            if first:
                first = False
                for j in range(k, n):
                    if busy[rows[j]]:
                        out.status[rows[j]] = Booked.PAIR_BUSY
                if busy[i]:
                    continue
            left = slots
        left -= 1
        wa, wb = want_a[i], want_b[i]
        if not (wa > 0.0 and wb > 0.0):
            out.status[i] = Booked.NO_STAKE
            continue
        a, b, sa, sb, la, lb = ia[i], ib[i], sign_a[i], sign_b[i], lev_a[i], lev_b[i]
        scale = 1.0
        for c in range(5):
            if c == Cap.NET_A:
                cap_c, free, per = net_cap, net_cap - sa * net[a], wa
            elif c == Cap.NET_B:
                cap_c, free, per = net_cap, net_cap - sb * net[b], wb
            elif c == Cap.GROSS:
                cap_c, free, per = gross_cap, gross_cap - gross, wa + wb
            elif c == Cap.MARGIN:
                cap_c, free, per = margin_cap, margin_cap - margin, wa / la + wb / lb
            else:
                cap_c, free, per = 0.0, risk_room(risk_mats, net, a, b, sa, sb * wb / wa, lim), wa
            room = free / per if free > DUST * cap_c else 0.0  # float dust is no room
            if room < scale:
                scale = max(0.0, room)
                if scale == 0.0:
                    out.status[i] = Booked.REACHED
                    out.reached[i] = c
                    break
                out.reduced[i] = c
        if scale == 0.0:
            continue
        qa = _qty(wa * scale, price_a[i], qty_step)
        qb = _qty(wb * scale, price_b[i], qty_step)
        if qa == 0.0 or qb == 0.0:
            out.status[i] = Booked.ROUNDS_TO_ZERO
            continue
        va = qa * price_a[i]
        vb = qb * price_b[i]
        if min(va, vb) < max(min_notional, 1e-12):
            out.status[i] = Booked.BELOW_MIN_NOTIONAL
            continue
        m = va / la + vb / lb
        net[a] += sa * va
        net[b] += sb * vb
        gross += va + vb
        margin += m
        count += 1
        out.status[i] = Booked.OK
        out.notional_a[i], out.notional_b[i], out.qty_a[i], out.qty_b[i] = va, vb, qa, qb
        out.margin[i] = m
    return gross, margin, count


@nb.njit(cache=True)
def book_signals(
    order, book, want_a, want_b, lev_a, lev_b, ia, ib, sign_a, sign_b, price_a, price_b,
    n_assets, caps, qty_step, min_notional, risk_mats, risk_lim, out,
):  # fmt: skip
    """:func:`book_entries` on independent books, each starting empty (live sizing).

    ``book`` labels the books (int codes; ``order`` lists each book's rows together, in
    priority order within a book).
    """
    net = np.zeros(n_assets)
    busy = np.zeros(want_a.shape[0], np.bool_)
    n = order.shape[0]
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and book[order[hi]] == book[order[lo]]:
            hi += 1
        rows = order[lo:hi]
        book_entries(net, 0.0, 0.0, 0, rows, busy, want_a, want_b, lev_a, lev_b, ia, ib, sign_a,
                     sign_b, price_a, price_b, caps, qty_step, min_notional, risk_mats, risk_lim,
                     out)  # fmt: skip
        for i in rows:  # empty the book for the next one
            net[ia[i]] = 0.0
            net[ib[i]] = 0.0
        lo = hi
    return out
