"""Backtest: a cost-aware, event-driven replay of scored divergences next to naive baselines.

Every strategy trades the same divergence episodes (:func:`revertible.episodes.build_episodes`)
in the same range, with the same costs, exit rules and book limits; they differ only in which
divergences they take and how large:

=====================  ==========================================  ================================
strategy               takes                                       size (leg A; leg B = ratio x A)
=====================  ==========================================  ================================
``naive_1to1``         every divergence                            ``backtest.fixed_notional_frac``
                                                                   x equity per leg, 1:1 legs
``naive_beta``         every divergence                            same leg A, leg B ``|beta|`` x A
``model_fixed_size``   the model's filter: ``bet_size > 0``        as ``naive_beta``
``model``              the model's filter                          :func:`revertible.decision.\
size_signals` at the current equity
=====================  ==========================================  ================================

The model's filter is the threshold implied by ``sizing.min_edge``: a divergence is taken when
:func:`revertible.decision.bet_size` is positive for its probability ``p`` and the barrier payoff
ratio ``b`` net of (multiplied) costs, i.e. ``p * b - (1 - p) > min_edge`` (Kelly); set
:data:`PROBABILITY_THRESHOLD` to filter on ``p >= threshold`` instead. Each strategy is run again
at every ``backtest.cost_multipliers`` value ``m != 1`` as ``<strategy>_<m>x_costs``.

Timing (bar ``t`` is the episode's entry bar; its z-score uses the close of ``t``)
---------------------------------------------------------------------------------
* **Entry.** The signal is known at the close of ``t``; it is sized then, against the equity
  marked to market at the close of ``t``, with the leg prices at that close; both legs fill at
  the open of ``t + 1``. No open for either leg at ``t + 1``: the divergence is not traded.
* **Exits**, checked on each bar close ``j = t+1 .. t+horizon`` in this order, with ``beta``,
  ``mean`` and ``std`` frozen at ``t`` (``z' = sign(z_t) (a_j - beta b_j - mean) / std``, the
  label's spread): take-profit ``z' <= label.exit``; stop ``z' >= label.stop``; correlation
  ``|corr_j| < sizing.min_abs_corr_exit`` (hourly log-return correlation over the trailing
  :data:`CORR_EXIT_DAYS`, the episode kernel's routine; NaN never triggers); time stop at
  ``j = t + horizon``. A bar without both closes checks only the correlation and the time stop.
* **Exit fill** at the open of the first bar after ``j`` where both legs have an open (a missing
  bar delays it). With no such bar (data ends or a leg stops trading) the position is closed at
  the last bar where both legs have a close, at that close, with reason ``end_of_data``.
* No exit rule depends on the book or on equity, so each position's bar path is computed by a
  compiled bar loop when it opens; the book (equity, caps, concurrency) advances bar by bar over
  the signals in time order. Liquidation is not simulated: sizing keeps each leg's liquidation
  price beyond the stop (see :mod:`revertible.decision`); a close beyond it is not detected.

Costs
-----
* Fill price ``open * (1 + slip)`` for a buy and ``open * (1 - slip)`` for a sell,
  ``slip = costs.slippage_bps / 1e4``, per fill, both legs, entry and exit.
* Fee ``costs.taker_fee * qty * fill price`` per leg per side.
* Funding only on perpetual legs (``costs.perpetual``): at each funding bar ``f`` with
  ``entry_bar <= f < exit_bar`` (a fill at the open of a funding bar holds it at the funding time;
  an exit at that open does not), ``paid = side * qty * rate_f * open_f`` (``side`` +1 long,
  -1 short; a positive rate is paid by longs). ``rate_f`` comes from ``panel.funding`` where it
  is finite, else ``costs.funding_rate_default`` at the :data:`FUNDING_HOURS` (UTC).
  Spot legs (the default) pay no funding.
* Shorts on spot are assumed borrowable, without limit and at no cost; no margin interest.
* A cost multiplier ``m`` scales the taker fee and the slippage (not funding, a market rate),
  and the strategies size and filter with the scaled costs.

Book limits (on the whole book, at the close of the signal bar, against the current equity)
---------------------------------------------------------------------------------------------
Gross notional of open positions (marked at that close) plus the new one
``<= sizing.max_gross_leverage * equity * (1 - sizing.buffer)``; posted margin
``<= equity * (1 - buffer)`` (model legs at the leverage sizing chose, fixed-size legs at
``max_gross_leverage``); per-asset net notional ``<= sizing.max_asset_net_exposure * equity``;
at most ``backtest.max_concurrent`` positions and one per pair. A cap that binds shrinks both
legs of the new position together; quantities round down to ``sizing.qty_step`` and a leg under
``sizing.min_notional`` drops the trade. Positions whose exit fills at the open of ``t + 1`` are
closed first. Within a bar the model strategies take signals in descending probability, the
naive ones in pair order. New entries stop if equity reaches 0.

Metrics (``<strategy>.<metric>``)
---------------------------------
From the equity marked at every bar close of the range (see :func:`performance_metrics`):
``total_return``, ``annual_return``, ``sharpe`` and ``sortino`` (hourly returns annualised by
``sqrt(bars per year)``, 24*365 for hourly bars; NaN when undefined), ``max_drawdown`` (<= 0,
the worst fall from a running peak as a fraction of it), ``calmar``; from the ledger:
``trades``, ``win_rate``, ``avg_win``, ``avg_loss`` (quote; ``avg_loss`` <= 0), ``fees``,
``slippage``, ``funding`` (paid; negative when received), ``turnover`` (traded notional over
mean equity, not annualised), ``exposure`` (share of bars with a position open),
``avg_gross_leverage``, ``hedge_vol_ratio`` (std of the hedged position's bar P&L over that of
leg A alone, both per unit of leg-A notional, pooled over held bars) and
``hedge_effectiveness`` (``1 - hedge_vol_ratio**2``); ``naive_beta.drawdown_vs_1to1`` is
``naive_beta.max_drawdown / naive_1to1.max_drawdown`` (< 1: beta legs draw down less);
``model.decile<k>_predicted`` / ``model.decile<k>_realised`` (mean probability and realised
label of every scored divergence by probability decile, 1 = lowest); ``signals.count`` and
``signals.scored`` (divergences in the range, and with a probability). Per strategy also
``pnl``, ``avg_pnl``, ``take_profit_rate``, ``final_equity``, ``volatility`` (annualised) and
``skipped_<why>`` (signals not taken: ``pair_busy``, ``max_concurrent``, ``caps``,
``min_notional``, ``sizing``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
import pandas as pd

from ..config import Config, CostConfig
from ..data import Panel
from ..errors import ModelError, RevertibleError

__all__ = [
    "STRATEGIES",
    "CORR_EXIT_DAYS",
    "FUNDING_HOURS",
    "PROBABILITY_THRESHOLD",
    "EXIT_REASONS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "strategy_names",
    "funding_schedule",
    "exit_paths",
    "unit_sizes",
    "model_filter",
    "walk_forward_blocks",
    "fit_block_model",
    "run_backtest",
    "performance_metrics",
    "trade_metrics",
    "reversion_by_decile",
]

STRATEGIES = ("model", "model_fixed_size", "naive_beta", "naive_1to1")
"""Base strategies, in report order."""

CORR_EXIT_DAYS = 30
"""Window of the correlation exit, in days (candidate config field ``sizing.corr_exit_days``)."""

FUNDING_HOURS = (0, 8, 16)
"""UTC hours of the funding events charged at ``costs.funding_rate_default`` without data."""

PROBABILITY_THRESHOLD: float | None = None
"""``None``: the model's filter is ``bet_size > 0`` (threshold implied by ``sizing.min_edge``);
a number: ``probability >= threshold`` (candidate config field ``backtest.min_probability``)."""

EXIT_REASONS = np.array(
    ["take_profit", "stop", "time", "correlation", "end_of_data", "no_entry"], dtype=object
)
_TP, _STOP, _TIME, _CORR, _END, _NO_ENTRY = range(6)

TRADE_COLUMNS = [
    "strategy", "cost_multiplier", "asset_a", "asset_b", "signal_time", "entry_time",
    "exit_signal_time", "exit_time", "exit_reason", "side_a", "side_b", "qty_a", "qty_b",
    "entry_price_a", "entry_price_b", "exit_price_a", "exit_price_b", "notional_a", "notional_b",
    "gross_pnl", "fees", "slippage", "funding", "pnl", "return_on_equity", "equity_at_entry",
    "probability", "z_entry", "beta", "label", "model_cutoff",
]  # fmt: skip
"""Ledger columns. Prices are fills (slippage included); ``gross_pnl`` is at the raw opens, so
``pnl = gross_pnl - slippage - fees - funding``; ``model_cutoff`` is the latest label end the
walk-forward model behind a model trade trained on (a given model: its ``label_cutoff`` or
``holdout_start`` meta; NaT for given probabilities and for the naive strategies)."""

_HEDGE_FIELDS = 5  # sum h, sum h^2, sum u, sum u^2, count


# ----------------------------------------------------------------------------------------------
# names and small helpers


def strategy_names(multipliers: tuple[float, ...] | list[float]) -> list[str]:
    """Strategy names for the cost multipliers, e.g. ``model``, ..., ``model_2x_costs``, ...

    Examples
    --------
    >>> strategy_names((1.0, 2.0))[:5]
    ['model', 'model_fixed_size', 'naive_beta', 'naive_1to1', 'model_2x_costs']
    """
    return [_name(s, m) for m in multipliers for s in STRATEGIES]


def _name(base: str, mult: float) -> str:
    return base if mult == 1.0 else f"{base}_{mult:g}x_costs"


def _utc(ts: str | pd.Timestamp | None) -> pd.Timestamp | None:
    if ts is None:
        return None
    try:
        out = pd.Timestamp(ts)
    except (ValueError, TypeError):
        raise RevertibleError(
            f"date {ts!r} is not a valid time; use ISO format, e.g. 2024-06-01T00:00"
        ) from None
    return out.tz_localize("UTC") if out.tzinfo is None else out.tz_convert("UTC")


def _scaled_costs(costs: CostConfig, mult: float) -> CostConfig:
    return costs.model_copy(
        update={"taker_fee": costs.taker_fee * mult, "slippage_bps": costs.slippage_bps * mult}
    )


def funding_schedule(panel: Panel, costs: CostConfig) -> np.ndarray:
    """``(T, N)`` funding rate charged at each bar (0 where none; all 0 unless perpetual).

    A finite ``panel.funding`` value is used where present; otherwise a bar opening at one of
    :data:`FUNDING_HOURS` carries ``costs.funding_rate_default``.
    """
    out = np.zeros((panel.n_bars, panel.n_assets), order="F")
    if not costs.perpetual:
        return out
    at_hour = np.isin(panel.times.hour, FUNDING_HOURS) & (panel.times.minute == 0)
    out[at_hour, :] = costs.funding_rate_default
    if panel.funding is not None:
        have = np.isfinite(panel.funding)
        out[have] = panel.funding[have]
    return out


def _ffill(x: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column (mark-to-market at the last traded price)."""
    return np.asfortranarray(pd.DataFrame(x).ffill().to_numpy())


