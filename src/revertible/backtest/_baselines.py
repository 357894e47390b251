"""The spread-model baselines: does a cointegration filter or a Kalman hedge ratio help.

With ``backtest.spread_model_baselines`` two naive baselines are replayed beside the others, with
the same costs, exits, book and seeded random order:

* ``naive_coint``: ``naive_beta`` on the divergences whose pair's latest daily Engle-Granger
  p-value at the entry bar is ``<= universe.max_coint_pvalue`` (0.05 when that is null;
  :func:`revertible.episodes.episode_coint_pvalues`, trailing windows only);
* ``naive_kalman``: ``naive_beta`` on the divergences of the Kalman hedge ratio
  (``spread.beta_model: kalman``, :func:`revertible.episodes.kalman_config`): its own episodes,
  its own frozen beta, mean and std, so its own exits.

Both are point in time like the episodes they trade. Off by default: the daily tests and the
Kalman episodes cost tens of seconds on the shared spot data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._book import simulate
from ._signals import _exit_corr, _signals, continue_horizon, exit_paths, order_keys

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config
    from ..data import Panel

__all__ = ["SPREAD_MODEL_BASELINES", "spread_model_runs"]

SPREAD_MODEL_BASELINES = ("naive_coint", "naive_kalman")
"""The baselines :func:`spread_model_runs` adds (base names, before any cost multiplier)."""


def spread_model_runs(
    cfg: Config, panel: Panel, sig: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
    mults: list[float], mkt: Any, name: Any,
) -> dict[str, Any]:
    """``{strategy name: Run}`` of both baselines at every cost multiplier (module docstring).

    ``sig`` are the main run's signals (with their exit paths); ``name(base, mult)`` makes the
    strategy names; ``mkt`` is the main run's market (costs, funding, book risk).
    """
    from ..episodes import build_episodes, episode_coint_pvalues, kalman_config

    runs: dict[str, Any] = {}
    limit = cfg.universe.max_coint_pvalue or 0.05
    p = episode_coint_pvalues(panel, cfg, sig)
    coint = np.isfinite(p) & (p <= limit)
    rank = _rank(sig, cfg)
    beta_abs = np.abs(sig["beta"].to_numpy(float))
    no = np.zeros(len(sig), bool)
    kcfg = kalman_config(cfg)
    keps = build_episodes(panel, kcfg)
    ksig = _signals(panel, keps, start, end) if len(keps) else keps
    ksig = ksig.assign(probability=np.nan)  # no model scores these episodes
    if len(ksig):
        h_max = max(cfg.label.horizon, continue_horizon(cfg))
        corr = _exit_corr(panel, ksig["t"].to_numpy(np.int64), ksig["ia"].to_numpy(np.int64),
                          ksig["ib"].to_numpy(np.int64), cfg, h_max, None)  # fmt: skip
        ksig = ksig.join(exit_paths(panel, ksig, cfg, corr=corr))
        ksig = ksig.join(exit_paths(panel, ksig, cfg, corr=corr, continuation=True)
                         .add_prefix("c_"))  # fmt: skip
    for mult in mults:
        costs = cfg.costs.scaled(mult)
        n = name("naive_coint", mult)
        runs[n] = simulate(n, mult, sig, coint, no, None, False, beta_abs, rank, mkt, cfg, costs)
        if len(ksig):
            n = name("naive_kalman", mult)
            k_no = np.zeros(len(ksig), bool)
            runs[n] = simulate(n, mult, ksig, ~k_no, k_no, None, False,
                               np.abs(ksig["beta"].to_numpy(float)), _rank(ksig, cfg), mkt,
                               cfg, costs)  # fmt: skip
    return runs


def _rank(sig: pd.DataFrame, cfg: Config) -> np.ndarray:
    key = order_keys(sig, cfg.backtest.seed)
    return np.argsort(np.argsort(key, kind="stable"), kind="stable")
