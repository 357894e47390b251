"""One position's bar path with every cost, and the ledger of a strategy's trades.

:func:`_hold` is the compiled heart of the replay: given the fills and the costs it adds the
position's P&L per bar to the book and returns its per-leg breakdown. Timing (docs/design.md costs):

* entry at the open of ``e`` (just after the bar opens), exit at the open of ``x`` (or at the
  close of ``x - 1`` for ``end_of_data``); bars ``e .. x-1`` are held;
* funding at the open of bar ``f`` is paid when the position was opened before it and closed
  after it: ``e < f <= x`` (an exit at a close: ``e < f < x``);
* borrow on a short spot leg: each held bar pays ``rate_per_bar * |q| * mark``;
* a rebalance (``thr > 0``) is decided at a close and fills leg B at the next open, paying fee
  and slippage (:mod:`._rebalance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

from ..costs import fill_summary, pessimistic_fills
from ..decision import drift_order
from ._signals import EXIT_REASONS

if TYPE_CHECKING:
    from ..config import CostConfig

__all__ = ["TRADE_COLUMNS", "N_STATS", "build_ledger", "reprice_maker_pessimistic"]

TRADE_COLUMNS = [
    "strategy", "cost_multiplier", "asset_a", "asset_b", "direction", "signal_time",
    "entry_time", "exit_signal_time", "exit_time", "exit_reason", "side_a", "side_b", "qty_a",
    "qty_b", "entry_price_a", "entry_price_b", "exit_price_a", "exit_price_b", "notional_a",
    "notional_b", "gross_pnl", "fees", "slippage", "funding", "borrow", "pnl", "pnl_a", "pnl_b",
    "rebalances", "rebalance_cost", "net_bp", "return_on_equity", "equity_at_entry",
    "probability", "z_entry", "beta", "label", "model_cutoff",
]  # fmt: skip
"""Ledger columns. Entry/exit prices are fills (slippage included); ``gross_pnl`` is at the raw
prices, so ``pnl = gross_pnl - slippage - fees - funding - borrow`` (rebalance fees and
slippage are inside ``fees`` and ``slippage`` and also reported as ``rebalance_cost``);
``pnl_a + pnl_b = pnl`` (each leg with its own costs); ``qty_b`` is the entry quantity (a
rebalance changes it); ``net_bp`` is ``pnl`` per unit of gross entry notional in bp;
``model_cutoff`` is the latest label end the model behind a model trade trained on (NaT for
the naive strategies)."""

N_STATS = 13
# gross_a, gross_b, fee_a, fee_b, slip_a, slip_b, fund_a, fund_b, borrow_a, borrow_b,
# n_rebalances, rebalance_cost, final qty_b


@nb.njit(cache=True)
def _hold(
    dpnl, gross, marg, cff, opn, mark, fund, brate, a, b, e, x, book, at_close, qa, qb, oa, ob,
    xa, xb, fee, slip, thr, target, margin, hedge, st,
):  # pragma: no cover
    """Book one position into ``dpnl``/``gross``/``marg`` and its cost breakdown into ``st``.

    ``qa``/``qb`` are signed quantities, ``oa``/``ob`` the raw entry opens, ``xa``/``xb`` the
    raw exit prices (slippage is charged here, not in the prices).
    """
    n = cff.shape[0]
    for i in range(st.shape[0]):
        st[i] = 0.0
    fa = fee * abs(qa) * oa * (1.0 + np.sign(qa) * slip)
    fb = fee * abs(qb) * ob * (1.0 + np.sign(qb) * slip)
    sa_ = slip * abs(qa) * oa
    sb_ = slip * abs(qb) * ob
    st[2] += fa
    st[3] += fb
    st[4] += sa_
    st[5] += sb_
    dpnl[e] -= fa + fb + sa_ + sb_
    pa = oa
    pb = ob
    ref = abs(qa) * oa
    pend = 0.0
    for k in range(e, x):
        if k > e:  # the funding time at this open was held (opened before, closed after)
            f_a = qa * fund[k, a] * mark[k, a]
            f_b = qb * fund[k, b] * mark[k, b]
            st[6] += f_a
            st[7] += f_b
            dpnl[k] -= f_a + f_b
            if pend != 0.0:
                o = opn[k, b]
                if np.isfinite(o):
                    g = qb * (o - pb)
                    st[1] += g
                    dpnl[k] += g
                    pb = o
                    fr = fee * abs(pend) * o * (1.0 + np.sign(pend) * slip)
                    sr = slip * abs(pend) * o
                    st[3] += fr
                    st[5] += sr
                    st[10] += 1.0
                    st[11] += fr + sr
                    dpnl[k] -= fr + sr
                    qb += pend
                pend = 0.0
        if brate > 0.0:
            if qa < 0.0:
                bo = -qa * brate * mark[k, a]
                st[8] += bo
                dpnl[k] -= bo
            if qb < 0.0:
                bo = -qb * brate * mark[k, b]
                st[9] += bo
                dpnl[k] -= bo
        ca = cff[k, a]
        cb = cff[k, b]
        da = qa * (ca - pa)
        db = qb * (cb - pb)
        st[0] += da
        st[1] += db
        dpnl[k] += da + db
        if k > e and ref > 0.0:
            h = (da + db) / ref
            u = da / ref
            hedge[0] += h
            hedge[1] += h * h
            hedge[2] += u
            hedge[3] += u * u
            hedge[4] += 1.0
        gross[k] += abs(qa) * ca + abs(qb) * cb
        marg[k] += margin
        pa = ca
        pb = cb
        if thr > 0.0 and k + 1 < x:
            pend, _ = drift_order(qa, qb, ca, cb, target, thr)
    if not at_close and x < n:  # the funding time at the exit open was held
        f_a = qa * fund[x, a] * mark[x, a]
        f_b = qb * fund[x, b] * mark[x, b]
        st[6] += f_a
        st[7] += f_b
        dpnl[book] -= f_a + f_b
    ga = qa * (xa - pa)
    gb = qb * (xb - pb)
    st[0] += ga
    st[1] += gb
    fa = fee * abs(qa) * xa * (1.0 - np.sign(qa) * slip)
    fb = fee * abs(qb) * xb * (1.0 - np.sign(qb) * slip)
    sa_ = slip * abs(qa) * xa
    sb_ = slip * abs(qb) * xb
    st[2] += fa
    st[3] += fb
    st[4] += sa_
    st[5] += sb_
    dpnl[book] += ga + gb - fa - fb - sa_ - sb_
    st[12] = qb


def build_ledger(
    name: str, mult: float, sig: pd.DataFrame, rec: dict[str, list], slip: float,
    times: pd.DatetimeIndex,
) -> pd.DataFrame:
    """The trade list of one strategy from the book's records (columns :data:`TRADE_COLUMNS`)."""
    r = {k: np.asarray(v) for k, v in rec.items()}
    rows = r["row"].astype(np.int64) if len(r["row"]) else np.zeros(0, np.int64)
    s = sig.iloc[rows]
    st = r["stats"].reshape(-1, N_STATS) if len(rows) else np.zeros((0, N_STATS))
    qa, qb = r["qa"].astype(float), r["qb"].astype(float)
    sa, sb = r["sa"].astype(float), r["sb"].astype(float)
    oa, ob, xa, xb = (r[k].astype(float) for k in ("oa", "ob", "xa", "xb"))
    eq = r["eq"].astype(float)
    exit_bar = r["x"].astype(np.int64)
    closing = r["at_close"].astype(bool)
    bar = times[1] - times[0] if len(times) > 1 else pd.Timedelta(hours=1)
    tv = times.tz_convert(None).to_numpy()
    # an open exit fills at the open of exit_bar; a close exit at the close of exit_bar - 1
    exit_time = np.where(closing, tv[np.maximum(exit_bar - 1, 0)] + bar.to_timedelta64(),
                         tv[np.minimum(exit_bar, len(tv) - 1)])  # fmt: skip
    sig_bar = r["sigbar"].astype(np.int64)
    sig_time = np.where(sig_bar >= 0, tv[np.maximum(sig_bar, 0)], np.datetime64("NaT"))
    cost_a = st[:, 2] + st[:, 4] + st[:, 6] + st[:, 8]
    cost_b = st[:, 3] + st[:, 5] + st[:, 7] + st[:, 9]
    pnl_a, pnl_b = st[:, 0] - cost_a, st[:, 1] - cost_b
    pnl = pnl_a + pnl_b
    side = np.array(["short", "long"], dtype=object)
    notional = qa * oa + qb * ob
    df = pd.DataFrame(
        {
            "strategy": name, "cost_multiplier": mult,
            "asset_a": s["asset_a"].to_numpy(), "asset_b": s["asset_b"].to_numpy(),
            "direction": np.where(r["cont"].astype(bool), "continue", "revert")
            if len(rows) else np.array([], dtype=object),
            "signal_time": s["entry_time"].to_numpy(),
            "entry_time": times[r["e"].astype(np.int64)],
            "exit_signal_time": pd.DatetimeIndex(sig_time).tz_localize("UTC"),
            "exit_time": pd.DatetimeIndex(exit_time).tz_localize("UTC"),
            "exit_reason": EXIT_REASONS[r["reason"].astype(np.int64)],
            "side_a": side[(sa > 0).astype(int)], "side_b": side[(sb > 0).astype(int)],
            "qty_a": qa, "qty_b": qb,
            "entry_price_a": oa * (1 + sa * slip), "entry_price_b": ob * (1 + sb * slip),
            "exit_price_a": xa * (1 - sa * slip), "exit_price_b": xb * (1 - sb * slip),
            "notional_a": qa * oa, "notional_b": qb * ob,
            "gross_pnl": st[:, 0] + st[:, 1], "fees": st[:, 2] + st[:, 3],
            "slippage": st[:, 4] + st[:, 5], "funding": st[:, 6] + st[:, 7],
            "borrow": st[:, 8] + st[:, 9], "pnl": pnl, "pnl_a": pnl_a, "pnl_b": pnl_b,
            "rebalances": st[:, 10], "rebalance_cost": st[:, 11],
            "net_bp": 1e4 * pnl / np.where(notional > 0, notional, np.nan),
            "return_on_equity": pnl / np.where(eq > 0, eq, np.nan), "equity_at_entry": eq,
            "probability": s["probability"].to_numpy(float),
            "z_entry": s["z_entry"].to_numpy(float), "beta": s["beta"].to_numpy(float),
            "label": s["label"].to_numpy(dtype=float, na_value=np.nan),
            # the naive strategies use no model
            "model_cutoff": s["model_cutoff"].to_numpy() if name.startswith("model")
            else pd.NaT,
        }
    )  # fmt: skip
    return df[TRADE_COLUMNS]


