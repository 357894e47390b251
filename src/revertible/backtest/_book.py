"""The book: sizing units, the model's filter, and one strategy's bar-by-bar replay.

Within a bar the ranked strategies (``model*``) take signals in descending probability, ties
and every unranked strategy (``naive_*``) in the seeded random order of
:func:`._signals.order_keys` (never data or name order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import Config, CostConfig
from ..costs import borrow_per_bar, funding_schedule
from ..data import Panel
from ..errors import RevertibleError
from ..risk import RiskCovariances, risk_limit, risk_room
from ._ledger import N_STATS, _hold, build_ledger
from ._signals import PATH_COLUMNS

__all__ = ["UNIT_FIELDS", "unit_sizes", "Market", "Run", "simulate", "HEDGE_FIELDS"]

HEDGE_FIELDS = 5  # sum h, sum h^2, sum u, sum u^2, count


def _ffill(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column (mark-to-market at the last traded price)."""
    return np.asfortranarray(pd.DataFrame(x).ffill().to_numpy())


@dataclass
class Market:
    """Per-panel arrays the book needs."""

    times: pd.DatetimeIndex
    close: np.ndarray  # forward-filled close, (T, N)
    open: np.ndarray  # raw open (NaN where missing)
    mark: np.ndarray  # funding and borrow mark: open, else the last close
    fund: np.ndarray  # funding rate charged at each bar's open
    borrow: float  # borrow rate per bar on short spot notional
    risk: RiskCovariances | None = None  # book-risk matrices (baskets.max_book_risk)

    @classmethod
    def of(cls, panel: Panel, costs: CostConfig) -> Market:
        cff = _ffill(panel.close)
        prev = np.vstack([np.full((1, panel.n_assets), np.nan), cff[:-1]])
        mark = np.asfortranarray(np.where(np.isfinite(panel.open), panel.open, prev))
        return cls(panel.times, cff, np.asfortranarray(panel.open), mark,
                   funding_schedule(panel, costs), borrow_per_bar(costs, panel.freq))


UNIT_FIELDS = ("bet_size", "frac_a", "frac_b", "lev_a", "lev_b", "sizing_reason")
"""Columns of :func:`unit_sizes`."""


def unit_sizes(sig: pd.DataFrame, cfg: Config, costs: CostConfig) -> pd.DataFrame:
    """Each signal's position per unit of equity before any book limit (sizing steps 1-4).

    :func:`revertible.decision.unit_stakes` on the signals, with the ``continue`` section's
    barriers for continued rows. The stake input is the decision (``direction``,
    ``expected_return_lower``, ``return_m2`` from :func:`revertible.decision.decide`): fractional
    Kelly ``kelly_fraction * lower / m2`` of the chosen direction under the per-trade cap
    ``sizing.trade_cap_frac`` (leg A). ``frac_a``/``frac_b`` are leg notionals per
    unit of capital (0 with ``sizing_reason`` for a signal not to trade); the book scales them by
    the equity at the signal's bar and applies the caps, rounding and ``min_notional`` there.
    """
    from ..decision import trade_barriers, unit_stakes

    _check_split(cfg)
    cont = trade_barriers(cfg.label, cfg.continue_)["continue"]
    out = unit_stakes(sig, cfg.sizing, costs, cfg.label, continuation=cont)
    return out[list(UNIT_FIELDS)]


def _check_split(cfg: Config) -> None:
    if cfg.sizing.split == "vol_parity":
        raise RevertibleError(
            "sizing.split=vol_parity is not supported by the backtest (it needs each leg's "
            "volatility at entry); use sizing.split=beta or dollar"
        )


@dataclass
class Run:
    """What one strategy run produces."""

    trades: pd.DataFrame
    dpnl: np.ndarray
    gross: np.ndarray
    margin: np.ndarray
    hedge: np.ndarray
    last_bar: int
    skipped: dict[str, int] = field(default_factory=dict)


def _round_qty(notional: float, price: float, step: float) -> float:
    from ..decision import round_qty

    if not (math.isfinite(price) and price > 0.0 and notional > 0.0):
        return 0.0
    return round_qty(notional, price, step)


def _drift_thresholds(sig: pd.DataFrame, cfg: Config) -> np.ndarray:
    """Per-signal rebalance threshold (0: never): ``backtest.rebalance_drift`` or the pair's."""
    bt = cfg.backtest
    thr = np.full(len(sig), bt.rebalance_drift or 0.0)
    if bt.rebalance_drift_pairs:
        key = (sig["asset_a"].astype(str) + "|" + sig["asset_b"].astype(str)).to_numpy()
        for pair, v in bt.rebalance_drift_pairs.items():
            thr[key == pair] = v
    return thr