# ----------------------------------------------------------------------------------------------
# compiled kernels


@nb.njit(cache=True, parallel=True)
def _exit_kernel(
    t, ia, ib, sgn, beta, mean, std, logc, opn, close, corr, horizon, tp, stop, min_corr,
    out_i, out_p,
):  # pragma: no cover
    """Entry fill, exit signal, exit fill of each signal (see the module docstring).

    ``out_i[i]``: entry bar, exit-signal bar, exit bar (first bar *not* held), reason, at-close
    flag; ``out_p[i]``: entry open A, B, exit price A, B (raw, before slippage).
    """
    n = logc.shape[0]
    for i in nb.prange(t.shape[0]):
        ti, a, b = t[i], ia[i], ib[i]
        out_i[i, :] = -1
        out_p[i, :] = np.nan
        e = ti + 1
        if e >= n or not (np.isfinite(opn[e, a]) and np.isfinite(opn[e, b])):
            out_i[i, 3] = 5
            continue
        sig = -1
        reason = 4
        for j in range(e, min(ti + horizon, n - 1) + 1):
            la = logc[j, a]
            lb = logc[j, b]
            if np.isfinite(la) and np.isfinite(lb):
                zz = sgn[i] * (la - beta[i] * lb - mean[i]) / std[i]
                if zz <= tp:
                    sig, reason = j, 0
                    break
                if zz >= stop:
                    sig, reason = j, 1
                    break
            c = corr[i, j - ti]
            if np.isfinite(c) and abs(c) < min_corr:
                sig, reason = j, 3
                break
            if j == ti + horizon:
                sig, reason = j, 2
                break
        x = -1
        if sig >= 0:
            for k in range(sig + 1, n):
                if np.isfinite(opn[k, a]) and np.isfinite(opn[k, b]):
                    x = k
                    break
        out_i[i, 0] = e
        out_i[i, 1] = sig
        out_p[i, 0] = opn[e, a]
        out_p[i, 1] = opn[e, b]
        if x >= 0:
            out_i[i, 2] = x
            out_i[i, 3] = reason
            out_i[i, 4] = 0
            out_p[i, 2] = opn[x, a]
            out_p[i, 3] = opn[x, b]
            continue
        last = -1
        for k in range(n - 1, e - 1, -1):
            if np.isfinite(close[k, a]) and np.isfinite(close[k, b]):
                last = k
                break
        out_i[i, 3] = 4
        out_i[i, 4] = 1
        if last < 0:  # no close after the entry fill: flat at the entry open
            out_i[i, 2] = e + 1
            out_p[i, 2] = opn[e, a]
            out_p[i, 3] = opn[e, b]
        else:
            out_i[i, 2] = last + 1
            out_p[i, 2] = close[last, a]
            out_p[i, 3] = close[last, b]