def _orders(trades: pd.DataFrame, times: pd.DatetimeIndex, assets: tuple[str, ...], when: str,
            flip: float) -> tuple[np.ndarray, ...]:
    col = {a: i for i, a in enumerate(assets)}
    t = times.searchsorted(pd.DatetimeIndex(trades[when]))
    sa = np.where(trades["side_a"] == "long", 1.0, -1.0) * flip
    sb = np.where(trades["side_b"] == "long", 1.0, -1.0) * flip
    return (t, trades["asset_a"].map(col).to_numpy(np.int64),
            trades["asset_b"].map(col).to_numpy(np.int64), sa, sb)  # fmt: skip


def reprice_maker_pessimistic(
    trades: pd.DataFrame, opn: np.ndarray, high: np.ndarray, low: np.ndarray,
    close: np.ndarray, times: pd.DatetimeIndex, assets: tuple[str, ...], paid: CostConfig,
    costs: CostConfig,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """A ledger's trades re-priced as pessimistic maker fills (:mod:`revertible.costs`).

    Each entry becomes a resting two-leg order at its signal bar's close (``signal_time``) and
    each exit one at its exit signal bar's close, filled per ``costs`` (``maker_margin_bps``,
    ``maker_wait_bars``, ``maker_unfilled``; an exit must happen, so an unfilled exit crosses).
    An entry that is cancelled (or meets a missing price) is dropped. The trade's P&L changes by
    the fill prices and fees only: ``pnl += q * (old_fill - new_fill)`` at entry, ``q * (new_fill -
    old_fill)`` at exit (``q`` signed), plus the fee difference, ``paid`` being the costs the
    ledger was built with; funding, borrow and rebalances are kept (the holding bars move by at
    most ``maker_wait_bars``). Exits at the end of the data keep their price.

    Returns
    -------
    tuple
        The re-priced trades (``legging_cost`` column: entry and exit legging) and
        ``{"<strategy>.fill_rate", "<strategy>.legging_cost", "<strategy>.cancelled"}`` with the
        fill rate of entry and exit legs together.
    """
    name = str(trades["strategy"].iloc[0]) if len(trades) else "strategy"
    out = trades.copy()
    qa, qb = out["qty_a"].to_numpy(float), out["qty_b"].to_numpy(float)
    ent = pessimistic_fills(*_orders(out, times, assets, "signal_time", 1.0), qa, qb, opn, high,
                            low, close, costs)  # fmt: skip
    has_exit = out["exit_signal_time"].notna().to_numpy()
    ex_in = out[has_exit]
    crossing = costs.model_copy(update={"maker_unfilled": "cross"})
    ext = pessimistic_fills(*_orders(ex_in, times, assets, "exit_signal_time", -1.0),
                            qa[has_exit], qb[has_exit], opn, high, low, close, crossing)
    legging = np.where(ent["status"] == "legged", ent["legging_cost"], 0.0)
    pnl = {"a": out["pnl_a"].to_numpy(float).copy(), "b": out["pnl_b"].to_numpy(float).copy()}
    fees = out["fees"].to_numpy(float).copy()
    for leg, q in (("a", qa), ("b", qb)):
        sgn = np.where(out[f"side_{leg}"] == "long", 1.0, -1.0)
        old_in = out[f"entry_price_{leg}"].to_numpy(float)
        new_in = np.where(np.isfinite(ent[f"price_{leg}"]), ent[f"price_{leg}"], old_in)
        new_fee = np.nan_to_num(ent[f"fee_{leg}"], nan=paid.fee) * q * new_in
        d_fee = paid.fee * q * old_in - new_fee
        pnl[leg] += sgn * q * (old_in - new_in) + d_fee
        fees -= d_fee
        old_out = out.loc[has_exit, f"exit_price_{leg}"].to_numpy(float)
        new_out = np.where(np.isfinite(ext[f"price_{leg}"]), ext[f"price_{leg}"], old_out)
        qx = q[has_exit]
        new_fee_x = np.nan_to_num(ext[f"fee_{leg}"], nan=paid.fee) * qx * new_out
        d_fee_x = paid.fee * qx * old_out - new_fee_x
        pnl[leg][has_exit] += sgn[has_exit] * qx * (new_out - old_out) + d_fee_x
        fees[has_exit] -= d_fee_x
        out[f"entry_price_{leg}"] = new_in
        out.loc[has_exit, f"exit_price_{leg}"] = new_out
    legging[has_exit] += np.where(ext["status"] == "legged", ext["legging_cost"], 0.0)
    out["pnl_a"], out["pnl_b"], out["fees"] = pnl["a"], pnl["b"], fees
    out["pnl"] = pnl["a"] + pnl["b"]
    out["legging_cost"] = legging
    notional = out["notional_a"].to_numpy(float) + out["notional_b"].to_numpy(float)
    out["net_bp"] = 1e4 * out["pnl"] / np.where(notional > 0, notional, np.nan)
    keep = np.isin(ent["status"], ("maker", "legged", "crossed"))
    kx = keep[has_exit]  # exits of the trades that happened
    both = {k: np.concatenate([ent[k], ext[k][kx]]) for k in ("status", "maker_a", "maker_b",
                                                               "legging_cost")}  # fmt: skip
    summ = fill_summary(both)
    metrics = {f"{name}.fill_rate": summ["fill_rate"],
               f"{name}.legging_cost": float(legging[keep].sum()),
               f"{name}.cancelled": float((~keep).sum())}  # fmt: skip
    return out[keep].reset_index(drop=True), metrics
