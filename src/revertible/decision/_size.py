"""Sizing: decided divergences -> two-leg positions under risk limits.

Pure and checked: no I/O, every division guarded; a position that cannot or should not be taken
gets zero size and a ``reason`` instead of NaN or inf. Vectorised: the per-signal steps are numpy
over all rows, the book (caps shared by the signals of one call) is one compiled loop.

Per signal, in this order (the first failing step gives the ``reason``):

1. **Inputs and legs** (:mod:`._legs`): sides from the signs of ``z_entry`` and ``beta`` and the
   direction (continuation takes the opposite side of both legs); the leg ratio by ``split``; no
   trade below ``|beta| < sizing.min_abs_beta`` (not a pair trade); ``direction == "none"``
   keeps the decision's reason ("no direction clears costs: best lower bound ... bp").
2. **Barriers**: the position's ``z'`` (``z_now`` if given, else ``|z_entry|``) must lie between
   the direction's take-profit and stop.
3. **Stake**: ``min(sizing.trade_cap_frac, kelly_fraction * lower / m2)`` of capital
   (:func:`revertible.decision.kelly_fraction`): ``lower`` is the decision's lower bound of the
   net return (``expected_return_lower``), ``m2`` the calibrated bin's realised second moment of
   the net return (``return_m2``), both from :func:`revertible.decision.decide`; the Kelly stake
   is gross notional, leg A is it over ``1 + ratio``, and the cap applies to leg A. No stake
   where the lower bound is not above ``sizing.min_edge``.
4. **Leverage** (:mod:`._risk`): per leg, the highest leverage up to ``max_gross_leverage`` whose
   liquidation lies beyond the stop move and the leg's own ``k``-sigma move over the horizon
   (when ``vol_a``/``vol_b`` are given), times ``1 + liquidation_cushion``.
5. **Book caps and rounding** (:mod:`._book`), in priority order: descending lower bound
   (``expected_return_lower``), ties in row order.

Beside the recommendation every row also carries the legs a trader would use *if they took it
anyway* (``direction_if_taken``, ``leg_a_side_if_taken``, ``leg_a_notional_if_taken``,
``leg_a_qty_if_taken``, the same for ``leg_b``, ``gross_leverage_if_taken``): the direction
with the better lower bound, at the per-trade cap, through steps 1, 2, 4 and the caps of 5 as if
it were the only new position of the book. They are zero only where no direction or leg can be
sized at all; the recommended stake (``leg_*_notional``) is zero wherever the evidence does not
clear costs.

Timing: a signal's ``time_stop`` is ``entry_time + horizon * bar`` of its direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import BasketsConfig, CostConfig, LabelConfig, SizingConfig
from ..risk import risk_matrices
from ._book import book_caps, book_signals, new_booking
from ._checks import check_capital, require
from ._codes import CAP_NAMES, Booked
from ._decide import Barriers
from ._risk import liquidation_prices
from ._steps import REQUIRED_COLUMNS, STAKE_COLUMNS, Reasons, direction_if_taken, per_signal

__all__ = ["REQUIRED_COLUMNS", "STAKE_COLUMNS", "SIZING_COLUMNS", "UNIT_COLUMNS", "size_signals",
           "unit_stakes"]

SIZING_COLUMNS = (
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr", "reason",
    "bet_size", "margin", "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price",
    "leg_b_liq_price", "direction_if_taken", "leg_a_side_if_taken", "leg_a_notional_if_taken",
    "leg_a_qty_if_taken", "leg_b_side_if_taken", "leg_b_notional_if_taken",
    "leg_b_qty_if_taken", "gross_leverage_if_taken",
)  # fmt: skip
"""Columns ``size_signals`` adds (docs/design.md signal columns, then transparency columns)."""


def size_signals(
    signals: pd.DataFrame,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    *,
    bar: pd.Timedelta = pd.Timedelta(hours=1),  # noqa: B008 - immutable
    capital: float | None = None,
    continuation: Barriers | None = None,
    books: np.ndarray | None = None,
    cov: pd.DataFrame | None = None,
    risk: BasketsConfig | None = None,
    max_positions: int | None = None,
) -> pd.DataFrame:
    """Size divergences into two-leg positions under the book's risk limits (vectorised).

    Parameters
    ----------
    signals : pandas.DataFrame
        One row per divergence: :data:`REQUIRED_COLUMNS` (``z_entry``, ``beta``, ``spread_std``
        in log units and frozen at entry; leg prices in quote currency, used for quantities and
        liquidation prices) and the decision (:data:`STAKE_COLUMNS`, :func:`decide` output;
        its ``best_direction`` is ``direction_if_taken`` for ``none``). Optional:
        ``vol_a``/``vol_b`` (trailing one-bar log-return vol of each leg: ``vol_parity`` split
        and the liquidation check), ``z_now`` (``z'`` at the pricing bar, default
        ``|z_entry|``), ``skip_reason`` (non-empty: zero size with that reason).
    sizing, costs, label : SizingConfig, CostConfig, LabelConfig
        Risk limits, trading costs, the reversion barriers (``exit``, ``stop``, ``horizon``).
    bar : pandas.Timedelta
        Bar length; ``time_stop = entry_time + horizon * bar``.
    capital : float, optional
        Account equity in quote currency; ``sizing.capital`` if None.
    continuation : Barriers, optional
        The continuation trade's barriers (:func:`trade_barriers`); None mirrors the label's.
    books : numpy.ndarray, optional
        One label per row: rows with the same label share the caps, other books start empty
        (e.g. one book per entry bar). None: all rows form one book.
    cov : pandas.DataFrame, optional
        Daily covariance of the assets' returns, indexed by asset on both axes
        (:func:`revertible.risk.trailing_covariance` at the sizing bar). With ``risk``
        whose ``max_book_risk`` is set, the book-risk cap applies: ``shock_sigma`` x the daily sd
        of the book's net notionals, under the trailing covariance, all correlations at
        ``stress_corr`` and all at 0 (the worst of the three), stays ``<= max_book_risk *
        capital``; a signal it cuts has the reason ``"... book risk cap ..."``. An asset
        missing from ``cov`` (or with NaN variance) cannot pass the cap.
    risk : BasketsConfig, optional
        The ``baskets`` section (``max_book_risk``, ``shock_sigma``, ``stress_corr``); None or
        ``max_book_risk: null``: no risk cap.
    max_positions : int, optional
        At most this many positions per book (``backtest.max_concurrent`` in the replay); a
        signal past it has the reason ``"max concurrent positions reached"``. None: no limit.

    Returns
    -------
    pandas.DataFrame
        ``signals`` (same index and order) with :data:`SIZING_COLUMNS` added. Notionals are
        absolute quote amounts; ``gross_leverage`` is the position's gross notional / capital;
        ``take_profit_z``/``stop_z``/``time_stop`` are the chosen direction's exits on ``z'``.
        ``bet_size`` is the stake before the book's caps: the fractional-Kelly gross notional
        per unit of capital on the lower bound (may exceed the per-trade cap). ``reason`` is
        empty for a position sized as requested at full leverage, says why for a zero position,
        and for a traded one notes the binding cap (``"reduced by ..."``) or a lowered leverage:
        test ``leg_a_notional > 0`` for "traded". Sides are filled whenever ``z_entry`` and
        ``beta`` fix them (for ``direction == "none"``, with the exits, those of
        ``direction_if_taken``). No numeric
        output is NaN or inf.

    Raises
    ------
    ValueError
        On missing columns, an unknown direction, negative capital or a non-positive ``bar``.

    """
    cap = float(sizing.capital if capital is None else capital)
    check_capital(cap)
    require(bar > pd.Timedelta(0), "bar > 0", bar=str(bar))
    n = len(signals)
    book = np.zeros(n, np.int64) if books is None else pd.factorize(np.asarray(books))[0]
    require(len(book) == n, "len(books) == len(signals)", books=len(book), signals=n)
    ids, names = pd.factorize(pd.concat([signals["asset_a"], signals["asset_b"]],
                                        ignore_index=True))  # fmt: skip
    legs = (ids[:n].astype(np.int64), ids[n:].astype(np.int64), np.asarray(names))
    mats, lim = _risk_inputs(cov, risk, np.asarray(names), cap)
    args = (sizing, costs, label, cap, continuation, legs, mats, lim)
    rec = _sized(signals, *args, book, at_cap=False, max_positions=max_positions)
    st = rec["st"]
    n_a, n_b, q_a, q_b = rec["n_a"], rec["n_b"], rec["q_a"], rec["q_b"]
    traded = n_a > 0.0
    lev_a, lev_b, mmr = st.lev_a, st.lev_b, st.mmr

    out = signals.copy()
    for leg, sign, price, notional, qty in (("a", st.sign_a, st.price_a, n_a, q_a),
                                            ("b", st.sign_b, st.price_b, n_b, q_b)):  # fmt: skip
        out[f"leg_{leg}_side"] = _sides(sign)
        out[f"leg_{leg}_notional"] = notional
        out[f"leg_{leg}_qty"] = qty
        out[f"leg_{leg}_price"] = np.where(np.isfinite(price) & (price > 0.0), price, 0.0)
    out["gross_leverage"] = (n_a + n_b) / cap if cap > 0.0 else np.zeros(n)
    out["take_profit_z"] = st.take_profit.astype(float)
    out["stop_z"] = st.stop.astype(float)
    hold = pd.to_timedelta(st.horizon * bar.value, unit="ns").to_numpy()
    out["time_stop"] = signals["entry_time"] + hold
    out["min_abs_corr"] = float(sizing.min_abs_corr_exit)
    out["reason"] = rec["reason"]
    out["bet_size"] = np.where(np.isfinite(st.bet), st.bet, 0.0)
    out["margin"] = rec["margin"]
    out["leg_a_leverage"] = np.where(traded, lev_a, 0.0)
    out["leg_b_leverage"] = np.where(traded, lev_b, 0.0)
    out["leg_a_liq_price"] = np.where(traded, liquidation_prices(st.price_a, st.sign_a, lev_a,
                                                                 mmr), 0.0)
    out["leg_b_liq_price"] = np.where(traded, liquidation_prices(st.price_b, st.sign_b, lev_b,
                                                                 mmr), 0.0)
    # the legs if taken anyway: the better direction at the per-trade cap, alone in its book
    taken_dir = direction_if_taken(signals)
    alone = _sized(signals.assign(direction=taken_dir), *args, np.arange(n, dtype=np.int64),
                   at_cap=True)
    out["direction_if_taken"] = taken_dir
    for leg, sign in (("a", alone["st"].sign_a), ("b", alone["st"].sign_b)):
        notional = alone[f"n_{leg}"]
        out[f"leg_{leg}_side_if_taken"] = np.where(notional > 0.0, _sides(sign), "")
        out[f"leg_{leg}_notional_if_taken"] = notional
        out[f"leg_{leg}_qty_if_taken"] = alone[f"q_{leg}"]
    out["gross_leverage_if_taken"] = ((alone["n_a"] + alone["n_b"]) / cap if cap > 0.0
                                      else np.zeros(n))  # fmt: skip
    return out


def _sides(sign: np.ndarray) -> np.ndarray:
    return np.where(sign > 0, "long", np.where(sign < 0, "short", ""))


def _sized(
    signals: pd.DataFrame, sizing: SizingConfig, costs: CostConfig, label: LabelConfig,
    cap: float, continuation: Barriers | None, legs: tuple, mats: np.ndarray, lim: float,
    book: np.ndarray, *, at_cap: bool, max_positions: int | None = None,
) -> dict:
    """Steps 1-5 on one set of books: per-signal stakes, then the compiled book."""
    ia, ib, names = legs
    st = per_signal(signals, sizing, costs, label, cap, continuation, at_cap=at_cap)
    n, why, key = st.n, st.why, st.key
    order = np.lexsort((np.arange(n), -np.nan_to_num(key, nan=0.0), np.isnan(key), book))
    res = book_signals(
        order.astype(np.int64), book.astype(np.int64), st.wanted_a, st.wanted_a * st.ratio,
        np.where(why.ok, st.lev_a, 1.0), np.where(why.ok, st.lev_b, 1.0), ia, ib, st.sign_a,
        st.sign_b, np.where(why.ok, st.price_a, 1.0), np.where(why.ok, st.price_b, 1.0),
        max(len(names), 1), book_caps(sizing, cap, max_positions), float(sizing.qty_step),
        float(sizing.min_notional), mats, lim, new_booking(n),
    )  # fmt: skip
    n_a, n_b, q_a, q_b, margin = (res.notional_a, res.notional_b, res.qty_a, res.qty_b,
                                  res.margin)  # fmt: skip
    status, reached, reduced = res.status, res.reached, res.reduced
    notes = st.notes.copy()
    if st.capped.any():
        add = f"stake capped at sizing.trade_cap_frac {sizing.trade_cap_frac:g}"
        notes[st.capped] = np.where(notes[st.capped] == "", add, notes[st.capped] + "; " + add)
    reason = _book_reasons(why, notes, status, reached, reduced, ia, ib, names)
    return {"st": st, "n_a": n_a, "n_b": n_b, "q_a": q_a, "q_b": q_b, "margin": margin,
            "reason": reason}


def _risk_inputs(
    cov: pd.DataFrame | None, risk: BasketsConfig | None, names: np.ndarray, capital: float
) -> tuple[np.ndarray, float]:
    """The risk matrices on the signals' assets (in ``names`` order) and the sd limit."""
    if cov is None or risk is None or risk.max_book_risk is None:
        return np.zeros((1, 1, 1)), np.inf
    full = cov.reindex(index=list(names), columns=list(names))
    return (risk_matrices(full.to_numpy(np.float64), risk.stress_corr),
            risk.max_book_risk * capital / risk.shock_sigma)  # fmt: skip