@nb.njit(cache=True)
def _mark_path(
    dpnl, gross, cff, mark, fund, a, b, e, x, book, qa, qb, ina, inb, outa, outb, cost_in,
    cost_out, hedge,
):  # pragma: no cover
    """Add one position's P&L per bar to ``dpnl`` and its gross notional to ``gross``.

    ``qa``/``qb`` are signed quantities, ``ina``.. the fill prices (slippage included). Bars
    ``e .. x-1`` are held (marked at the forward-filled close, funding charged); the exit fill
    and its costs land on bar ``book``. Returns the funding paid; accumulates hedge statistics
    of the close-to-close moves after the entry bar into ``hedge``.
    """
    pa = ina
    pb = inb
    paid = 0.0
    ref = abs(qa) * ina
    for k in range(e, x):
        ca = cff[k, a]
        cb = cff[k, b]
        f = qa * fund[k, a] * mark[k, a] + qb * fund[k, b] * mark[k, b]
        paid += f
        da = qa * (ca - pa)
        db = qb * (cb - pb)
        inc = da + db - f
        if k == e:
            inc -= cost_in
        elif ref > 0.0:
            h = (da + db) / ref
            u = da / ref
            hedge[0] += h
            hedge[1] += h * h
            hedge[2] += u
            hedge[3] += u * u
            hedge[4] += 1.0
        dpnl[k] += inc
        gross[k] += abs(qa) * ca + abs(qb) * cb
        pa = ca
        pb = cb
    dpnl[book] += qa * (outa - pa) + qb * (outb - pb) - cost_out
    return paid


# ----------------------------------------------------------------------------------------------
# exit paths of every signal


def _exit_corr(
    panel: Panel, t: np.ndarray, ia: np.ndarray, ib: np.ndarray, cfg: Config,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``(n, horizon + 1)``: return correlation of each signal's pair at bars ``t .. t+H``."""
    from ..spread import pair_series

    horizon = cfg.label.horizon
    n_bars, n_assets = panel.n_bars, panel.n_assets
    out = np.full((len(t), horizon + 1), np.nan)
    if len(t) == 0:
        return out
    logp = panel.log_close()
    cols = t[:, None] + np.arange(horizon + 1)[None, :]
    inside = cols < n_bars
    cols = np.minimum(cols, n_bars - 1)
    pairs, inv = np.unique(ia * n_assets + ib, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(pairs) + 1))
    bs = max(1, min(cfg.compute.block_size, 512))
    sc = cfg.spread
    for s in range(0, len(pairs), bs):
        e = min(s + bs, len(pairs))
        rows = order[bounds[s] : bounds[e]]
        sr = pair_series(
            logp, pairs[s:e] // n_assets, pairs[s:e] % n_assets, sc.beta_window, sc.z_window,
            sc.min_obs_frac, int(round(pd.Timedelta(days=CORR_EXIT_DAYS) / panel.freq)),
            cfg.universe.min_obs_frac,
        )
        out[rows] = sr[(inv[rows] - s)[:, None], 5, cols[rows]]
        del sr
        if progress is not None:
            progress(e, len(pairs))
    out[~inside] = np.nan
    return out


