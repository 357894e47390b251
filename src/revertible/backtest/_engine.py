"""Backtest: a cost-aware, event-driven replay of scored divergences next to naive baselines.

Every strategy trades the same divergence episodes (:func:`revertible.episodes.build_episodes`)
in the same range, with the same costs, exit rules and book limits; they differ only in which
divergences they take and how large:

=====================  ==========================================  ================================
strategy               takes                                       size (leg A; leg B = ratio x A)
=====================  ==========================================  ================================
``naive_1to1``         every divergence                            ``sizing.trade_cap_frac``
                                                                   x equity per leg, 1:1 legs
``naive_beta``         every divergence                            same leg A, leg B ``|beta|`` x A
``naive_continue``     every divergence, *continued*              as ``naive_beta``
``model``              the decided direction (``none`` skipped)    fractional Kelly on the lower
                                                                   bound, capped at
                                                                   ``sizing.trade_cap_frac``
                                                                   (:func:`revertible.decision.\
unit_stakes`), then the book caps
``model_revert``       the decision restricted to reversion        as ``model``
``model_fixed_size``   ``model``'s direction                       as ``naive_beta``
=====================  ==========================================  ================================

The model strategies trade only where the evidence clears costs. Their outcomes are calibrated
on a held-out record: walk-forward block models (each with a return calibrator fitted on its
out-of-fold scores), a ``--model`` (its calibrator), given outcomes, or given scores (each block
calibrated on the scores of the episodes whose labels ended before it). Each signal is decided
at each cost multiplier's costs by :func:`revertible.decision.decide` (round trip from the cost
model plus the expected carry; see :mod:`._plans`): ``direction`` is ``revert``, ``continue``
or ``none`` (the lower confidence bound of no direction's net return is above 0), the stake is
``min(sizing.trade_cap_frac, sizing.kelly_fraction * lower / m2)`` of equity (leg A), and the
``model*`` strategies take a bar's signals in descending lower bound. A continued trade takes
the side of the divergence (leg A ``sign(z)``) with the ``continue`` barriers: take-profit at
``|z'| >= continue.take_profit``, stop at ``|z'| <= continue.stop``, time stop at
``continue.horizon`` (default ``label.horizon``). Without any score, the model strategies have
no trades. Each strategy is run again at every ``backtest.cost_multipliers`` value
``m != 1`` as ``<strategy>_<m>x_costs``.

Timing (bar ``t`` is the episode's entry bar; its z-score uses the close of ``t``)
---------------------------------------------------------------------------------
* **Entry.** The signal is known at the close of ``t``; it is sized then, against the equity
  marked to market at the close of ``t``, with the leg prices at that close; both legs fill at
  the open of ``t + 1``. No open for either leg at ``t + 1``: the divergence is not traded.
* **Exits**, checked on each bar close ``j = t+1 .. t+horizon`` in this order, with ``beta``,
  ``mean`` and ``std`` frozen at ``t`` (``z' = sign(z_t) (a_j - beta b_j - mean) / std``, the
  label's spread): take-profit ``z' <= label.exit``; stop ``z' >= label.stop``; correlation
  ``|corr_j| < sizing.min_abs_corr_exit`` (hourly log-return correlation over the trailing
  ``backtest.corr_exit_days``, the episode kernel's routine; NaN never triggers); time stop at
  ``j = t + horizon``. A bar without both closes checks only the correlation and the time stop.
* **Exit fill** at the open of the first bar after ``j`` where both legs have an open (a missing
  bar delays it). With no such bar (data ends or a leg stops trading) the position is closed at
  the last bar where both legs have a close, at that close, with reason ``end_of_data``.
* No exit rule depends on the book or on equity, so each position's bar path is computed by a
  compiled bar loop when it opens; the book (equity, caps, concurrency) advances bar by bar over
  the signals in time order. Liquidation is not simulated: sizing keeps each leg's liquidation
  price beyond the stop (see :mod:`revertible.decision`); a close beyond it is not detected.

Costs (:mod:`revertible.costs`, :class:`revertible.config.CostConfig`)
----------------------------------------------------------------------
* Fees ``costs.fee`` (the venue's taker or maker fee per ``costs.fill``) on each fill's
  notional at the fill price; taker fills at ``open * (1 +/- slip)`` against the trader,
  ``slip = costs.slippage_bps / 1e4``; maker fills (an optimistic assumption: filled at the
  open at the maker fee, no slippage, no adverse selection) at the open.
* Funding on perpetual legs (``costs.venue: perp``): at each funding bar ``f`` held, i.e.
  opened before its open and closed after it (``entry_bar < f <= exit_bar``; an exit at a close
  ``< exit_bar``), ``paid = side * qty * rate_f * open_f`` (a positive rate is paid by longs).
  ``rate_f`` comes from ``panel.funding`` where finite, else ``costs.funding_rate_default`` at
  ``costs.funding_hours`` (UTC).
* Borrow on short spot legs (``costs.venue: spot``): ``costs.borrow_rate_daily`` pro rata per
  held bar on the short notional at the bar's open (reported as ``borrow``).
* Drift rebalancing (``backtest.rebalance_drift``, per pair ``rebalance_drift_pairs``; off by
  default): leg B is traded back to the target ratio at the next open when the ratio marked at
  a close drifts past the threshold (:mod:`._rebalance`), paying fee and slippage.
* A cost multiplier ``m`` scales fees and slippage (not funding or borrow, market rates), and
  the strategies are decided, sized and filtered with the scaled costs (the cost model's round
  trip: the venue's taker or maker fee per ``costs.fill``).

Book limits (on the whole book, at the close of the signal bar, against the current equity)
---------------------------------------------------------------------------------------------
Gross notional of open positions (marked at that close) plus the new one
``<= sizing.max_gross_leverage * equity * (1 - sizing.buffer)``; posted margin
``<= equity * (1 - buffer)`` (model legs at the leverage sizing chose, fixed-size legs at
``max_gross_leverage``); per-asset net notional ``<= sizing.max_asset_net_exposure * equity``;
at most ``backtest.max_concurrent`` positions and one per pair. A cap that binds shrinks both
legs of the new position together; quantities round down to ``sizing.qty_step`` and a leg under
``sizing.min_notional`` drops the trade. Positions whose exit fills at the open of ``t + 1`` are
closed first. Within a bar the model strategies take signals in descending lower bound of the
expected net return, ties and the naive ones in a seeded random order
(``backtest.seed``; :func:`._signals.order_keys`: never data or name order). New entries stop
if equity reaches 0.

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
label of every scored divergence by probability decile, 1 = lowest); with calibrated outcomes
``model.return_decile<k>_expected_bp`` / ``_realised_bp``, ``model.decision_slope``,
``model.decision_rank_corr``, ``model.decision_top_minus_median_bp`` (expected vs realised net
return of each signal's better direction, out of sample), ``model.abstention_rate`` and the same
for ``model_revert`` (the reversion trade; :func:`._plans.return_deciles`); ``signals.count`` and
``signals.scored`` (divergences in the range, and with a probability). Per strategy also
``pnl``, ``avg_pnl``, ``take_profit_rate``, ``final_equity``, ``volatility`` (annualised) and
``skipped_<why>`` (signals not taken: ``pair_busy``, ``max_concurrent``, ``caps``,
``min_notional``, ``sizing``); ``borrow``, ``rebalances``, ``rebalance_cost``; the statistics
of :mod:`._stats`: ``net_bp_per_trade`` with a day-block bootstrap 90% interval
(``net_bp_per_trade_ci_low``/``_ci_high``), ``deflated_sharpe`` (over ``search.n_trials``
configurations), ``sharpe_<year>q<k>``, ``exit_<reason>`` (share of trades),
``avg_hold_hours``, ``return_on_margin`` (P&L over the mean posted margin while exposed) and
``leverage_adjusted_sharpe`` (``sharpe / avg_gross_leverage``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..costs import funding_schedule  # noqa: F401  (re-exported for tests and users)
from ..data import Panel
from ..errors import ModelError, RevertibleError
from ..model import forward_start, overfit_warning
from ..risk import RiskCovariances, book_risk_paths, risk_metrics
from ._baselines import SPREAD_MODEL_BASELINES, spread_model_runs
from ._book import Market, _check_split, simulate
from ._ledger import TRADE_COLUMNS  # noqa: F401
from ._metrics import core_metrics, reversion_by_decile, strategy_metrics
from ._plans import OUTCOMES, debiased_expected, decided_plans, predict_block, return_deciles
from ._predict import WalkForwardPredictions, given_score_predictions, walk_forward_predictions
from ._signals import (
    EXIT_REASONS,  # noqa: F401
    _exit_corr,
    _signals,
    continue_horizon,
    exit_paths,
    order_keys,
)
from ._stats import ci_text
from ._walkforward import fit_block_model  # the engine fits through this name (tests spy)

__all__ = ["STRATEGIES", "RANKED", "BacktestResult", "strategy_names", "run_backtest"]

STRATEGIES = ("model", "model_revert", "model_fixed_size", "naive_beta", "naive_continue",
              "naive_1to1")  # fmt: skip
"""Base strategies, in report order."""

RANKED = ("model", "model_revert", "model_fixed_size")
"""Strategies that rank a bar's signals by the lower bound of the expected net return; the
others take them in a seeded random order."""


def strategy_names(multipliers: tuple[float, ...] | list[float]) -> list[str]:
    """Strategy names for the cost multipliers, e.g. ``model``, ..., ``model_2x_costs``, ...

    Examples
    --------
    >>> strategy_names((1.0, 2.0))[:7]
    ['model', 'model_revert', 'model_fixed_size', 'naive_beta', 'naive_continue', \
'naive_1to1', 'model_2x_costs']
    """
    return [_name(s, m) for m in multipliers for s in STRATEGIES]


def _name(base: str, mult: float) -> str:
    return base if mult == 1.0 else f"{base}_{mult:g}x_costs"


def _bases(strategies: Sequence[str] | None) -> list[str]:
    """The base strategies to replay, in report order (all by default)."""
    if strategies is None:
        return list(STRATEGIES)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise RevertibleError(f"strategies={list(strategies)!r}: give one or more of "
                              f"{', '.join(STRATEGIES)}")
    return [s for s in STRATEGIES if s in strategies]


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
    n_trials: int = 1
    predictions: WalkForwardPredictions | None = None  # walk-forward: reusable (run_backtest)
    book_risk: pd.DataFrame | None = None  # per strategy: shock_sigma daily loss / equity
    stress_loss: pd.DataFrame | None = None  # the same under the worse of all-0.95 and all-0



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
    outcomes: pd.DataFrame | None = None,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    say: Callable[[str], None] | None = None,
    progress: Callable[..., Any] | None = None,
    strategies: Sequence[str] | None = None,
    light: bool = False,
    predictions: WalkForwardPredictions | None = None,
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
    model : object with ``predict_outcomes`` (or only ``predict_proba``), optional
        One model scoring the whole range (``--model``). Its ``meta["holdout_start"]`` is the
        default ``since``; ``meta["label_cutoff"]`` or ``holdout_start`` fills ``model_cutoff``.
        A model with a return calibrator is decided on it; a registered model without one is
        refused (:class:`ModelError`); an object with ``predict_proba`` only scores every
        episode and its scores are calibrated like given ``probabilities``.
    walk_forward : bool
        Retrain with :func:`fit_block_model` (classifier and both calibrators) on an expanding
        window (``backtest.*_days``).
    probabilities : array-like, optional
        Given scores aligned with ``episodes`` (external scorers, planted or noise scores in
        tests): calibrated block by block on their own earlier record
        (:func:`._predict.given_score_predictions`).
    outcomes : pandas.DataFrame, optional
        Given calibrated outcomes aligned with ``episodes`` (:data:`._plans.OUTCOMES`, gross),
        e.g. a replay of a walk-forward run's under other costs; the model strategies are then
        decided (with ``probabilities`` for the probability column, optional).
    since, until : str or Timestamp, optional
        Entry-time range (inclusive, UTC). With none of ``model``, ``walk_forward`` and
        ``probabilities``, only the naive strategies have trades.
    strategies : sequence of str, optional
        Base strategies (:data:`STRATEGIES`) to replay, at every cost multiplier; default all.
        A strategy's trades do not depend on the others. The equity frames end at the range end
        or the last exit of the strategies replayed (with ``until`` before the data's end, a
        later exit of a strategy left out no longer extends them).
    light : bool
        Compute only the metrics a search objective reads (:func:`._metrics.core_metrics`:
        performance, ledger counts, ``net_bp_per_trade`` without its bootstrap interval,
        ``deflated_sharpe``, ``skipped_*``): no bootstrap, quarterly Sharpe, book-risk paths,
        probability or return deciles (``book_risk``/``stress_loss`` are None, ``deciles``
        empty). The figures it computes equal the full run's.
    predictions : WalkForwardPredictions, optional
        Walk-forward: the predictions of an earlier run on the same episodes, range and
        model/cv/walk-forward settings (``result.predictions``), reused instead of refitting.

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
    t0, c0 = time.perf_counter(), time.process_time()
    bar = panel.freq
    notes: list[str] = []
    if episodes is None:
        with bar_ctx("episodes (pairs)") as update:
            episodes = build_episodes(panel, cfg, progress=update)
    if len(episodes) == 0:
        raise RevertibleError("no divergence episodes in the data: nothing to backtest")
    given = None
    if outcomes is not None:
        missing = [c for c in OUTCOMES if c not in outcomes.columns]
        if missing or len(outcomes) != len(episodes):
            raise ValueError(f"outcomes must have one row per episode ({len(episodes)}) and the "
                             f"columns {list(OUTCOMES)}; got {len(outcomes)} rows, "
                             f"missing {missing}")  # fmt: skip
        if model is not None or walk_forward:
            raise RevertibleError("pass one of --model, --walk-forward (or given outcomes)")
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
    heads = np.full((len(episodes), len(OUTCOMES)), np.nan)
    if outcomes is not None:
        heads = outcomes[list(OUTCOMES)].to_numpy(float)[order].copy()
    timings["episodes_s"] = time.perf_counter() - t0
    timings["episodes_cpu_s"] = time.process_time() - c0
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
    mode = "given" if given is not None or outcomes is not None else "naive"
    if (walk_forward or model is not None) and features is None:
        from ..features import build_features

        t1, c1 = time.perf_counter(), time.process_time()
        with bar_ctx("features (pairs)") as update:
            features = build_features(panel, episodes, cfg, progress=update)
        timings["features_s"] = time.perf_counter() - t1
        timings["features_cpu_s"] = time.process_time() - c1
    entry = episodes["entry_time"]
    wfp = None
    if walk_forward:
        mode = "walk_forward"
        t1, c1 = time.perf_counter(), time.process_time()
        if predictions is not None:
            if len(predictions.probability) != len(episodes):
                raise ValueError(f"predictions have {len(predictions.probability)} rows, the "
                                 f"episodes entered by {end} {len(episodes)}: pass the "
                                 "predictions of the same episodes and range")  # fmt: skip
            wfp = predictions
        else:
            with bar_ctx("walk-forward models") as update:
                wfp = walk_forward_predictions(
                    cfg, episodes, features, start, end, bar, say=say, update=update,
                    fit=fit_block_model)
        start, blocks = wfp.start, wfp.blocks
        prob, heads = wfp.probability.copy(), wfp.heads.copy()
        cutoff = wfp.cutoff.copy()
        timings["models_s"] = time.perf_counter() - t1
        timings["models_cpu_s"] = time.process_time() - c1
    elif model is not None:
        mode = "model"
        if hasattr(model, "check_sources"):
            model.check_sources(panel.funding is not None)
        rows = np.flatnonzero(((entry >= start) & (entry <= end)).to_numpy())
        try:
            if hasattr(model, "predict_outcomes"):  # refuses a model without a calibrator
                prob[rows], heads[rows] = predict_block(model, features, episodes, rows)
            else:  # probability only (external scorers, tests): calibrated on its own record
                given = np.asarray(model.predict_proba(features), dtype=float)
                notes.append("the model has no return calibrator: its scores are calibrated "
                             "block by block on their own earlier record")  # fmt: skip
        except KeyError as exc:
            raise ModelError(
                f"model input: {exc}; compute features with the model's config"
            ) from None
        meta = getattr(model, "meta", None) or {}
        cut = forward_start(meta)
        if cut is not None:
            cutoff.iloc[rows] = cut
            if start < cut:  # its labels ended before `cut`
                notes.append(f"in-sample warning: the model saw labels up to {cut}, the range "
                             f"starts {start}")  # fmt: skip
    if given is not None and outcomes is None:  # scores -> outcomes on their own record
        mode = "given" if model is None else mode
        t1, c1 = time.perf_counter(), time.process_time()
        wfp = given_score_predictions(cfg, episodes, given, start, end, bar, say=say)
        prob, heads, cutoff = wfp.probability.copy(), wfp.heads.copy(), wfp.cutoff.copy()
        blocks = wfp.blocks
        timings["models_s"] = time.perf_counter() - t1
        timings["models_cpu_s"] = time.process_time() - c1
    meta = (wfp.meta if wfp is not None else getattr(model, "meta", None)) or {}
    warn = overfit_warning(meta, cfg.decision.overfit_ic)
    if warn:
        notes.append(warn)
    for note in notes:
        say(note)

    sig = _signals(panel, episodes.assign(probability=prob, model_cutoff=cutoff,
                                          **dict(zip(OUTCOMES, heads.T, strict=True))),
                   start, end)  # fmt: skip
    if cfg.costs.perpetual and panel.funding is not None:  # last funding rate known at entry
        known = pd.DataFrame(panel.funding).ffill().to_numpy()
        t_, ia_, ib_ = (sig[c].to_numpy(np.int64) for c in ("t", "ia", "ib"))
        sig["funding_a"], sig["funding_b"] = known[t_, ia_], known[t_, ib_]
    if len(sig) == 0:
        raise RevertibleError(f"no divergence entered between {start} and {end}: widen the range")
    t1, c1 = time.perf_counter(), time.process_time()
    h_max = max(cfg.label.horizon, continue_horizon(cfg))
    with bar_ctx("exit paths (pairs)") as update:
        corr = _exit_corr(panel, sig["t"].to_numpy(np.int64), sig["ia"].to_numpy(np.int64),
                          sig["ib"].to_numpy(np.int64), cfg, h_max, update)  # fmt: skip
    sig = sig.join(exit_paths(panel, sig, cfg, corr=corr))
    sig = sig.join(exit_paths(panel, sig, cfg, corr=corr, continuation=True).add_prefix("c_"))
    timings["paths_s"] = time.perf_counter() - t1
    timings["paths_cpu_s"] = time.process_time() - c1

    t1, c1 = time.perf_counter(), time.process_time()
    decided = bool(np.isfinite(sig[["revert_mean", "continue_mean"]].to_numpy(float)).any())
    key = order_keys(sig, cfg.backtest.seed)
    rank = np.argsort(np.argsort(key, kind="stable"), kind="stable")  # 0..n-1 random
    runs: dict[str, Any] = {}
    bases = _bases(strategies)
    mults = list(dict.fromkeys(float(m) for m in cfg.backtest.cost_multipliers))
    mkt = Market.of(panel, cfg.costs)  # funding and borrow are not scaled
    mkt.risk = RiskCovariances.of(panel, cfg)  # the book-risk cap and its report path
    dec_table = None
    with bar_ctx("strategies") as update:
        n_done = 0
        for mult in mults:
            costs = cfg.costs.scaled(mult)
            keep = decided and (dec_table is None or mult == 1.0)
            plans, dec = decided_plans(sig, cfg, costs, rank, bar, reasons=keep and not light)
            if keep:
                dec_table, dec_costs = dec, costs
            for base in bases:
                p = plans[base]
                runs[_name(base, mult)] = simulate(_name(base, mult), mult, sig, p.take, p.cont,
                                                   p.units, p.units is not None, p.ratio, p.key,
                                                   mkt, cfg, costs)  # fmt: skip
                n_done += 1
                update(n_done, len(mults) * len(bases))
    extra: list[str] = []
    if cfg.backtest.spread_model_baselines and strategies is None:
        with bar_ctx("spread-model baselines") as update:
            more = spread_model_runs(cfg, panel, sig, start, end, mults, mkt, _name)
            update(1, 1)
        runs.update(more)
        extra = [b for b in SPREAD_MODEL_BASELINES if any(_name(b, m) in more for m in mults)]
    timings["simulation_s"] = time.perf_counter() - t1
    timings["simulation_cpu_s"] = time.process_time() - c1

    t1, c1 = time.perf_counter(), time.process_time()
    names = [_name(s, m) for m in mults for s in [*bases, *extra]]
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

    n_trials = cfg.backtest.n_trials or int(
        (getattr(model, "meta", None) or {}).get("n_trials", 1) or 1)
    bpy = pd.Timedelta(days=365) / bar
    metrics: dict[str, float] = {}
    paths: dict[str, pd.DataFrame] = {}
    for n in names:
        if light:
            m = core_metrics(equity[n], runs[n].trades, bpy, n_trials)
        else:
            m = strategy_metrics(equity[n], gross[n], runs[n].margin[t_start : t_end + 1],
                                 runs[n].trades, runs[n].hedge, bpy, n_trials, cfg)  # fmt: skip
        for k, v in runs[n].skipped.items():
            m[f"skipped_{k}"] = float(v)
        if not light:
            paths[n] = book_risk_paths(runs[n].trades, panel, mkt.close, mkt.risk, cfg,
                                       equity[n])  # fmt: skip
            m.update(risk_metrics(paths[n]))
        metrics.update({f"{n}.{k}": float(v) for k, v in m.items()})
    for mult in mults if {"naive_beta", "naive_1to1"} <= set(bases) else ():
        nb_, n1 = _name("naive_beta", mult), _name("naive_1to1", mult)
        d1 = metrics[f"{n1}.max_drawdown"]
        metrics[f"{nb_}.drawdown_vs_1to1"] = (
            metrics[f"{nb_}.max_drawdown"] / d1 if d1 < 0 else float("nan")
        )
    metrics["search.n_trials"] = float(n_trials)
    deciles = pd.DataFrame(columns=["decile", "n", "predicted", "realised"])
    if not light:
        deciles = reversion_by_decile(sig["probability"].to_numpy(float),
                                      sig["label"].to_numpy(dtype=float, na_value=np.nan))
    for r in deciles.itertuples(index=False):
        metrics[f"model.decile{r.decile:02d}_predicted"] = r.predicted
        metrics[f"model.decile{r.decile:02d}_realised"] = r.realised
    if dec_table is not None:  # the decision at 1x costs (else the first multiplier)
        sig = sig.drop(columns=[c for c in dec_table.columns if c in sig.columns]).join(dec_table)
        if cfg.decision.debias_expected and len(blocks):  # the gate's earlier record
            sig["expected_return"] = debiased_expected(sig, cfg, dec_costs, bar, blocks["start"])
        if not light:
            metrics.update(return_deciles(sig, cfg, dec_costs, bar))
        taken = sig["direction"].to_numpy() != "none"
        best = sig["expected_return_lower"].to_numpy(float)
        metrics["model.signals_taken"] = float(taken.sum())
        metrics["model.abstention_rate"] = float(1.0 - taken.mean()) if len(sig) else np.nan
        fin = best[np.isfinite(best)]
        metrics["model.best_lower_bound_bp"] = float(fin.max() * 1e4) if len(fin) else np.nan
        say(decision_line(int(taken.sum()), len(sig), fin.max() * 1e4 if len(fin) else np.nan,
                          metrics))
    metrics["signals.count"] = float(len(sig))
    metrics["signals.scored"] = float(np.isfinite(sig["probability"].to_numpy(float)).sum())
    timings["metrics_s"] = time.perf_counter() - t1
    timings["metrics_cpu_s"] = time.process_time() - c1
    timings["total_s"] = time.perf_counter() - t0
    timings["total_cpu_s"] = time.process_time() - c0
    return BacktestResult(
        strategies=names, signals=sig, trades=trades, equity=equity, gross=gross,
        metrics=metrics, deciles=deciles, blocks=blocks, start=panel.times[t_start],
        end=panel.times[t_end], mode=mode, model_uri=model_uri, notes=notes, timings=timings,
        n_trials=n_trials, predictions=wfp,
        book_risk=None if light else pd.DataFrame({n: paths[n]["book_risk"] for n in names},
                                                  index=idx),
        stress_loss=None if light else pd.DataFrame({n: paths[n]["stress_loss"] for n in names},
                                                    index=idx),
    )  # fmt: skip


def decision_line(n_taken: int, n: int, best_bp: float, metrics: dict[str, float]) -> str:
    """The backtest's one line on the gate: what cleared costs, and what it realised.

    ``metrics`` holds ``model.decision_taken_net_bp`` and its day-block interval (absent in a
    light backtest) and ``model.taken_net_bp_expected``. An interval of trades entered on one
    day is none (a zero-width one would say the mean is known exactly).
    """
    got = metrics.get("model.decision_taken_net_bp", np.nan)
    lo, hi = (metrics.get(f"model.decision_taken_net_bp_ci_{s}", np.nan)
              for s in ("low", "high"))
    band = ci_text(lo, hi, "all entered on one day")
    record = (f"; what it took realised {got:+.1f} bp a divergence at unit size {band} against "
              f"{metrics.get('model.taken_net_bp_expected', np.nan):+.1f} expected"
              if n_taken and np.isfinite(got) else "")
    return (f"decision: {n_taken} of {n} divergences clear costs "
            f"({100 * n_taken / n if n else 0:.2f}%); best lower bound "
            + (f"{best_bp:+.1f} bp" if np.isfinite(best_bp) else "n/a") + record)
