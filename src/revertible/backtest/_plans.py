"""What each strategy takes, in which direction, how large and in which order (the plans).

Two ways the model strategies are planned, by what the signals carry:

* **Decided** (a model with return heads: walk-forward blocks, ``--model`` with
  ``predict_outcomes``, or given ``outcomes``): per cost multiplier,
  :func:`revertible.decision.decide` on the heads' gross moments at those costs (the cost
  model's round trip, :func:`revertible.costs.round_trip_cost`, so maker fills and the venue
  reach the decision). ``model`` trades the decided direction (``none`` skipped) with the
  fractional-Kelly stake of :func:`revertible.decision.unit_stakes` (continued trades with the
  ``continue`` barriers); ``model_revert`` is the decision restricted to reversion
  (``directions=("revert",)``) with its own stake; ``model_fixed_size`` trades ``model``'s
  direction at the fixed notional. Within a bar they take signals in descending expected net
  return (ties in the seeded random order).
* **Probability only** (given probabilities, a scorer with ``predict_proba`` only): the
  probability filter of :func:`._book.model_filter` and the probability-only stake, ranked by
  probability; a ``direction`` column on the signals, when given, is followed (continued rows at
  the fixed notional).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import Config, CostConfig
from ._book import model_filter, unit_sizes

__all__ = ["OUTCOME_MOMENTS", "predict_block", "decided_plans", "probability_plans",
           "return_deciles", "return_decile_table"]  # fmt: skip

OUTCOME_MOMENTS = ("revert_mean", "revert_m2", "continue_mean", "continue_m2")
"""Gross return-head moments a decided backtest carries per signal (``predict_outcomes``)."""

Plan = tuple[np.ndarray, np.ndarray, "pd.DataFrame | None", np.ndarray, np.ndarray]
"""take, continued, units (None: fixed size), leg ratio, order key (ascending)."""


def predict_block(
    model: Any, features: pd.DataFrame, episodes: pd.DataFrame, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(probability, moments)`` of ``rows`` from ``model.predict_outcomes``.

    The heads need the episodes' ``spread_std`` and ``beta`` beside the features (their risk
    scale); ``moments`` has the :data:`OUTCOME_MOMENTS` columns in order.
    """
    X = features.iloc[rows].assign(spread_std=episodes["spread_std"].to_numpy(float)[rows],
                                   beta=episodes["beta"].to_numpy(float)[rows])  # fmt: skip
    out = model.predict_outcomes(X)
    return out["probability"].to_numpy(float), out[list(OUTCOME_MOMENTS)].to_numpy(float)


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
        "naive_beta": (every, no, None, beta_abs, rank),
        "naive_continue": (every, every, None, beta_abs, rank),
        "naive_1to1": (every, no, None, np.ones(n), rank),
    }


def _stakes(sig: pd.DataFrame, dec: pd.DataFrame, take: np.ndarray, cfg: Config,
            costs: CostConfig) -> pd.DataFrame:  # fmt: skip
    """Unit stakes of the taken rows under decision ``dec`` (NaN elsewhere)."""
    base = sig.drop(columns=[c for c in dec.columns if c in sig.columns])
    rows = sig.index[take]
    return unit_sizes(base.loc[rows].join(dec.loc[rows]), cfg, costs).reindex(sig.index)


def decided_plans(
    sig: pd.DataFrame, cfg: Config, costs: CostConfig, rank: np.ndarray
) -> tuple[dict[str, Plan], pd.DataFrame]:
    """Plans of every strategy on decided signals at ``costs`` (module docstring).

    Returns the plans and ``model``'s decision (:data:`revertible.decision.DECISION_COLUMNS`
    on ``sig``'s index) with ``revert_only_direction``/``revert_only_expected`` of
    ``model_revert``.
    """
    from ..decision import decide

    heads = sig[list(OUTCOME_MOMENTS)]
    edge = cfg.sizing.min_edge
    dec = decide(heads, costs, edge)
    dec_r = decide(heads, costs, edge, directions=("revert",))
    direction = dec["direction"].to_numpy()
    take = direction != "none"
    cont = direction == "continue"
    take_r = dec_r["direction"].to_numpy() == "revert"
    beta_abs = np.abs(sig["beta"].to_numpy(float))
    key_m = _key(dec["expected_return"].to_numpy(float), rank)
    key_r = _key(dec_r["expected_return"].to_numpy(float), rank)
    plans = {
        "model": (take, cont, _stakes(sig, dec, take, cfg, costs), beta_abs, key_m),
        "model_revert": (take_r, np.zeros(len(sig), bool), _stakes(sig, dec_r, take_r, cfg, costs),
                         beta_abs, key_r),
        "model_fixed_size": (take, cont, None, beta_abs, key_m),
        **_naive(sig, rank),
    }  # fmt: skip
    dec = dec.assign(revert_only_direction=dec_r["direction"],
                     revert_only_expected=dec_r["expected_return"])  # fmt: skip
    return plans, dec