def exit_paths(
    panel: Panel, signals: pd.DataFrame, cfg: Config,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Entry and exit of every signal under the exit rules (module docstring), size-free.

    ``signals`` needs ``t, ia, ib`` (bar and asset columns) and ``z_entry, beta, spread_mean,
    spread_std``. Returns ``entry_bar, exit_signal_bar, exit_bar, path_reason, at_close,
    open_a, open_b, exit_px_a, exit_px_b`` (same index); ``exit_bar`` is the first bar not held.
    """
    t = signals["t"].to_numpy(np.int64)
    ia = signals["ia"].to_numpy(np.int64)
    ib = signals["ib"].to_numpy(np.int64)
    corr = _exit_corr(panel, t, ia, ib, cfg, progress)
    out_i = np.empty((len(t), 5), dtype=np.int64)
    out_p = np.empty((len(t), 4))
    if len(t):
        _exit_kernel(
            t, ia, ib, np.sign(signals["z_entry"].to_numpy(float)),
            signals["beta"].to_numpy(float), signals["spread_mean"].to_numpy(float),
            signals["spread_std"].to_numpy(float), panel.log_close(),
            np.asfortranarray(panel.open), np.asfortranarray(panel.close), corr,
            cfg.label.horizon, float(cfg.label.exit), float(cfg.label.stop),
            float(cfg.sizing.min_abs_corr_exit), out_i, out_p,
        )
    return pd.DataFrame(
        {
            "entry_bar": out_i[:, 0], "exit_signal_bar": out_i[:, 1], "exit_bar": out_i[:, 2],
            "path_reason": out_i[:, 3], "at_close": out_i[:, 4].astype(bool),
            "open_a": out_p[:, 0], "open_b": out_p[:, 1],
            "exit_px_a": out_p[:, 2], "exit_px_b": out_p[:, 3],
        },
        index=signals.index,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# walk-forward models


def walk_forward_blocks(
    first_entry: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp, cfg: Config,
    bar: pd.Timedelta,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the scoring blocks ``[start_k, end_k)`` of a walk-forward backtest.

    The first ``backtest.min_train_days`` after the first episode only train; then one model per
    ``backtest.retrain_every_days``, from ``max(that, start)`` up to ``end``.
    """
    bt = cfg.backtest
    s = max(first_entry + pd.Timedelta(days=bt.min_train_days), start).ceil(bar)
    step = pd.Timedelta(days=bt.retrain_every_days)
    blocks = []
    while s <= end:
        blocks.append((s, min(s + step, end + bar)))
        s = s + step
    return blocks


def fit_block_model(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta,
) -> Any:
    """Train a calibrated model on the episodes whose label was known before ``cutoff``.

    The training rows are the labelled episodes with ``label_end < cutoff`` (exit time, or entry
    + horizon; see :func:`revertible.model.label_end`), so nothing after ``cutoff`` is used. It is
    :func:`revertible.model.train` without the holdout, baselines and logging: purged
    walk-forward CV (:func:`revertible.model.cross_validate`), a calibrator on the out-of-fold
    scores, and the final classifier on every training row. ``model.meta["label_cutoff"]`` is
    the latest label end used.
    """
    from ..features import FEATURE_GROUPS, feature_names
    from ..model import (
        CalibratedReversionModel,
        Calibrator,
        ReversionClassifier,
        cross_validate,
        label_end,
        lgbm_params,
        select_features,
    )

    end = label_end(episodes, cfg.label.horizon, bar)
    sel = (episodes["label"].notna() & (end < cutoff)).to_numpy()
    idx = np.flatnonzero(sel)
    if len(idx) < 100:
        raise RevertibleError(
            f"walk-forward model at {cutoff}: only {len(idx)} labelled episodes ended before it; "
            "need at least 100: raise backtest.min_train_days or use more data"
        )
    feats = select_features(cfg, feature_names(cfg), FEATURE_GROUPS)
    X = features.iloc[idx].reset_index(drop=True)
    y = episodes["label"].to_numpy(dtype=float, na_value=np.nan)[idx].astype(int)
    entry = episodes["entry_time"].iloc[idx].reset_index(drop=True)
    ends = end.iloc[idx].reset_index(drop=True)
    cv = cross_validate(X, y, entry, ends, cfg, feats, ["lgbm"], bar)
    oof = cv["fold_id"] >= 0
    calibrator = Calibrator(cfg.model.calibration).fit(cv["raw"]["lgbm"][oof], y[oof])
    clf = ReversionClassifier(lgbm_params(cfg.model, cfg.seed), cfg.model.early_stopping_rounds)
    clf.fit(X[feats], y)
    return CalibratedReversionModel(
        clf, calibrator, feats,
        meta={"label_cutoff": ends.max(), "trained_until": entry.max(), "n_train": len(idx),
              "cv_roc_auc": cv["metrics"]["lgbm"].get("roc_auc", float("nan"))},
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# the book


@dataclass
class _Market:
    """Per-panel arrays the book needs."""

    times: pd.DatetimeIndex
    close: np.ndarray  # forward-filled close, (T, N)
    mark: np.ndarray  # funding mark: open, else the last close
    fund: np.ndarray  # funding rate charged at each bar

    @classmethod
    def of(cls, panel: Panel, costs: CostConfig) -> _Market:
        cff = _ffill(panel.close)
        prev = np.vstack([np.full((1, panel.n_assets), np.nan), cff[:-1]])
        mark = np.asfortranarray(np.where(np.isfinite(panel.open), panel.open, prev))
        return cls(panel.times, cff, mark, funding_schedule(panel, costs))


_PROBE_CAPITAL = 1e12
_PROBE_RISK = 1e-6


def unit_sizes(sig: pd.DataFrame, cfg: Config, costs: CostConfig) -> pd.DataFrame:
    """Each signal's position per unit of equity before any book limit (sizing steps 1-5).

    Below the book caps :func:`revertible.decision.size_signals` is linear in capital (the
    volatility-target notional is; bet size, leg ratio and leverage do not depend on it), so one
    call sizes every signal: each row gets its own asset names (no shared per-asset room),
    ``risk_per_trade`` is scaled by ``1e-6`` on a ``1e12`` capital (the book totals stay far
    below every cap), and rounding is off. ``frac_a``/``frac_b`` are leg notionals per unit of
    capital; the book scales them by the equity at the signal's bar and applies the caps,
    rounding and ``min_notional`` there.
    """
    from ..decision import size_signals

    sz = cfg.sizing
    _check_split(cfg)
    n = len(sig)
    frame = pd.DataFrame({
        "asset_a": [f"a{i}" for i in range(n)], "asset_b": [f"b{i}" for i in range(n)],
        "entry_time": sig["entry_time"].to_numpy(), "z_entry": sig["z_entry"].to_numpy(float),
        "beta": sig["beta"].to_numpy(float), "spread_std": sig["spread_std"].to_numpy(float),
        "probability": sig["probability"].to_numpy(float),
        "price_a": sig["price_a"].to_numpy(float), "price_b": sig["price_b"].to_numpy(float),
    })  # fmt: skip
    probe = sz.model_copy(update={"risk_per_trade": sz.risk_per_trade * _PROBE_RISK,
                                  "qty_step": 0.0, "min_notional": 0.0})  # fmt: skip
    out = size_signals(frame, probe, costs, cfg.label, capital=_PROBE_CAPITAL)
    reason = out["reason"].astype(str)
    bound = reason.str.contains("reduced by|reached", regex=True)
    if bound.any():  # pragma: no cover - needs ~1e5 signals at a 1e-6 spread std
        raise RevertibleError(
            f"unit sizing: a book cap bound for {int(bound.sum())} signal(s) "
            f"({reason[bound].iloc[0]}); this should not happen, please report it"
        )
    unit = _PROBE_CAPITAL * _PROBE_RISK
    return pd.DataFrame(
        {
            "bet_size": out["bet_size"].to_numpy(float),
            "frac_a": out["leg_a_notional"].to_numpy(float) / unit,
            "frac_b": out["leg_b_notional"].to_numpy(float) / unit,
            "lev_a": out["leg_a_leverage"].to_numpy(float),
            "lev_b": out["leg_b_leverage"].to_numpy(float),
            "sizing_reason": reason.to_numpy(),
        },
        index=sig.index,
    )


def _check_split(cfg: Config) -> None:
    if cfg.sizing.split == "vol_parity":
        raise RevertibleError(
            "sizing.split=vol_parity is not supported by the backtest (it needs each leg's "
            "volatility at entry); use sizing.split=beta or dollar"
        )


def model_filter(sig: pd.DataFrame, cfg: Config, costs: CostConfig) -> np.ndarray:
    """Return the model's filter of each signal under ``costs`` (boolean array).

    True where :func:`revertible.decision.bet_size` is positive for the signal's probability and
    barrier payoff (the gate of ``size_signals``: expected edge above ``sizing.min_edge``), or
    where ``probability >= PROBABILITY_THRESHOLD`` when that is set.
    """
    from ..decision import bet_size, leg_ratio, payoff

    p = sig["probability"].to_numpy(float)
    if PROBABILITY_THRESHOLD is not None:
        return np.isfinite(p) & (p >= PROBABILITY_THRESHOLD)
    _check_split(cfg)
    sz, lab = cfg.sizing, cfg.label
    z = sig["z_entry"].to_numpy(float)
    beta = sig["beta"].to_numpy(float)
    std = sig["spread_std"].to_numpy(float)
    ok = np.zeros(len(sig), dtype=bool)
    for i in np.flatnonzero(np.isfinite(p) & np.isfinite(beta) & (beta != 0.0)):
        pay = payoff(z[i], std[i], take_profit_z=lab.exit, stop_z=lab.stop,
                     leg_ratio=leg_ratio(sz.split, beta[i]), costs=costs)  # fmt: skip
        if pay.ratio > 0.0:
            bet = bet_size(p[i], pay.ratio, method=sz.method, fraction=sz.kelly_fraction,
                           min_edge=sz.min_edge)  # fmt: skip
            ok[i] = bet.size > 0.0
    return ok


@dataclass
class _Run:
    """What one strategy run produces."""

    trades: pd.DataFrame
    dpnl: np.ndarray
    gross: np.ndarray
    hedge: np.ndarray
    last_bar: int
    skipped: dict[str, int] = field(default_factory=dict)


def _simulate(
    base: str, mult: float, sig: pd.DataFrame, take: np.ndarray, units: pd.DataFrame | None,
    mkt: _Market, cfg: Config, costs: CostConfig,
) -> _Run:
    """Run one strategy over the signals through the book (``units``: :func:`unit_sizes`)."""
    sz, bt = cfg.sizing, cfg.backtest
    n_bars = len(mkt.times)
    dpnl = np.zeros(n_bars + 1)
    gross = np.zeros(n_bars + 1)
    hedge = np.zeros(_HEDGE_FIELDS)
    slip = costs.slippage_bps / 1e4
    fee = costs.taker_fee
    capital = float(sz.capital)
    skipped = {"pair_busy": 0, "max_concurrent": 0, "caps": 0, "min_notional": 0, "sizing": 0}

    rows_all = np.flatnonzero(take & (sig["path_reason"].to_numpy() != _NO_ENTRY))
    t_all = sig["t"].to_numpy(np.int64)
    ia_all = sig["ia"].to_numpy(np.int64)
    ib_all = sig["ib"].to_numpy(np.int64)
    z_all = sig["z_entry"].to_numpy(float)
    beta_all = sig["beta"].to_numpy(float)
    prob_all = sig["probability"].to_numpy(float)
    sa_all = -np.sign(z_all)
    sb_all = -sa_all * np.sign(beta_all)
    pa_all = sig["price_a"].to_numpy(float)
    pb_all = sig["price_b"].to_numpy(float)
    ratio_all = np.ones(len(sig)) if base == "naive_1to1" else np.abs(beta_all)
    eb = sig["entry_bar"].to_numpy(np.int64)
    xb = sig["exit_bar"].to_numpy(np.int64)
    at_close = sig["at_close"].to_numpy(bool)
    oa, ob = sig["open_a"].to_numpy(float), sig["open_b"].to_numpy(float)
    xa, xbp = sig["exit_px_a"].to_numpy(float), sig["exit_px_b"].to_numpy(float)
    sized = base == "model"
    if sized:  # without units nothing is taken (no probabilities)
        none = np.full(len(sig), np.nan)
        get = (lambda c: none) if units is None else (lambda c: units[c].to_numpy(float))
        frac_a, frac_b, ulev_a, ulev_b = (get(c) for c in ("frac_a", "frac_b", "lev_a", "lev_b"))
    if base.startswith("model"):  # descending probability within a bar, then row order
        key = np.lexsort((rows_all, -prob_all[rows_all], t_all[rows_all]))
    else:
        key = np.lexsort((rows_all, t_all[rows_all]))
    rows_all = rows_all[key]
    bounds = np.flatnonzero(np.diff(t_all[rows_all])) + 1
    groups = np.split(rows_all, bounds) if len(rows_all) else []

    open_pos: list[tuple] = []  # (exit_bar, pair, ia, ib, qa, qb, margin)
    busy: set[int] = set()
    rec: dict[str, list] = {k: [] for k in ("row", "qa", "qb", "fees", "slip", "fund", "eq")}
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
            if sized:
                want_a, want_b = frac_a[chunk] * equity, frac_b[chunk] * equity
                lev_a, lev_b = ulev_a[chunk], ulev_b[chunk]
            else:
                want_a = np.full(len(chunk), bt.fixed_notional_frac * equity)
                want_b = want_a * ratio_all[chunk]
                lev_a = lev_b = np.full(len(chunk), sz.max_gross_leverage)
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
                # fills, costs, and the position's bar path
                ina, inb = oa[i] * (1.0 + sa * slip), ob[i] * (1.0 + sb * slip)
                outa, outb = xa[i] * (1.0 - sa * slip), xbp[i] * (1.0 - sb * slip)
                fee_in = fee * (qa * ina + qb * inb)
                fee_out = fee * (qa * outa + qb * outb)
                x = int(xb[i])
                book = x - 1 if at_close[i] else x
                paid = _mark_path(
                    dpnl, gross, mkt.close, mkt.mark, mkt.fund, a, b, int(eb[i]), x, book,
                    sa * qa, sb * qb, ina, inb, outa, outb, fee_in, fee_out, hedge,
                )
                open_pos.append((x, pair, a, b, sa * qa, sb * qb, margin))
                last_bar = max(last_bar, book)
                busy.add(pair)
                rec["row"].append(i)
                rec["qa"].append(qa)
                rec["qb"].append(qb)
                rec["fees"].append(fee_in + fee_out)
                rec["slip"].append(slip * (qa * (oa[i] + xa[i]) + qb * (ob[i] + xbp[i])))
                rec["fund"].append(paid)
                rec["eq"].append(equity)
    trades = _ledger(_name(base, mult), mult, sig, rec, slip, mkt.times)
    return _Run(trades, dpnl, gross, hedge, last_bar, skipped)


def _round_qty(notional: float, price: float, step: float) -> float:
    from ..decision import round_qty

    if not (math.isfinite(price) and price > 0.0 and notional > 0.0):
        return 0.0
    return round_qty(notional, price, step)


def _ledger(
    name: str, mult: float, sig: pd.DataFrame, rec: dict[str, list], slip: float,
    times: pd.DatetimeIndex,
) -> pd.DataFrame:
    rows = np.asarray(rec["row"], dtype=np.int64)
    s = sig.iloc[rows]
    qa, qb = np.asarray(rec["qa"], float), np.asarray(rec["qb"], float)
    sa = -np.sign(s["z_entry"].to_numpy(float))
    sb = -sa * np.sign(s["beta"].to_numpy(float))
    oa, ob = s["open_a"].to_numpy(float), s["open_b"].to_numpy(float)
    xa, xb = s["exit_px_a"].to_numpy(float), s["exit_px_b"].to_numpy(float)
    gross_pnl = sa * qa * (xa - oa) + sb * qb * (xb - ob)
    fees, slp, fund = (np.asarray(rec[k], float) for k in ("fees", "slip", "fund"))
    eq = np.asarray(rec["eq"], float)
    exit_bar = s["exit_bar"].to_numpy(np.int64)
    closing = s["at_close"].to_numpy(bool)
    bar = times[1] - times[0] if len(times) > 1 else pd.Timedelta(hours=1)
    tv = times.tz_convert(None).to_numpy()
    # an open exit fills at the open of exit_bar; a close exit at the close of exit_bar - 1
    exit_time = np.where(closing, tv[np.maximum(exit_bar - 1, 0)] + bar.to_timedelta64(),
                         tv[np.minimum(exit_bar, len(tv) - 1)])
    sig_bar = s["exit_signal_bar"].to_numpy(np.int64)
    sig_time = np.where(sig_bar >= 0, tv[np.maximum(sig_bar, 0)], np.datetime64("NaT"))
    pnl = gross_pnl - slp - fees - fund
    side = np.array(["short", "long"], dtype=object)
    df = pd.DataFrame(
        {
            "strategy": name, "cost_multiplier": mult,
            "asset_a": s["asset_a"].to_numpy(), "asset_b": s["asset_b"].to_numpy(),
            "signal_time": s["entry_time"].to_numpy(),
            "entry_time": times[s["entry_bar"].to_numpy(np.int64)],
            "exit_signal_time": pd.DatetimeIndex(sig_time).tz_localize("UTC"),
            "exit_time": pd.DatetimeIndex(exit_time).tz_localize("UTC"),
            "exit_reason": EXIT_REASONS[s["path_reason"].to_numpy(np.int64)],
            "side_a": side[(sa > 0).astype(int)], "side_b": side[(sb > 0).astype(int)],
            "qty_a": qa, "qty_b": qb,
            "entry_price_a": oa * (1 + sa * slip), "entry_price_b": ob * (1 + sb * slip),
            "exit_price_a": xa * (1 - sa * slip), "exit_price_b": xb * (1 - sb * slip),
            "notional_a": qa * oa, "notional_b": qb * ob,
            "gross_pnl": gross_pnl, "fees": fees, "slippage": slp, "funding": fund, "pnl": pnl,
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


# ----------------------------------------------------------------------------------------------
# metrics


def performance_metrics(equity: np.ndarray, bars_per_year: float = 24 * 365) -> dict[str, float]:
    """Return, risk and drawdown of an equity curve sampled once per bar.

    Conventions: returns are simple bar returns ``E_k / E_(k-1) - 1``; ``sharpe`` is
    ``mean / std (ddof 1) * sqrt(bars_per_year)`` (no risk-free rate) and NaN when the returns
    are constant (std below ``1e-9 * |mean|``: undefined, not infinite) or fewer than 2;
    ``sortino`` divides by the downside deviation ``sqrt(mean(min(r, 0)^2))`` (NaN without a
    losing bar); ``max_drawdown`` is ``min_k(E_k / max_(j<=k) E_j) - 1``, so it is ``<= 0``
    (``-0.25``: a 25% fall from a peak); ``calmar`` is ``annual_return / -max_drawdown``
    (NaN without a drawdown); ``annual_return`` compounds ``total_return`` over
    ``n_returns / bars_per_year`` years (-1 once equity reaches 0).

    Examples
    --------
    >>> m = performance_metrics(np.array([100.0, 120.0, 90.0, 135.0]))
    >>> round(m["total_return"], 4), round(m["max_drawdown"], 4)
    (0.35, -0.25)
    """
    e = np.asarray(equity, dtype=float)
    nan = float("nan")
    out = dict.fromkeys(("total_return", "annual_return", "sharpe", "sortino", "max_drawdown",
                         "calmar", "volatility"), nan)  # fmt: skip
    if len(e) < 2 or not np.isfinite(e).all() or e[0] <= 0.0:
        return out
    ruined = np.flatnonzero(e <= 0.0)
    if ruined.size:
        e = e.copy()
        e[ruined[0] :] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(e[:-1] > 0.0, e[1:] / e[:-1] - 1.0, 0.0)
    total = e[-1] / e[0] - 1.0
    years = len(r) / bars_per_year
    out["total_return"] = float(total)
    out["annual_return"] = float((1.0 + total) ** (1.0 / years) - 1.0) if total > -1.0 else -1.0
    peak = np.maximum.accumulate(e)
    out["max_drawdown"] = float(np.min(e / peak - 1.0))
    if len(r) >= 2:
        mean = float(r.mean())
        std = float(r.std(ddof=1))
        out["volatility"] = std * math.sqrt(bars_per_year)
        if std > 1e-9 * abs(mean) and std > 0.0:
            out["sharpe"] = mean / std * math.sqrt(bars_per_year)
        down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        if down > 0.0:
            out["sortino"] = mean / down * math.sqrt(bars_per_year)
    if out["max_drawdown"] < 0.0:
        out["calmar"] = out["annual_return"] / -out["max_drawdown"]
    return out


def trade_metrics(trades: pd.DataFrame) -> dict[str, float]:
    """Count and average a ledger: trades, win rate, average win and loss, costs paid."""
    pnl = trades["pnl"].to_numpy(float)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    nan = float("nan")
    return {
        "trades": float(len(pnl)),
        "win_rate": float(len(wins) / len(pnl)) if len(pnl) else nan,
        "avg_win": float(wins.mean()) if len(wins) else nan,
        "avg_loss": float(losses.mean()) if len(losses) else nan,
        "avg_pnl": float(pnl.mean()) if len(pnl) else nan,
        "pnl": float(pnl.sum()),
        "fees": float(trades["fees"].sum()),
        "slippage": float(trades["slippage"].sum()),
        "funding": float(trades["funding"].sum()),
        "traded_notional": float(
            (trades["qty_a"] * (trades["entry_price_a"] + trades["exit_price_a"])
             + trades["qty_b"] * (trades["entry_price_b"] + trades["exit_price_b"])).sum()
        ),
        "take_profit_rate": float((trades["exit_reason"] == "take_profit").mean())
        if len(pnl) else nan,
    }  # fmt: skip


def reversion_by_decile(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability and realised reversion rate per probability decile.

    Equal-frequency bins of the labelled rows in ascending probability (decile 1 lowest);
    rows without a label (open episodes) or probability are left out.
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    order = np.argsort(p, kind="stable")
    bins = [b for b in np.array_split(order, min(n_bins, len(p))) if len(b)] if len(p) else []
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(bins) + 1),
            "n": [len(b) for b in bins],
            "predicted": [float(p[b].mean()) for b in bins],
            "realised": [float(y[b].mean()) for b in bins],
        }
    )


# ----------------------------------------------------------------------------------------------
# the run


@dataclass
class BacktestResult:
    """Everything one backtest produced (the report is drawn from this)."""

    strategies: list[str]
    signals: pd.DataFrame
    trades: pd.DataFrame
    equity: pd.DataFrame
    gross: pd.DataFrame
    metrics: dict[str, float]
    deciles: pd.DataFrame
    blocks: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    mode: str
    model_uri: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _signals(
    panel: Panel, episodes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Episodes entered in ``[start, end]`` with bar and asset positions and sizing prices."""
    sel = (episodes["entry_time"] >= start) & (episodes["entry_time"] <= end)
    sig = episodes.loc[sel].copy()
    sig["t"] = panel.times.get_indexer(pd.DatetimeIndex(sig["entry_time"])).astype(np.int64)
    if (sig["t"] < 0).any():
        raise RevertibleError("episodes do not match the panel's bars: build them from the panel")
    pos = {a: i for i, a in enumerate(panel.assets)}
    sig["ia"] = sig["asset_a"].map(pos).to_numpy(np.int64)
    sig["ib"] = sig["asset_b"].map(pos).to_numpy(np.int64)
    sig["price_a"] = panel.close[sig["t"].to_numpy(), sig["ia"].to_numpy()]
    sig["price_b"] = panel.close[sig["t"].to_numpy(), sig["ib"].to_numpy()]
    return sig


def run_backtest(
    cfg: Config,
    panel: Panel,
    *,
    episodes: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
    model: Any = None,
    model_uri: str | None = None,
    walk_forward: bool = False,
    probabilities: pd.Series | np.ndarray | None = None,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    say: Callable[[str], None] | None = None,
    progress: Callable[..., Any] | None = None,
) -> BacktestResult:
    """Replay the divergences of ``[since, until]`` for every strategy (module docstring).

    Parameters
    ----------
    cfg : Config
        ``label``, ``costs``, ``sizing``, ``backtest`` (and ``model``/``cv`` for walk-forward).
    panel : Panel
        The whole history (walk-forward models train on the episodes known before each block).
    episodes, features : pandas.DataFrame, optional
        Episode table of ``panel`` (sorted by entry time) and its features (same rows); built
        when needed and not given.
    model : object with ``predict_proba(features)``, optional
        One model scoring the whole range (``--model``). Its ``meta["holdout_start"]`` is the
        default ``since``; ``meta["label_cutoff"]`` or ``holdout_start`` fills ``model_cutoff``.
    walk_forward : bool
        Retrain with :func:`fit_block_model` on an expanding window (``backtest.*_days``).
    probabilities : array-like, optional
        Given probabilities aligned with ``episodes`` (tests, external scores).
    since, until : str or Timestamp, optional
        Entry-time range (inclusive, UTC). With none of ``model``, ``walk_forward`` and
        ``probabilities``, only the naive strategies have trades.

    Returns
    -------
    BacktestResult
    """
    from ..episodes import build_episodes

    say = say or (lambda _m: None)
    _check_split(cfg)
    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    if sum(x is not None and x is not False for x in (model, walk_forward, probabilities)) > 1:
        raise RevertibleError("pass one of --model, --walk-forward (or given probabilities)")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    bar = panel.freq
    notes: list[str] = []
    if episodes is None:
        with bar_ctx("episodes (pairs)") as update:
            episodes = build_episodes(panel, cfg, progress=update)
    if len(episodes) == 0:
        raise RevertibleError("no divergence episodes in the data: nothing to backtest")
    given = None
    if probabilities is not None:
        given = np.asarray(probabilities, dtype=float)
        if given.shape != (len(episodes),):
            raise ValueError(f"probabilities must have one value per episode ({len(episodes)}), "
                             f"got shape {given.shape}")  # fmt: skip
    if features is not None and not features.index.equals(episodes.index):
        raise ValueError("features must have the index of episodes (build_features output)")
    start = _utc(since) or panel.times[0]
    end = _utc(until) or panel.times[-1]
    # time order; nothing entered after the range is needed (history features count earlier
    # entries only, walk-forward models train on labels known before their block)
    ns = pd.DatetimeIndex(episodes["entry_time"]).as_unit("ns").asi8
    order = np.argsort(ns, kind="stable")
    order = order[ns[order] <= end.as_unit("ns").value]
    episodes = episodes.iloc[order].reset_index(drop=True)
    features = None if features is None else features.iloc[order].reset_index(drop=True)
    given = None if given is None else given[order]
    timings["episodes_s"] = time.perf_counter() - t0
    if model is not None and since is None:
        hs = _utc((getattr(model, "meta", None) or {}).get("holdout_start"))
        if hs is not None and hs <= panel.times[-1]:
            start = hs
            notes.append(f"--model: range starts at the model's holdout start {hs:%Y-%m-%d %H:%M}")
    if start > end:
        raise RevertibleError(f"`since <= until` must hold, but got since={start}, until={end}")

    prob = np.full(len(episodes), np.nan) if given is None else given
    cutoff = pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns, UTC]")
    blocks = pd.DataFrame(columns=["start", "end", "label_cutoff", "n_train", "n_scored",
                                   "cv_roc_auc"])  # fmt: skip
    mode = "given" if given is not None else "naive"
    if (walk_forward or model is not None) and features is None:
        from ..features import build_features

        t1 = time.perf_counter()
        with bar_ctx("features (pairs)") as update:
            features = build_features(panel, episodes, cfg, progress=update)
        timings["features_s"] = time.perf_counter() - t1
    entry = episodes["entry_time"]
    if walk_forward:
        mode = "walk_forward"
        wf = walk_forward_blocks(entry.min(), start, end, cfg, bar)
        if not wf:
            first = entry.min() + pd.Timedelta(days=cfg.backtest.min_train_days)
            raise RevertibleError(
                f"walk-forward: the first model needs backtest.min_train_days="
                f"{cfg.backtest.min_train_days} days of episodes, so trading starts {first}, "
                f"after the range end {end}; lower backtest.min_train_days or widen the range"
            )
        start = wf[0][0]
        rows_blocks = []
        t1 = time.perf_counter()
        with bar_ctx("walk-forward models") as update:
            for k, (bs, be) in enumerate(wf):
                m = fit_block_model(cfg, episodes, features, bs, bar)
                rows = np.flatnonzero(((entry >= bs) & (entry < be) & (entry <= end)).to_numpy())
                if len(rows):
                    prob[rows] = m.predict_proba(features.iloc[rows])
                    cutoff.iloc[rows] = m.meta["label_cutoff"]
                rows_blocks.append({"start": bs, "end": be, "label_cutoff": m.meta["label_cutoff"],
                                    "n_train": m.meta["n_train"], "n_scored": len(rows),
                                    "cv_roc_auc": m.meta["cv_roc_auc"]})  # fmt: skip
                lc = m.meta["label_cutoff"]
                say(f"block {k + 1}/{len(wf)} {bs:%Y-%m-%d}..{be:%Y-%m-%d}: trained on "
                    f"{m.meta['n_train']} episodes (labels to {lc:%Y-%m-%d %H:%M}), "
                    f"scored {len(rows)}")  # fmt: skip
                update(k + 1, len(wf))
        blocks = pd.DataFrame(rows_blocks)
        timings["models_s"] = time.perf_counter() - t1
    elif model is not None:
        mode = "model"
        if hasattr(model, "check_sources"):
            model.check_sources(panel.funding is not None)
        rows = np.flatnonzero(((entry >= start) & (entry <= end)).to_numpy())
        try:
            prob[rows] = model.predict_proba(features.iloc[rows])
        except KeyError as exc:
            raise ModelError(
                f"model input: {exc}; compute features with the model's config"
            ) from None
        meta = getattr(model, "meta", None) or {}
        cut = _utc(meta.get("label_cutoff") or meta.get("holdout_start"))
        if cut is not None:
            cutoff.iloc[rows] = cut
            if start < cut:  # its labels ended before `cut`
                notes.append(f"in-sample warning: the model saw labels up to {cut}, the range "
                             f"starts {start}")  # fmt: skip
    for note in notes:
        say(note)

    sig = _signals(panel, episodes.assign(probability=prob, model_cutoff=cutoff), start, end)
    if len(sig) == 0:
        raise RevertibleError(f"no divergence entered between {start} and {end}: widen the range")
    t1 = time.perf_counter()
    with bar_ctx("exit paths (pairs)") as update:
        sig = sig.join(exit_paths(panel, sig, cfg, progress=update))
    timings["paths_s"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    scored = np.isfinite(sig["probability"].to_numpy(float)).any()
    runs: dict[str, _Run] = {}
    mults = list(dict.fromkeys(float(m) for m in cfg.backtest.cost_multipliers))
    mkt = _Market.of(panel, cfg.costs)  # funding is not scaled
    with bar_ctx("strategies") as update:
        n_done = 0
        for mult in mults:
            costs = _scaled_costs(cfg.costs, mult)
            units = None
            filt = np.zeros(len(sig), bool)
            if scored:
                filt = model_filter(sig, cfg, costs)
                units = unit_sizes(sig[filt], cfg, costs).reindex(sig.index)
            for base in STRATEGIES:
                take = filt if base.startswith("model") else np.ones(len(sig), bool)
                runs[_name(base, mult)] = _simulate(base, mult, sig, take, units, mkt, cfg,
                                                    costs)  # fmt: skip
                n_done += 1
                update(n_done, len(mults) * len(STRATEGIES))
    timings["simulation_s"] = time.perf_counter() - t1

    names = [_name(s, m) for m in mults for s in STRATEGIES]
    t_start = int(sig["t"].min())
    last_exit = max([r.last_bar for r in runs.values()] + [int(sig["t"].max())])
    t_end = min(panel.n_bars - 1, max(last_exit, int(panel.times.searchsorted(end, "right")) - 1))
    idx = panel.times[t_start : t_end + 1]
    capital = float(cfg.sizing.capital)
    equity = pd.DataFrame(
        {n: capital + np.cumsum(runs[n].dpnl)[t_start : t_end + 1] for n in names}, index=idx
    )
    gross = pd.DataFrame({n: runs[n].gross[t_start : t_end + 1] for n in names}, index=idx)
    trades = pd.concat([runs[n].trades for n in names], ignore_index=True)

    bpy = pd.Timedelta(days=365) / bar
    metrics: dict[str, float] = {}
    for n in names:
        curve = equity[n].to_numpy()  # starts at capital: the first fill is after t_start
        m = performance_metrics(curve, bpy)
        tr = runs[n].trades
        m.update(trade_metrics(tr))
        mean_eq = float(np.mean(curve))
        m["turnover"] = m.pop("traded_notional") / mean_eq if mean_eq > 0 else float("nan")
        g = gross[n].to_numpy()
        m["exposure"] = float(np.mean(g > 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(curve > 0, g / curve, np.nan)
        m["avg_gross_leverage"] = float(np.nanmean(lev)) if np.isfinite(lev).any() else 0.0
        m["final_equity"] = float(curve[-1])
        h = runs[n].hedge
        if h[4] >= 2:
            var_h = (h[1] - h[0] ** 2 / h[4]) / (h[4] - 1)
            var_u = (h[3] - h[2] ** 2 / h[4]) / (h[4] - 1)
            ratio = math.sqrt(max(var_h, 0.0) / var_u) if var_u > 0 else float("nan")
            m["hedge_vol_ratio"] = ratio
            m["hedge_effectiveness"] = 1.0 - ratio**2
        else:
            m["hedge_vol_ratio"] = m["hedge_effectiveness"] = float("nan")
        for k, v in runs[n].skipped.items():
            m[f"skipped_{k}"] = float(v)
        metrics.update({f"{n}.{k}": float(v) for k, v in m.items()})
    for mult in mults:
        nb_, n1 = _name("naive_beta", mult), _name("naive_1to1", mult)
        d1 = metrics[f"{n1}.max_drawdown"]
        metrics[f"{nb_}.drawdown_vs_1to1"] = (
            metrics[f"{nb_}.max_drawdown"] / d1 if d1 < 0 else float("nan")
        )
    deciles = reversion_by_decile(sig["probability"].to_numpy(float),
                                  sig["label"].to_numpy(dtype=float, na_value=np.nan))
    for r in deciles.itertuples(index=False):
        metrics[f"model.decile{r.decile:02d}_predicted"] = r.predicted
        metrics[f"model.decile{r.decile:02d}_realised"] = r.realised
    metrics["signals.count"] = float(len(sig))
    metrics["signals.scored"] = float(np.isfinite(sig["probability"].to_numpy(float)).sum())
    timings["total_s"] = time.perf_counter() - t0
    return BacktestResult(
        strategies=names, signals=sig, trades=trades, equity=equity, gross=gross,
        metrics=metrics, deciles=deciles, blocks=blocks, start=panel.times[t_start],
        end=panel.times[t_end], mode=mode, model_uri=model_uri, notes=notes, timings=timings,
    )  # fmt: skip
