"""Does a cointegration filter or a Kalman hedge ratio help? Naive trades per spread model.

Usage::

    python research/spread_models.py [--config configs/binance-spot-1h.yaml] [--set key=value ...]

Every closed divergence is traded naively (revert, leg B ``|beta|`` x leg A) under the config's
costs, for three episode sets: ``naive`` (rolling-OLS hedge ratio, every pair), ``naive_coint``
(the same episodes whose pair's latest daily Engle-Granger p-value at entry is at most
``universe.max_coint_pvalue``, 0.05 if null) and ``naive_kalman`` (the Kalman hedge ratio's
episodes). Prints trades, net return per trade (bp of gross notional, taker fills) with its
standard error, and the reversion rate. A per-trade comparison, not the backtest's book (no
sizing, no concurrency limit): the engine's ``naive_coint``/``naive_kalman`` strategies give the
Sharpe and deflated Sharpe.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from revertible.backtest import compare_fill_models
from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes, episode_coint_pvalues, kalman_config


def main(argv: list[str] | None = None) -> int:
    """Print the spread-model table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, overrides=args.sets)
    panel = load_panel(cfg.data)
    t0 = time.perf_counter()
    ols = build_episodes(panel, cfg)
    t1 = time.perf_counter()
    p = episode_coint_pvalues(panel, cfg, ols)
    t2 = time.perf_counter()
    kal = build_episodes(panel, kalman_config(cfg))
    t3 = time.perf_counter()
    cap = cfg.universe.max_coint_pvalue or 0.05
    sets = {"naive": ols, "naive_coint": ols[p <= cap], "naive_kalman": kal}
    rows = []
    for name, eps in sets.items():
        taker = compare_fill_models(panel, eps, cfg.costs).set_index("model").loc["taker"]
        closed = eps[eps["exit_reason"] != "open"]
        rows.append({"strategy": name, "episodes": len(eps), "trades": int(taker["trades"]),
                     "revert_rate": float(closed["label"].astype(float).mean()),
                     "net_bp": taker["net_bp"], "net_bp_se": taker["net_bp_se"]})  # fmt: skip
    print(f"{panel.n_assets} assets, {panel.n_bars} bars of {panel.meta.get('timeframe')}; "
          f"episodes {t1 - t0:.1f} s (OLS), {t3 - t2:.1f} s (Kalman), coint p-values "
          f"{t2 - t1:.1f} s; coint cap {cap:g}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
