"""What each strategy takes, in which direction, how large and in which order (the plans).

The model strategies are planned on calibrated outcomes (walk-forward block models, a
``--model`` with ``predict_outcomes``, given outcomes, or given scores calibrated on their own
earlier record): per cost multiplier, :func:`revertible.decision.decide` on the calibrated
outcomes at those costs (the cost model's round trip, so maker fills and the venue reach the
decision, plus the expected carry of :func:`revertible.decision.expected_carry`). ``model``
trades the decided direction (``none`` skipped) with the fractional-Kelly stake on the lower
bound under the per-trade cap (:func:`revertible.decision.unit_stakes`; continued trades with
the ``continue`` barriers); ``model_revert`` is the decision restricted to reversion
(``directions=("revert",)``) with its own stake; ``model_fixed_size`` trades ``model``'s
direction at the fixed size. Within a bar they take signals in descending lower bound (ties in
the seeded random order). ``decision.continue_max_score_quantile`` restricts the continuation
trade to divergences whose score lies in that bottom share of the held-out record.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..config import Config, CostConfig
from ..decision import OUTCOME_COLUMNS
from ._book import unit_sizes

__all__ = ["OUTCOMES", "Plan", "predict_block", "decided_plans", "decision_carry",
           "debiased_expected", "return_deciles",
           "return_decile_table"]  # fmt: skip

OUTCOMES = ("score_quantile", *OUTCOME_COLUMNS)
"""Calibrated outcome columns a decided backtest carries per signal (``predict_outcomes``)."""

class Plan(NamedTuple):
    """What one strategy takes from the signals (arrays aligned with them)."""

    take: np.ndarray  # the signals it wants
    cont: np.ndarray  # which of them trade the continuation
    units: pd.DataFrame | None  # unit stakes (:func:`unit_sizes`; None: the fixed notional)
    ratio: np.ndarray  # leg B / leg A of a fixed-size position
    key: np.ndarray  # order within a bar (ascending)


def predict_block(
    model: Any, features: pd.DataFrame, episodes: pd.DataFrame, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(probability, outcomes)`` of ``rows`` from ``model.predict_outcomes``.

    ``outcomes`` has the :data:`OUTCOMES` columns in order.
    """
    out = model.predict_outcomes(features.iloc[rows])
    return out["probability"].to_numpy(float), out[list(OUTCOMES)].to_numpy(float)