def probability_plans(
    sig: pd.DataFrame, cfg: Config, costs: CostConfig, rank: np.ndarray, scored: bool
) -> dict[str, Plan]:
    """Plans on probability-only signals (module docstring)."""
    n = len(sig)
    no = np.zeros(n, bool)
    direction = (sig["direction"].astype(str).to_numpy() if "direction" in sig
                 else np.full(n, "revert", dtype=object))  # fmt: skip
    is_cont = direction == "continue"
    beta_abs = np.abs(sig["beta"].to_numpy(float))
    key = _key(sig["probability"].to_numpy(float), rank)
    filt, units, units_m = no, None, None
    if scored:
        filt = model_filter(sig, cfg, costs)
        units = unit_sizes(sig[filt], cfg, costs).reindex(sig.index)
        units_m = units.mask(pd.Series(is_cont, index=sig.index), np.nan)  # continued: fixed
    by_dir = scored & ((filt & (direction == "revert")) | is_cont)
    return {
        "model": (by_dir, is_cont & by_dir, units_m, beta_abs, key),
        "model_revert": (filt, no, units, beta_abs, key),
        "model_fixed_size": (by_dir, is_cont & by_dir, None, beta_abs, key),
        **_naive(sig, rank),
    }


def return_deciles(sig: pd.DataFrame, costs: CostConfig, n_bins: int = 10) -> dict[str, float]:
    """Out-of-sample deciles of expected vs realised *net* return of every decided signal.

    For ``model`` the better direction of each signal (the one ``decide`` ranks first, taken or
    not), for ``model_revert`` the reversion trade: expected = the decision's net expected
    return, realised = the episode's ``<direction>_return`` minus the round trip
    (:func:`revertible.costs.round_trip_cost` of ``costs``). Metrics
    ``<strategy>.return_decile<k>_expected_bp`` / ``_realised_bp`` (k = 1 lowest expected),
    ``<strategy>.return_rank_ic`` and ``<strategy>.return_n``.
    """
    from scipy.stats import spearmanr

    from ..costs import round_trip_cost

    if not {"revert_return", "continue_return"} <= set(sig.columns):
        return {}
    c = round_trip_cost(costs)
    rev = sig["revert_return"].to_numpy(dtype=float, na_value=np.nan)
    con = sig["continue_return"].to_numpy(dtype=float, na_value=np.nan)
    follow = (sig["continue_expected"].to_numpy(float)
              > sig["revert_expected"].to_numpy(float))  # fmt: skip
    sets = {
        "model": (sig["expected_return"].to_numpy(float), np.where(follow, con, rev) - c),
        "model_revert": (sig["revert_expected"].to_numpy(float), rev - c),
    }
    out: dict[str, float] = {}
    for name, (exp, real) in sets.items():
        ok = np.isfinite(exp) & np.isfinite(real)
        e, r = exp[ok], real[ok]
        out[f"{name}.return_n"] = float(len(e))
        if len(e) < n_bins:
            continue
        const = np.ptp(e) == 0.0 or np.ptp(r) == 0.0
        out[f"{name}.return_rank_ic"] = (float("nan") if const
                                         else float(spearmanr(e, r).statistic))  # fmt: skip
        for k, idx in enumerate(np.array_split(np.argsort(e, kind="stable"), n_bins), start=1):
            out[f"{name}.return_decile{k:02d}_expected_bp"] = float(e[idx].mean() * 1e4)
            out[f"{name}.return_decile{k:02d}_realised_bp"] = float(r[idx].mean() * 1e4)
    return out


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
