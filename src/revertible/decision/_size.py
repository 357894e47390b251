"""Sizing: decided (or probability-only) divergences -> two-leg positions under risk limits.

Pure and checked: no I/O, every division guarded; a position that cannot or should not be taken
gets zero size and a ``reason`` instead of NaN or inf. Vectorised: the per-signal steps are numpy
over all rows, the book (caps shared by the signals of one call) is one compiled loop.

Per signal, in this order (the first failing step gives the ``reason``):

1. **Inputs and legs** (:mod:`._legs`): sides from the signs of ``z_entry`` and ``beta`` and the
   direction (continuation takes the opposite side of both legs); the leg ratio by ``split``; no
   trade below ``|beta| < sizing.min_abs_beta`` (not a pair trade).
2. **Barriers**: the position's ``z'`` (``z_now`` if given, else ``|z_entry|``) must lie between
   the direction's take-profit and stop.
3. **Stake**: fractional Kelly, ``sizing.kelly_fraction`` times the full-Kelly gross notional
   per unit of capital (:mod:`._kelly`), zero unless the expected net return exceeds
   ``sizing.min_edge``. Three inputs, by the columns present:

   * ``"moments"`` (``direction``, ``expected_return``, ``return_m2``, from
     :func:`revertible.decision.decide`): ``f* = mu / E[r^2]`` of the net return;
   * ``"binary"`` (``probability``, ``win_return``, ``loss_return``: empirical gross sizes per unit
     of gross notional): ``f* = p / L - (1 - p) / W`` on the net sizes;
   * ``"legacy"`` (``probability`` only: classifier-only callers such as the backtest's
     probability strategies until they move to the return heads): the former rule, a
     volatility-target notional times the barrier-payoff bet size (:mod:`._payoff`).

   The leg-A notional is the gross stake over ``1 + ratio``.
4. **Leverage** (:mod:`._risk`): per leg, the highest leverage up to ``max_gross_leverage`` whose
   liquidation lies beyond the stop move and the leg's own ``k``-sigma move over the horizon
   (when ``vol_a``/``vol_b`` are given), times ``1 + liquidation_cushion``.
5. **Book caps and rounding** (:mod:`._book`), in priority order: descending
   ``expected_return`` (moments) or ``probability`` (binary, legacy), ties in row order.

Timing: a signal's ``time_stop`` is ``entry_time + horizon * bar`` of its direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import CostConfig, LabelConfig, SizingConfig
from ._book import BELOW_MIN_NOTIONAL, CAP_NAMES, REACHED, ROUNDS_TO_ZERO, book_signals
from ._checks import check_capital, require
from ._decide import Barriers, trade_barriers
from ._legs import leg_ratios, leg_signs
from ._payoff import round_trip_cost
from ._risk import liquidation_prices, safe_leverages
from ._stake import legacy_stakes

__all__ = ["REQUIRED_COLUMNS", "SIZING_COLUMNS", "sizing_mode", "size_signals"]

REQUIRED_COLUMNS = (
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std", "price_a", "price_b",
)  # fmt: skip
"""Columns ``size_signals`` always needs; the stake needs those of one mode (module docstring),
``vol_a``/``vol_b`` are needed for ``split="vol_parity"`` and used by the liquidation check."""

MODE_COLUMNS = {
    "moments": ("direction", "expected_return", "return_m2"),
    "binary": ("probability", "win_return", "loss_return"),
    "legacy": ("probability",),
}

SIZING_COLUMNS = (
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr", "reason",
    "bet_size", "payoff_ratio", "margin", "leg_a_leverage", "leg_b_leverage",
    "leg_a_liq_price", "leg_b_liq_price",
)  # fmt: skip
"""Columns ``size_signals`` adds (DESIGN.md signal columns, then transparency columns)."""


def sizing_mode(columns: object) -> str:
    """``"moments"``, ``"binary"`` or ``"legacy"`` from the columns present (module docstring)."""
    cols = set(columns)  # type: ignore[arg-type]
    for mode, need in MODE_COLUMNS.items():
        if set(need) <= cols:
            return mode
    require(
        False,
        "signals carry a stake input",
        "pass decide() output (direction, expected_return, return_m2) or a probability",
        columns=sorted(cols),
    )
    raise AssertionError  # pragma: no cover


def _col(signals: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(signals[name], dtype=float)


def _positive(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0.0)


class _Reasons:
    """First failing reason per row (vectorised); ``add`` keeps earlier reasons."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, "", dtype=object)
        self.ok = np.ones(n, dtype=bool)

    def add(self, mask: np.ndarray, why: str | np.ndarray) -> None:
        m = np.asarray(mask, dtype=bool) & self.ok
        if m.any():
            self.text[m] = why[m] if isinstance(why, np.ndarray) else why
            self.ok &= ~m