def _book_reasons(
    why: Reasons, notes: np.ndarray, status: np.ndarray, reached: np.ndarray,
    reduced: np.ndarray, ia: np.ndarray, ib: np.ndarray, names: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Compose each row's reason: step failure, else book outcome plus leverage notes.

    Reasons repeat a lot, so each distinct combination of (step reason, book status, binding
    cap and its asset, leverage note) is composed once and taken for every row that has it.
    """
    n = len(notes)
    why_code, why_uniq = pd.factorize(why.text)
    note_code, note_uniq = pd.factorize(notes)

    def asset(cap: np.ndarray) -> np.ndarray:
        return np.where(cap == 0, ia, np.where(cap == 1, ib, -1))

    head_cap = np.where(status == Booked.REACHED, reached, -1).astype(np.int64)
    tail_cap = reduced.astype(np.int64)
    cols = [
        np.where(why.ok, -1, why_code), status.astype(np.int64), head_cap, asset(head_cap),
        note_code, tail_cap, asset(tail_cap),
    ]  # fmt: skip
    inv = np.zeros(n, dtype=np.int64)
    for c in cols:  # combine codes pairwise: every step stays below n * (max code + 2)
        c = c.astype(np.int64) + 1
        inv, _ = pd.factorize(inv * (int(c.max(initial=0)) + 1) + c)
    first = np.zeros(int(inv.max(initial=-1)) + 1, dtype=np.int64)
    first[inv[::-1]] = np.arange(n)[::-1]  # a row of each combination
    uniq = np.column_stack(cols)[first]
    text = np.empty(len(uniq), dtype=object)
    for j, (w, st, hc, ha, nc, tc, ta) in enumerate(uniq.tolist()):
        if w >= 0:
            text[j] = why_uniq[w]
            continue
        parts = []
        if st == Booked.REACHED:
            parts.append(CAP_NAMES[hc].format(a=names[ha], b=names[ha]) + " reached")
        elif st == Booked.MAX_POSITIONS:
            parts.append("max concurrent positions reached")
        elif st == Booked.ROUNDS_TO_ZERO:
            parts.append("quantity rounds to zero at qty_step")
        elif st == Booked.BELOW_MIN_NOTIONAL:
            parts.append("leg below min_notional")
        if note_uniq[nc]:
            parts.append(note_uniq[nc])
        if tc >= 0:
            parts.append("reduced by " + CAP_NAMES[tc].format(a=names[ta], b=names[ta]))
        text[j] = "; ".join(parts)
    return text[inv.reshape(n)] if n else np.full(0, "", dtype=object)


UNIT_COLUMNS = (
    "leg_a_side", "leg_b_side", "frac_a", "frac_b", "lev_a", "lev_b", "bet_size",
    "take_profit_z", "stop_z", "horizon", "sizing_reason",
)  # fmt: skip
"""Columns of :func:`unit_stakes`."""


def unit_stakes(
    signals: pd.DataFrame,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    *,
    continuation: Barriers | None = None,
) -> pd.DataFrame:
    """Each signal's position per unit of capital before any book cap (steps 1-4, vectorised).

    What a simulator with its own book needs (the backtest): the stake is linear in capital, so
    ``frac_a``/``frac_b`` (leg notionals per unit of capital) times the equity at the signal's
    bar is :func:`size_signals`' wanted position; the caller applies the caps, rounding and
    ``min_notional``. Same inputs as :func:`size_signals`.

    Returns
    -------
    pandas.DataFrame
        Same index; :data:`UNIT_COLUMNS`. ``frac_a == 0`` with ``sizing_reason`` for a signal
        not to trade; ``lev_a``/``lev_b`` are the liquidation-safe leg leverages and
        ``sizing_reason`` notes a lowered leverage for a traded one; ``horizon`` is the time stop
        in bars of the signal's direction.
    """
    st = per_signal(signals, sizing, costs, label, 1.0, continuation)
    ok = st.why.ok
    return pd.DataFrame(
        {
            "leg_a_side": _sides(st.sign_a),
            "leg_b_side": _sides(st.sign_b),
            "frac_a": st.wanted_a,
            "frac_b": st.wanted_a * st.ratio,
            "lev_a": np.where(ok, st.lev_a, 0.0),
            "lev_b": np.where(ok, st.lev_b, 0.0),
            "bet_size": np.where(np.isfinite(st.bet), st.bet, 0.0),
            "take_profit_z": st.take_profit.astype(float),
            "stop_z": st.stop.astype(float),
            "horizon": st.horizon.astype(np.int64),
            "sizing_reason": np.where(ok, st.notes, st.why.text),
        },
        index=signals.index,
    )
