"""The book: sizing units, the model's filter, and one strategy's bar-by-bar replay.

Each bar's entries are booked by live sizing's own book (:func:`revertible.decision.book_entries`)
onto the positions the replay carries in: their net notional per asset and gross marked at the
bar's close, the margin posted at their entry, their count (``backtest.max_concurrent``), and a
pair already held is not entered again. Within a bar the ranked strategies (``model*``) take
signals in descending probability, ties and every unranked strategy (``naive_*``) in the seeded
random order of :func:`._signals.order_keys` (never data or name order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..config import Config, CostConfig
from ..costs import borrow_per_bar, funding_schedule
from ..data import Panel
from ..decision import Booked, Cap, Exit, book_caps, book_entries, book_full, new_booking
from ..errors import RevertibleError
from ..risk import RiskCovariances, risk_limit
from ._ledger import N_STATS, _hold, build_ledger
from ._signals import PATH_COLUMNS

__all__ = ["UNIT_FIELDS", "unit_sizes", "Market", "Run", "Position", "simulate", "HEDGE_FIELDS"]

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


class Position(NamedTuple):
    """An open position of the replay."""

    exit_bar: int  # first bar not held
    pair: int  # ia * n_assets + ib
    ia: int
    ib: int
    qty_a: float  # signed quantities
    qty_b: float
    margin: float  # posted at entry


_SKIPS = {int(Booked.PAIR_BUSY): "pair_busy", int(Booked.MAX_POSITIONS): "max_concurrent",
          int(Booked.NO_STAKE): "sizing", int(Booked.ROUNDS_TO_ZERO): "min_notional",
          int(Booked.BELOW_MIN_NOTIONAL): "min_notional"}  # fmt: skip
"""The replay's skip counter of each book status (``REACHED``: ``caps`` or ``book_risk``)."""
_OK, _REACHED, _MAX = int(Booked.OK), int(Booked.REACHED), int(Booked.MAX_POSITIONS)
_RISK = int(Cap.RISK)


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
    ``ratio`` x leg A; ``key``: order within a bar (ascending). The skip counters map the
    book's statuses: ``caps`` (a cap left no room), ``book_risk``, ``max_concurrent``,
    ``pair_busy``, ``min_notional`` (a leg rounds to zero or below it) and ``sizing``.
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
    rows_all = np.flatnonzero(take & (path["path_reason"].astype(np.int64) != Exit.NO_ENTRY))
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
    # per unit of equity: the units where sized (w2a: where given), else the fixed notional
    n_sig = len(sig)
    top = float(sz.max_gross_leverage)
    own = np.zeros(n_sig, bool)  # sized by its units
    unit_a, unit_b = np.full(n_sig, float(sz.trade_cap_frac)), np.full(n_sig, np.nan)
    lev_a, lev_b = np.full(n_sig, top), np.full(n_sig, top)
    if sized:  # without units nothing sized is taken (no probabilities)
        none = np.full(n_sig, np.nan)
        get = (lambda c: none) if units is None else (lambda c: units[c].to_numpy(float))
        frac_a, frac_b, ulev_a, ulev_b = (get(c) for c in ("frac_a", "frac_b", "lev_a", "lev_b"))
        own = np.isfinite(frac_a) | (units is None)
        unit_a[own], unit_b[own] = frac_a[own], frac_b[own]
        lev_a[own], lev_b[own] = ulev_a[own], ulev_b[own]
    rows_all = rows_all[np.lexsort((key[rows_all], t_all[rows_all]))]
    bounds = np.flatnonzero(np.diff(t_all[rows_all])) + 1
    groups = np.split(rows_all, bounds) if len(rows_all) else []

    open_pos: list[Position] = []
    busy: set[int] = set()
    rec: dict[str, list] = {k: [] for k in ("row", "qa", "qb", "sa", "sb", "oa", "ob", "xa",
                                            "xb", "e", "x", "sigbar", "reason", "at_close",
                                            "cont", "eq", "stats")}  # fmt: skip
    ptr, cum, last_bar = -1, 0.0, -1
    n_assets = mkt.close.shape[1]
    want_a, want_b = np.zeros(n_sig), np.zeros(n_sig)
    busy_row = np.zeros(n_sig, bool)
    out = new_booking(n_sig)
    status_v, reached_v = memoryview(out.status), memoryview(out.reached)  # fast item reads
    unit_a_l, unit_b_l, own_l = unit_a.tolist(), unit_b.tolist(), own.tolist()
    ratio_l = np.asarray(ratio, float).tolist()
    pair_l = (ia_all * n_assets + ib_all).tolist()
    no_risk = np.zeros((1, 1, 1))
    min_notional, qty_step = float(sz.min_notional), float(sz.qty_step)
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
                if p.exit_bar <= t + 1:
                    busy.discard(p.pair)
                else:
                    still.append(p)
            open_pos = still
        # the carried-in book: open positions marked at this bar's close, margin at entry
        g_open, m_open, net_d = 0.0, 0.0, {}
        close_t = mkt.close[t]
        for _, _, a, b, qa, qb, margin in open_pos:
            va = qa * close_t[a]
            vb = qb * close_t[b]
            g_open += abs(va) + abs(vb)
            m_open += margin
            net_d[a] = net_d.get(a, 0.0) + va
            net_d[b] = net_d.get(b, 0.0) + vb
        caps = book_caps(sz, equity, bt.max_concurrent)
        full = book_full(caps, g_open, m_open, len(open_pos))[0]
        if full >= 0:  # the book turns the whole bar away
            skipped["max_concurrent" if full == _MAX else "caps"] += len(rows)
            continue
        net = np.zeros(n_assets)
        for a, v in net_d.items():
            net[a] = v
        rows_l = rows.tolist()
        for i in rows_l:  # the wanted notionals at this equity; is the pair held?
            wa = unit_a_l[i] * equity
            want_a[i] = wa
            want_b[i] = unit_b_l[i] * equity if own_l[i] else wa * ratio_l[i]
            busy_row[i] = pair_l[i] in busy
        risk_lim = risk_limit(cfg, equity) if mkt.risk is not None else math.inf
        mats = mkt.risk.at(t) if risk_lim < math.inf else no_risk  # the day's matrices
        book_entries(net, g_open, m_open, len(open_pos), rows, busy_row, want_a, want_b, lev_a,
                     lev_b, ia_all, ib_all, sa_all, sb_all, pa_all, pb_all, caps, qty_step,
                     min_notional, mats, risk_lim, out)  # fmt: skip
        booked = []
        for i in rows_l:
            code = status_v[i]
            if code == _OK:
                booked.append(i)
            elif code == _REACHED:
                skipped["book_risk" if reached_v[i] == _RISK else "caps"] += 1
            else:
                skipped[_SKIPS[code]] += 1
        for i in booked:
            qa, qb, margin = out.qty_a[i], out.qty_b[i], out.margin[i]
            sa, sb = sa_all[i], sb_all[i]
            a, b = int(ia_all[i]), int(ib_all[i])
            x = int(xb[i])
            book = x - 1 if at_close[i] else x
            _hold(dpnl, gross, margin_s, mkt.close, mkt.open, mkt.mark, mkt.fund,
                  mkt.borrow, a, b, int(eb[i]), x, book, bool(at_close[i]), sa * qa,
                  sb * qb, oa[i], ob[i], xa[i], xbp[i], fee, slip, float(thr_all[i]),
                  want_b[i] / want_a[i], margin, hedge, st)  # fmt: skip
            open_pos.append(Position(x, a * n_assets + b, a, b, sa * qa, sb * qb, margin))
            last_bar = max(last_bar, book)
            busy.add(a * n_assets + b)
            for k_, v_ in (("row", i), ("qa", qa), ("qb", qb), ("sa", sa), ("sb", sb),
                           ("oa", oa[i]), ("ob", ob[i]), ("xa", xa[i]), ("xb", xbp[i]),
                           ("e", eb[i]), ("x", x), ("sigbar", sigbar[i]),
                           ("reason", reason[i]), ("at_close", at_close[i]),
                           ("cont", cont[i]), ("eq", equity)):  # fmt: skip
                rec[k_].append(v_)
            rec["stats"].append(st.copy())
    trades = build_ledger(name, mult, sig, rec, slip, mkt.times)
    return Run(trades, dpnl, gross, margin_s, hedge, last_bar, skipped)
