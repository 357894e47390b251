"""Integer codes shared by the compiled loops: booking status, binding cap, exit reason.

One place for the codes the book (:mod:`._book`, used by live sizing and the backtest's replay)
and the backtest's exit paths write into integer arrays, so no loop carries a bare number.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Booked", "Cap", "Exit", "CAP_NAMES"]


class Booked(IntEnum):
    """What the book did with one candidate signal."""

    OK = 0  # booked (maybe reduced by a cap)
    REACHED = 1  # a cap left no room (``Cap`` says which)
    ROUNDS_TO_ZERO = 2  # a leg's quantity rounds down to zero at ``qty_step``
    BELOW_MIN_NOTIONAL = 3  # a leg below ``min_notional``
    NO_STAKE = 4  # nothing wanted (a zero or non-positive stake)
    MAX_POSITIONS = 5  # the book holds its maximum number of positions
    PAIR_BUSY = 6  # the pair already has an open position (the replay)


class Cap(IntEnum):
    """The book's caps, in the order they are applied."""

    NET_A = 0  # per-asset net exposure on leg A's asset
    NET_B = 1  # per-asset net exposure on leg B's asset
    GROSS = 2  # gross leverage
    MARGIN = 3  # margin budget (buffer kept)
    RISK = 4  # book risk (baskets.max_book_risk)


CAP_NAMES = ("per-asset net exposure cap on {a}", "per-asset net exposure cap on {b}",
             "gross leverage cap", "margin budget (buffer kept)",
             "book risk cap (baskets.max_book_risk)")  # fmt: skip
"""Reason text of each :class:`Cap` (``{a}``/``{b}``: the asset)."""


class Exit(IntEnum):
    """Why a replayed position closed (index into ``EXIT_REASONS``)."""

    TAKE_PROFIT = 0
    STOP = 1
    TIME = 2
    CORRELATION = 3
    END_OF_DATA = 4
    NO_ENTRY = 5  # no entry fill: never opened