def simulate(
    name: str, mult: float, sig: pd.DataFrame, take: np.ndarray, cont: np.ndarray,
    units: pd.DataFrame | None, sized: bool, ratio: np.ndarray, key: np.ndarray,
    mkt: Market, cfg: Config, costs: CostConfig,
) -> Run:
    """Run one strategy over the signals through the book.

    ``take``: signals the strategy wants; ``cont``: which of them trade the continuation
    (``c_*`` path columns, sides flipped); ``sized``: size by ``units`` (:func:`unit_sizes`)
    the rows where they are finite (the decided strategies: both directions; probability-only:
    revert rows); other rows and unsized strategies use the fixed notional with leg B
    ``ratio`` x leg A; ``key``: order within a bar (ascending).
    """
    sz, bt = cfg.sizing, cfg.backtest
    n_bars = len(mkt.times)
    dpnl = np.zeros(n_bars + 1)
    gross = np.zeros(n_bars + 1)
    margin_s = np.zeros(n_bars + 1)
    hedge = np.zeros(HEDGE_FIELDS)
    st = np.zeros(N_STATS)
    slip = costs.slippage
    fee = costs.fee
    capital = float(sz.capital)
    skipped = {"pair_busy": 0, "max_concurrent": 0, "caps": 0, "min_notional": 0, "sizing": 0,
               "book_risk": 0}

    def col(c: str) -> np.ndarray:
        return np.where(cont, sig[f"c_{c}"].to_numpy(), sig[c].to_numpy())

    path = {c: col(c) for c in PATH_COLUMNS}
    rows_all = np.flatnonzero(take & (path["path_reason"].astype(np.int64) != 5))
    t_all = sig["t"].to_numpy(np.int64)
    ia_all = sig["ia"].to_numpy(np.int64)
    ib_all = sig["ib"].to_numpy(np.int64)
    z_all = sig["z_entry"].to_numpy(float)
    beta_all = sig["beta"].to_numpy(float)
    sa_all = -np.sign(z_all) * np.where(cont, -1.0, 1.0)
    sb_all = -sa_all * np.sign(beta_all)
    pa_all = sig["price_a"].to_numpy(float)
    pb_all = sig["price_b"].to_numpy(float)
    eb = path["entry_bar"].astype(np.int64)
    xb = path["exit_bar"].astype(np.int64)
    sigbar = path["exit_signal_bar"].astype(np.int64)
    reason = path["path_reason"].astype(np.int64)
    at_close = path["at_close"].astype(bool)
    oa, ob = path["open_a"].astype(float), path["open_b"].astype(float)
    xa, xbp = path["exit_px_a"].astype(float), path["exit_px_b"].astype(float)
    thr_all = _drift_thresholds(sig, cfg)
    if sized:  # without units nothing sized is taken (no probabilities)
        none = np.full(len(sig), np.nan)
        get = (lambda c: none) if units is None else (lambda c: units[c].to_numpy(float))
        frac_a, frac_b, ulev_a, ulev_b = (get(c) for c in ("frac_a", "frac_b", "lev_a", "lev_b"))
    rows_all = rows_all[np.lexsort((key[rows_all], t_all[rows_all]))]
    bounds = np.flatnonzero(np.diff(t_all[rows_all])) + 1
    groups = np.split(rows_all, bounds) if len(rows_all) else []

    open_pos: list[tuple] = []  # (exit_bar, pair, ia, ib, qa, qb, margin)
    busy: set[int] = set()
    rec: dict[str, list] = {k: [] for k in ("row", "qa", "qb", "sa", "sb", "oa", "ob", "xa",
                                            "xb", "e", "x", "sigbar", "reason", "at_close",
                                            "cont", "eq", "stats")}  # fmt: skip
    ptr, cum, last_bar = -1, 0.0, -1
    n_assets = mkt.close.shape[1]
    for rows in groups:
        t = int(t_all[rows[0]])
        while ptr < t:
            ptr += 1
            cum += dpnl[ptr]
        equity = capital + cum
        if equity <= 0.0:
            break
        if open_pos:
            still = []
            for p in open_pos:
                if p[0] <= t + 1:
                    busy.discard(p[1])
                else:
                    still.append(p)
            open_pos = still
        if len(open_pos) >= bt.max_concurrent:
            skipped["max_concurrent"] += len(rows)
            continue
        g_open, m_open, net = 0.0, 0.0, {}
        for p in open_pos:
            va = p[4] * mkt.close[t, p[2]]
            vb = p[5] * mkt.close[t, p[3]]
            g_open += abs(va) + abs(vb)
            m_open += p[6]
            net[p[2]] = net.get(p[2], 0.0) + va
            net[p[3]] = net.get(p[3], 0.0) + vb
        margin_cap = equity * (1.0 - sz.buffer) * (1.0 - 1e-9)
        gross_cap = sz.max_gross_leverage * margin_cap
        net_cap = sz.max_asset_net_exposure * equity * (1.0 - 1e-9)
        if g_open >= gross_cap or m_open >= margin_cap:
            skipped["caps"] += len(rows)
            continue
        risk_lim = risk_limit(cfg, equity) if mkt.risk is not None else math.inf
        if risk_lim < math.inf:  # book-risk cap: the open book's net notionals, the day's matrices
            mats, net_v = mkt.risk.at(t), np.zeros(n_assets)
            for a_, v_ in net.items():
                net_v[a_] = v_
        codes = ia_all[rows] * n_assets + ib_all[rows]
        free = rows[np.fromiter((c not in busy for c in codes), bool, len(rows))]
        skipped["pair_busy"] += len(rows) - len(free)
        pos = 0
        while pos < len(free):
            slots = bt.max_concurrent - len(open_pos)
            if slots <= 0 or g_open >= gross_cap or m_open >= margin_cap:
                skipped["max_concurrent" if slots <= 0 else "caps"] += len(free) - pos
                break
            chunk = free[pos : pos + slots]
            pos += len(chunk)
            fixed_a = np.full(len(chunk), cfg.sizing.trade_cap_frac * equity)
            want_a, want_b = fixed_a, fixed_a * ratio[chunk]
            lev_a = lev_b = np.full(len(chunk), sz.max_gross_leverage)
            if sized:
                s_ = np.isfinite(frac_a[chunk]) | (units is None)  # w2a: units where given
                want_a = np.where(s_, frac_a[chunk] * equity, want_a)
                want_b = np.where(s_, frac_b[chunk] * equity, want_b)
                lev_a = np.where(s_, ulev_a[chunk], lev_a)
                lev_b = np.where(s_, ulev_b[chunk], lev_b)
            for k, i in enumerate(chunk):
                na, nb_, la, lb = want_a[k], want_b[k], lev_a[k], lev_b[k]
                if not (na > 0.0 and nb_ > 0.0):
                    skipped["sizing"] += 1
                    continue
                sa, sb = sa_all[i], sb_all[i]
                a, b = int(ia_all[i]), int(ib_all[i])
                pair = a * n_assets + b
                scale = min(
                    1.0,
                    (gross_cap - g_open) / (na + nb_),
                    (margin_cap - m_open) / (na / la + nb_ / lb),
                    (net_cap - sa * net.get(a, 0.0)) / na,
                    (net_cap - sb * net.get(b, 0.0)) / nb_,
                )
                if scale <= 0.0:
                    skipped["caps"] += 1
                    continue
                if risk_lim < math.inf:
                    room = risk_room(mats, net_v, a, b, sa, sb * nb_ / na, risk_lim * (1 - 1e-9))
                    if room / na <= 0.0:
                        skipped["book_risk"] += 1
                        continue
                    scale = min(scale, room / na)
                qa = _round_qty(na * scale, pa_all[i], sz.qty_step)
                qb = _round_qty(nb_ * scale, pb_all[i], sz.qty_step)
                if min(qa * pa_all[i], qb * pb_all[i]) < max(sz.min_notional, 1e-12):
                    skipped["min_notional"] += 1
                    continue
                va, vb = qa * pa_all[i], qb * pb_all[i]
                g_open += va + vb
                margin = va / la + vb / lb
                m_open += margin
                net[a] = net.get(a, 0.0) + sa * va
                net[b] = net.get(b, 0.0) + sb * vb
                if risk_lim < math.inf:
                    net_v[a], net_v[b] = net[a], net[b]
                x = int(xb[i])
                book = x - 1 if at_close[i] else x
                _hold(dpnl, gross, margin_s, mkt.close, mkt.open, mkt.mark, mkt.fund,
                      mkt.borrow, a, b, int(eb[i]), x, book, bool(at_close[i]), sa * qa,
                      sb * qb, oa[i], ob[i], xa[i], xbp[i], fee, slip, float(thr_all[i]),
                      nb_ / na, margin, hedge, st)  # fmt: skip
                open_pos.append((x, pair, a, b, sa * qa, sb * qb, margin))
                last_bar = max(last_bar, book)
                busy.add(pair)
                for k_, v_ in (("row", i), ("qa", qa), ("qb", qb), ("sa", sa), ("sb", sb),
                               ("oa", oa[i]), ("ob", ob[i]), ("xa", xa[i]), ("xb", xbp[i]),
                               ("e", eb[i]), ("x", x), ("sigbar", sigbar[i]),
                               ("reason", reason[i]), ("at_close", at_close[i]),
                               ("cont", cont[i]), ("eq", equity)):  # fmt: skip
                    rec[k_].append(v_)
                rec["stats"].append(st.copy())
    trades = build_ledger(name, mult, sig, rec, slip, mkt.times)
    return Run(trades, dpnl, gross, margin_s, hedge, last_bar, skipped)