def _fmt_g(values: np.ndarray, digits: int) -> np.ndarray:
    """``f"{v:.{digits}g}"`` of each value, formatting each distinct rounded value once."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(np.where(v == 0.0, 1.0, v))))
    scale = 10.0 ** (digits - 1 - np.nan_to_num(mag))
    key = np.round(v * scale) / scale
    uniq, inv = np.unique(key, return_inverse=True)
    text = np.array([f"{u:.{digits}g}" for u in uniq], dtype=object)
    return text[inv.reshape(-1)]


def _check_probability(signals: pd.DataFrame, prob: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isnan(prob) & ((prob < 0.0) | (prob > 1.0)))
    if bad.size:
        i = int(bad[0])
        where = (f"row {i} ({signals['asset_a'].iloc[i]} / {signals['asset_b'].iloc[i]} at "
                 f"{signals['entry_time'].iloc[i]})")  # fmt: skip
        require(False, "0 <= probability <= 1",
                f"in {where}; pass calibrated probabilities (NaN marks an unscored signal)",
                probability=float(prob[i]))  # fmt: skip


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
) -> pd.DataFrame:
    """Size divergences into two-leg positions under the book's risk limits (vectorised).

    Parameters
    ----------
    signals : pandas.DataFrame
        One row per divergence: :data:`REQUIRED_COLUMNS` (``z_entry``, ``beta``, ``spread_std``
        in log units and frozen at entry; leg prices in quote currency, used for quantities and
        liquidation prices) and the stake input of one mode (module docstring). Optional:
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

    Returns
    -------
    pandas.DataFrame
        ``signals`` (same index and order) with :data:`SIZING_COLUMNS` added. Notionals are
        absolute quote amounts; ``gross_leverage`` is the position's gross notional / capital;
        ``take_profit_z``/``stop_z``/``time_stop`` are the chosen direction's exits on ``z'``.
        ``bet_size`` is the stake before caps: the fractional-Kelly gross notional per unit of
        capital (moments, binary; may exceed 1) or the legacy bet size in [0, 1];
        ``payoff_ratio`` is net win / net loss (binary, legacy; 0 for moments). ``reason`` is
        empty for a position sized as requested at full leverage, says why for a zero position,
        and for a traded one notes the binding cap (``"reduced by ..."``) or a lowered leverage:
        test ``leg_a_notional > 0`` for "traded". No numeric output is NaN or inf.

    Raises
    ------
    ValueError
        On missing columns, a probability outside [0, 1], an unknown direction, negative
        capital or a non-positive ``bar``.

    """
    missing = [c for c in REQUIRED_COLUMNS if c not in signals.columns]
    if sizing.split == "vol_parity":
        missing += [c for c in ("vol_a", "vol_b") if c not in signals.columns]
    require(not missing, "signals has every required column",
            "add them (episode key, z_entry, beta, spread_std, leg prices and vols)",
            missing=missing)  # fmt: skip
    mode = sizing_mode(signals.columns)
    cap = float(sizing.capital if capital is None else capital)
    check_capital(cap)
    require(bar > pd.Timedelta(0), "bar > 0", bar=str(bar))
    n = len(signals)
    z, beta, std = _col(signals, "z_entry"), _col(signals, "beta"), _col(signals, "spread_std")
    price_a, price_b = _col(signals, "price_a"), _col(signals, "price_b")
    has_vols = "vol_a" in signals.columns and "vol_b" in signals.columns
    vol_a = _col(signals, "vol_a") if has_vols else None
    vol_b = _col(signals, "vol_b") if has_vols else None
    why = _Reasons(n)
    if mode == "moments":
        direction = signals["direction"].astype(object).to_numpy()
        bad = ~np.isin(direction, ("revert", "continue", "none"))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            require(False, "direction in {'revert', 'continue', 'none'}", f"in row {i}",
                    direction=direction[i])  # fmt: skip
        follow = direction == "continue"
        key = _col(signals, "expected_return")
        prob = np.full(n, np.nan)
    else:
        prob = _col(signals, "probability")
        _check_probability(signals, prob)
        follow = np.zeros(n, dtype=bool)
        key = prob
    bars = trade_barriers(label) if continuation is None else {
        "revert": trade_barriers(label)["revert"], "continue": continuation}  # fmt: skip
    rev, con = bars["revert"], bars["continue"]
    take_profit = np.where(follow, con.take_profit, rev.take_profit)
    stop = np.where(follow, con.stop, rev.stop)
    horizon = np.where(follow, con.horizon, rev.horizon)
    sign_a, sign_b = leg_signs(z, beta, follow)

    # 1. inputs and legs
    if cap == 0.0:
        why.add(np.ones(n, bool), "no capital")
    if "skip_reason" in signals.columns:
        skip = signals["skip_reason"].fillna("").astype(str).to_numpy(dtype=object)
        why.add(skip != "", skip)
    why.add((signals["asset_a"] == signals["asset_b"]).to_numpy(), "asset_a equals asset_b")
    why.add(pd.isna(signals["entry_time"]).to_numpy(), "entry_time is missing")
    if mode == "moments":
        why.add(np.isnan(key), "expected return is missing")
        none = direction == "none"
        if none.any():
            msg = np.full(n, "", dtype=object)
            msg[none] = "no direction clears min_edge (best expected return " + _fmt_g(
                key[none], 4) + ")"
            why.add(none, msg)
    else:
        why.add(np.isnan(prob), "probability is missing")
    for name, x in (("z_entry", z), ("beta", beta)):
        why.add(~(np.isfinite(x) & (x != 0.0)), f"{name} is zero or missing")
    low = np.abs(beta) < sizing.min_abs_beta
    if (low & why.ok).any():
        msg = np.full(n, "", dtype=object)
        msg[low] = ("|beta| " + _fmt_g(np.abs(beta[low]), 3)
                    + f" below sizing.min_abs_beta {sizing.min_abs_beta:g} (not a pair trade)")
        why.add(low, msg)
    for name, x in (("spread_std", std), ("price_a", price_a), ("price_b", price_b)):
        why.add(~_positive(x), f"{name} is not positive")
    if has_vols:
        what = "vol_parity split" if sizing.split == "vol_parity" else "liquidation check"
        for name, x in (("vol_a", vol_a), ("vol_b", vol_b)):
            why.add(~_positive(x), f"{name} is not positive ({what})")
    ratio = leg_ratios(sizing.split, beta, vol_a, vol_b)
    ratio = np.where(why.ok & np.isfinite(ratio), ratio, 1.0)

    # 2. barriers on z'
    zp = _col(signals, "z_now") if "z_now" in signals.columns else np.abs(z)
    why.add(~np.isfinite(zp), "z_now is missing")
    inside_tp = np.where(follow, zp >= take_profit, zp <= take_profit)
    beyond_stop = np.where(follow, zp <= stop, zp >= stop)
    why.add(inside_tp & ~follow, "|z_entry| already within take-profit")
    why.add(beyond_stop & ~follow, "|z_entry| at or beyond the stop")
    why.add(inside_tp & follow, "z' already at or beyond the continuation take-profit")
    why.add(beyond_stop & follow, "z' at or below the continuation stop")

    # 3. stake: leg-A notional wanted
    cost_gross = round_trip_cost(costs, 0.0)  # per unit of gross notional
    payoff_ratio = np.zeros(n)
    if mode == "legacy":
        stake = legacy_stakes(zp, std, prob, ratio, why, sizing, costs, rev, cap)
        bet, payoff_ratio, wanted_a = stake
    else:
        if mode == "moments":
            mu, m2 = key, _col(signals, "return_m2")
            why.add(~(mu > sizing.min_edge), "edge below minimum")
            why.add(~_positive(m2), "return_m2 is not positive")
            with np.errstate(divide="ignore", invalid="ignore"):
                full = np.where(why.ok, mu / np.where(why.ok, m2, 1.0), 0.0)
        else:
            win = _col(signals, "win_return") - cost_gross
            loss = _col(signals, "loss_return") + cost_gross
            why.add(~_positive(win), "no net win after costs")
            why.add(~_positive(loss), "loss_return is not positive")
            ok = why.ok
            w, ls = np.where(ok, win, 1.0), np.where(ok, loss, 1.0)
            payoff_ratio = np.where(ok, w / ls, 0.0)
            why.add(~(prob * w - (1.0 - prob) * ls > sizing.min_edge), "edge below minimum")
            full = np.where(why.ok, prob / ls - (1.0 - prob) / w, 0.0)
        bet = np.where(why.ok, sizing.kelly_fraction * np.maximum(full, 0.0), 0.0)
        why.add(~(bet > 0.0), "kelly stake is zero")
        wanted_a = np.where(why.ok, bet * cap / (1.0 + ratio), 0.0)

    # 4. leverage: liquidation beyond the stop move and each leg's own plausible move
    stop_dist = np.where(follow, zp - stop, stop - zp)
    move_a = np.maximum(stop_dist, 0.0) * np.where(why.ok, std, 0.0)
    move_b = move_a / np.where(why.ok, np.abs(beta), 1.0)
    if has_vols:
        k = sizing.liquidation_sigmas * np.sqrt(horizon.astype(float))
        move_a = np.maximum(move_a, k * np.where(why.ok, vol_a, 0.0))
        move_b = np.maximum(move_b, k * np.where(why.ok, vol_b, 0.0))
    grow = 1.0 + sizing.liquidation_cushion
    mmr, top = sizing.maintenance_margin_rate, sizing.max_gross_leverage
    lev_a = safe_leverages(move_a * grow, sign_a, mmr, top)
    lev_b = safe_leverages(move_b * grow, sign_b, mmr, top)
    floor = min(1.0, top)
    for leg, lev in (("a", lev_a), ("b", lev_b)):
        sigmas = f"{sizing.liquidation_sigmas:g}-sigma"
        why.add(lev < floor * (1.0 - 1e-6), f"leg {leg} would be liquidated before the stop or "
                f"its {sigmas} move even at {floor:.3g}x leverage")  # fmt: skip
    notes = np.full(n, "", dtype=object)
    for leg, lev in (("a", lev_a), ("b", lev_b)):
        lowered = why.ok & (lev < top * (1.0 - 1e-6))
        if lowered.any():
            add = (f"leg {leg} leverage lowered to " + _fmt_g(lev[lowered], 3)
                   + "x so the stop precedes liquidation")
            notes[lowered] = np.where(notes[lowered] == "", add, notes[lowered] + "; " + add)
    wanted_a = np.where(why.ok, wanted_a, 0.0)

    # 5. the book, in priority order
    ids, names = pd.factorize(pd.concat([signals["asset_a"], signals["asset_b"]],
                                        ignore_index=True))  # fmt: skip
    ia, ib = ids[:n].astype(np.int64), ids[n:].astype(np.int64)
    book = np.zeros(n, np.int64) if books is None else pd.factorize(np.asarray(books))[0]
    require(len(book) == n, "len(books) == len(signals)", books=len(book), signals=n)
    order = np.lexsort((np.arange(n), -np.nan_to_num(key, nan=0.0), np.isnan(key), book))
    margin_cap = cap * (1.0 - sizing.buffer)
    res = book_signals(
        order.astype(np.int64), book.astype(np.int64), wanted_a, ratio,
        np.where(why.ok, lev_a, 1.0), np.where(why.ok, lev_b, 1.0), ia, ib, sign_a, sign_b,
        np.where(why.ok, price_a, 1.0), np.where(why.ok, price_b, 1.0), max(len(names), 1),
        sizing.max_asset_net_exposure * cap, top * margin_cap, margin_cap,
        float(sizing.qty_step), float(sizing.min_notional),
    )  # fmt: skip
    n_a, n_b, q_a, q_b, margin, status, reached, reduced = res
    reason = _book_reasons(why, notes, status, reached, reduced, ia, ib, np.asarray(names))
    traded = n_a > 0.0

    out = signals.copy()
    for leg, sign, price, notional, qty in (("a", sign_a, price_a, n_a, q_a),
                                            ("b", sign_b, price_b, n_b, q_b)):  # fmt: skip
        out[f"leg_{leg}_side"] = np.where(sign > 0, "long", np.where(sign < 0, "short", ""))
        out[f"leg_{leg}_notional"] = notional
        out[f"leg_{leg}_qty"] = qty
        out[f"leg_{leg}_price"] = np.where(_positive(price), price, 0.0)
    out["gross_leverage"] = (n_a + n_b) / cap if cap > 0.0 else np.zeros(n)
    out["take_profit_z"] = take_profit.astype(float)
    out["stop_z"] = stop.astype(float)
    hold = pd.to_timedelta(horizon * bar.value, unit="ns").to_numpy()
    out["time_stop"] = signals["entry_time"] + hold
    out["min_abs_corr"] = float(sizing.min_abs_corr_exit)
    out["reason"] = reason
    out["bet_size"] = np.where(np.isfinite(bet), bet, 0.0)
    out["payoff_ratio"] = np.where(np.isfinite(payoff_ratio), payoff_ratio, 0.0)
    out["margin"] = margin
    out["leg_a_leverage"] = np.where(traded, lev_a, 0.0)
    out["leg_b_leverage"] = np.where(traded, lev_b, 0.0)
    out["leg_a_liq_price"] = np.where(traded, liquidation_prices(price_a, sign_a, lev_a, mmr), 0.0)
    out["leg_b_liq_price"] = np.where(traded, liquidation_prices(price_b, sign_b, lev_b, mmr), 0.0)
    return out


def _book_reasons(
    why: _Reasons, notes: np.ndarray, status: np.ndarray, reached: np.ndarray,
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

    head_cap = np.where(status == REACHED, reached, -1).astype(np.int64)
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
        if st == REACHED:
            parts.append(CAP_NAMES[hc].format(a=names[ha], b=names[ha]) + " reached")
        elif st == ROUNDS_TO_ZERO:
            parts.append("quantity rounds to zero at qty_step")
        elif st == BELOW_MIN_NOTIONAL:
            parts.append("leg below min_notional")
        if note_uniq[nc]:
            parts.append(note_uniq[nc])
        if tc >= 0:
            parts.append("reduced by " + CAP_NAMES[tc].format(a=names[ta], b=names[ta]))
        text[j] = "; ".join(parts)
    return text[inv.reshape(n)] if n else np.full(0, "", dtype=object)