def _key(score: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Ascending order key: descending ``score`` (NaN last), ties by the random ``rank``."""
    order = np.lexsort((rank, -np.nan_to_num(score, nan=-np.inf)))
    key = np.empty(len(score), np.int64)
    key[order] = np.arange(len(score))
    return key


def _naive(sig: pd.DataFrame, rank: np.ndarray) -> dict[str, Plan]:
    n = len(sig)
    no, every = np.zeros(n, bool), np.ones(n, bool)
    beta_abs = np.abs(sig["beta"].to_numpy(float))
    return {
        "naive_beta": Plan(every, no, None, beta_abs, rank),
        "naive_continue": Plan(every, every, None, beta_abs, rank),
        "naive_1to1": Plan(every, no, None, np.ones(n), rank),
    }


def _stakes(sig: pd.DataFrame, dec: pd.DataFrame, take: np.ndarray, cfg: Config,
            costs: CostConfig) -> pd.DataFrame:  # fmt: skip
    """Unit stakes of the taken rows under decision ``dec`` (NaN elsewhere)."""
    base = sig.drop(columns=[c for c in dec.columns if c in sig.columns])
    rows = sig.index[take]
    return unit_sizes(base.loc[rows].join(dec.loc[rows]), cfg, costs).reindex(sig.index)


def decision_carry(sig: pd.DataFrame, cfg: Config, costs: CostConfig,
                   bar: pd.Timedelta) -> dict[str, np.ndarray]:  # fmt: skip
    """Expected carry of each signal's two trades (:func:`revertible.decision.expected_carry`).

    Funding rates are the signals' ``funding_a``/``funding_b`` (last known at entry) when
    present.
    """
    from ..decision import expected_carry, leg_ratios

    beta = sig["beta"].to_numpy(float)
    ratio = leg_ratios(cfg.sizing.split, beta, None, None)
    horizons = {"revert": cfg.label.horizon,
                "continue": cfg.continue_.horizon_or(cfg.label.horizon)}
    fa = sig["funding_a"].to_numpy(float) if "funding_a" in sig else None
    fb = sig["funding_b"].to_numpy(float) if "funding_b" in sig else None
    return expected_carry(sig["z_entry"].to_numpy(float), beta, ratio, costs, bar, horizons,
                          fa, fb)


def decided_plans(
    sig: pd.DataFrame, cfg: Config, costs: CostConfig, rank: np.ndarray,
    bar: pd.Timedelta = pd.Timedelta(hours=1),  # noqa: B008 - immutable
    reasons: bool = True,
) -> tuple[dict[str, Plan], pd.DataFrame]:
    """Plans of every strategy on calibrated signals at ``costs`` (module docstring).

    ``reasons``: write the decision's ``decision_reason`` texts (the caller keeps only one
    multiplier's decision table; the plans never read them).

    Returns the plans and ``model``'s decision (:data:`revertible.decision.DECISION_COLUMNS`
    on ``sig``'s index) with ``revert_only_direction``/``revert_only_expected`` of
    ``model_revert``.
    """
    from ..decision import decide

    heads = sig[list(OUTCOME_COLUMNS)]
    d = cfg.decision
    carry = decision_carry(sig, cfg, costs, bar)
    allow = None
    if d.continue_max_score_quantile is not None:
        q = sig["score_quantile"].to_numpy(float)
        allow = np.isfinite(q) & (q <= d.continue_max_score_quantile)
    dec = decide(heads, costs, d.confidence, cfg.sizing.min_edge, carry=carry,
                 allow_continue=allow, reasons=reasons)
    dec_r = decide(heads, costs, d.confidence, cfg.sizing.min_edge, directions=("revert",),
                   carry=carry, reasons=False)
    direction = dec["direction"].to_numpy()
    take = direction != "none"
    cont = direction == "continue"
    take_r = dec_r["direction"].to_numpy() == "revert"
    beta_abs = np.abs(sig["beta"].to_numpy(float))
    ratio = beta_abs if cfg.sizing.split == "beta" else np.ones(len(sig))
    key_m = _key(dec["expected_return_lower"].to_numpy(float), rank)
    key_r = _key(dec_r["expected_return_lower"].to_numpy(float), rank)
    plans = {
        "model": Plan(take, cont, _stakes(sig, dec, take, cfg, costs), ratio, key_m),
        "model_revert": Plan(take_r, np.zeros(len(sig), bool),
                             _stakes(sig, dec_r, take_r, cfg, costs), ratio, key_r),
        "model_fixed_size": Plan(take, cont, None, ratio, key_m),
        **_naive(sig, rank),
    }  # fmt: skip
    dec = dec.assign(revert_only_direction=dec_r["direction"],
                     revert_only_expected=dec_r["expected_return"])  # fmt: skip
    return plans, dec


def realised_nets(sig: pd.DataFrame, cfg: Config, costs: CostConfig,
                  bar: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Each divergence's realised net return at unit size: the decided direction's, the reversion's.

    The traded legs' realised gross return minus the venue's round trip and the same expected
    carry the decision charged (:func:`decision_carry`): what :func:`return_deciles` and
    :func:`debiased_expected` compare the expected return with.
    """
    from ..costs import round_trip_cost
    from ..decision import realised_net
    from ..episodes import outcome_targets

    c = round_trip_cost(costs)
    tg = outcome_targets(sig, cfg.sizing.split)
    carry = decision_carry(sig, cfg, costs, bar)
    return (realised_net(sig, tg["revert"], tg["continue"], c, carry),
            tg["revert"].to_numpy(float) - c - carry["revert"])


def return_deciles(sig: pd.DataFrame, cfg: Config, costs: CostConfig,
                   bar: pd.Timedelta) -> dict[str, float]:  # fmt: skip
    """Out-of-sample calibration of the decision over every scored signal.

    For ``model`` each signal's better direction (``best_direction``, taken or not), for
    ``model_revert`` the reversion trade: expected = the decision's net expected return,
    realised = that trade's realised gross return for the traded legs minus the round trip and
    the same expected carry (:func:`revertible.decision.decision_quality`). Metrics
    ``<strategy>.return_decile<k>_expected_bp`` / ``_realised_bp`` (k = 1 lowest expected),
    ``<strategy>.decision_slope``, ``.decision_rank_corr``, ``.decision_top_minus_median_bp``,
    ``.decided_n``, ``.decided_taken``, ``.abstention_rate``, ``.taken_net_bp_expected``, and
    ``.decision_taken_net_bp`` with its day-block bootstrap 90% interval (``_ci_low``,
    ``_ci_high``): the realised net return of every divergence the gate let through, at unit
    size, whatever the book's caps did with it.
    """
    from ..decision import decision_quality

    if not {"revert_return", "continue_return", "best_direction"} <= set(sig.columns):
        return {}
    real_m, real_r = realised_nets(sig, cfg, costs, bar)
    sets = {
        "model": (sig["expected_return"].to_numpy(float), real_m,
                  sig["direction"].to_numpy() != "none"),
        "model_revert": (sig["revert_expected"].to_numpy(float), real_r,
                         sig["revert_only_direction"].to_numpy() == "revert"),
    }
    from ._stats import bootstrap_mean_ci

    day = pd.DatetimeIndex(sig["entry_time"]).floor("D").asi8
    out: dict[str, float] = {}
    for name, (exp, real, taken) in sets.items():
        q = decision_quality(exp, real, taken)
        # every divergence the gate let through, at unit size (the book's caps aside), with a
        # day-block bootstrap 90% interval: does the gate pick trades that clear costs?
        sel = taken & np.isfinite(real)
        mean, lo, hi = bootstrap_mean_ci(real[sel] * 1e4, day[sel],
                                         n_samples=cfg.backtest.bootstrap_samples)
        out[f"{name}.decision_taken_net_bp"] = mean
        out[f"{name}.decision_taken_net_bp_ci_low"] = lo
        out[f"{name}.decision_taken_net_bp_ci_high"] = hi
        for k, v in q.items():
            if k.startswith("decile"):
                out[f"{name}.return_{k}"] = v
        out[f"{name}.decision_slope"] = q["decile_slope"]
        out[f"{name}.decision_rank_corr"] = q["decile_rank_corr"]
        out[f"{name}.decision_top_minus_median_bp"] = q["top_minus_median_bp"]
        out[f"{name}.decided_n"] = q["n"]
        out[f"{name}.decided_taken"] = q["n_taken"]
        out[f"{name}.abstention_rate"] = 1.0 - q["taken_rate"] if q["n"] else float("nan")
        out[f"{name}.taken_net_bp_expected"] = q["taken_net_bp_expected"]
    return out


def debiased_expected(sig: pd.DataFrame, cfg: Config, costs: CostConfig, bar: pd.Timedelta,
                      starts: pd.Series) -> np.ndarray:  # fmt: skip
    """``model``'s expected return corrected by the gate's own earlier record, block by block.

    ``decision.debias_expected``: each block (``starts``, the walk-forward blocks) adds the mean
    realised minus expected net return of the signals the gate took whose outcomes (both
    trades, :func:`revertible.model.outcome_end`) were known before it starts, when it is a
    shortfall over at least :data:`revertible.decision.RECORD_MIN_TRADES` of them
    (:func:`revertible.decision.record_shortfall`). Realised is what :func:`return_deciles`
    counts. The bound, and so what is taken, is unchanged.
    """
    from .. import decision
    from ..model import outcome_end

    real = realised_nets(sig, cfg, costs, bar)[0]
    exp = sig["expected_return"].to_numpy(float)
    ns = [pd.DatetimeIndex(x).as_unit("ns").asi8 for x in
          (sig["entry_time"], outcome_end(sig, cfg.label, cfg.continue_, bar), starts)]
    return exp + decision.record_shortfall(exp, real, sig["direction"].to_numpy() != "none",
                                           *ns, min_trades=decision.RECORD_MIN_TRADES)


def return_decile_table(metrics: dict[str, float], n_bins: int = 10) -> pd.DataFrame:
    """The deciles of :func:`return_deciles` as a table (empty without return heads).

    Columns ``decile``, ``<strategy> expected``, ``<strategy> realised`` (bp) for ``model`` and
    ``model_revert``.
    """
    cols: dict[str, list[float]] = {}
    for name in ("model", "model_revert"):
        for what in ("expected", "realised"):
            vals = [metrics.get(f"{name}.return_decile{k:02d}_{what}_bp") for k in
                    range(1, n_bins + 1)]  # fmt: skip
            if all(v is not None for v in vals):
                cols[f"{name} {what}"] = [float(v) for v in vals]  # type: ignore[arg-type]
    if not cols:
        return pd.DataFrame()
    return pd.DataFrame({"decile": list(range(1, n_bins + 1)), **cols})
