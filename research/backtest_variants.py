"""Walk-forward once, then replay the same out-of-sample predictions under other costs.

The walk-forward models do not depend on costs, so one walk-forward run fixes every
probability and calibrated outcome (each block's return calibrator); each variant
(``--set`` overrides, e.g. ``costs.fill=maker`` or ``backtest.rebalance_drift=0.008``) is
then a replay with those predictions over the same range, decided again at its own costs.
Prints one row per strategy and variant as JSON lines and a markdown table.

    python research/backtest_variants.py configs/binance-spot-1h.yaml \
        --variant taker= --variant maker=costs.fill=maker

The configs read the data from ``$REVERTIBLE_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from revertible.backtest import OUTCOMES, run_backtest
from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes

COLS = ("trades", "net_bp_per_trade", "net_bp_per_trade_ci_low", "net_bp_per_trade_ci_high",
        "sharpe", "max_drawdown", "deflated_sharpe", "total_return", "rebalances",
        "rebalance_cost", "borrow", "funding", "fees")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the walk-forward once and every variant after it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--variant", action="append", default=[],
                    help="name=override[;override...] (empty: the config as is)")
    ap.add_argument("--set", action="append", default=[], help="override for every run")
    args = ap.parse_args(argv)
    base = load_config(args.config, args.set)
    panel = load_panel(base.data)
    t0 = time.perf_counter()
    eps = build_episodes(panel, base)
    t1 = time.perf_counter()
    wf = run_backtest(base, panel, episodes=eps, walk_forward=True)
    t2 = time.perf_counter()
    print(json.dumps({"episodes_s": t1 - t0, "walk_forward_s": t2 - t1, **wf.timings}))
    prob = np.full(len(eps), np.nan)
    prob[wf.signals.index.to_numpy()] = wf.signals["probability"].to_numpy(float)
    heads = pd.DataFrame(np.nan, index=eps.index, columns=list(OUTCOMES))
    heads.loc[wf.signals.index] = wf.signals[list(OUTCOMES)].to_numpy(float)
    print(json.dumps({"variant": "walk_forward", **{k: v for k, v in wf.metrics.items()
                                                     if ".return_" in k or ".decision" in k
                                                     or "abstention" in k}}))
    rows = []
    for spec in args.variant or ["as_is="]:
        name, _, ov = spec.partition("=")
        cfg = load_config(args.config, args.set + [o for o in ov.split(";") if o])
        t3 = time.perf_counter()
        res = run_backtest(cfg, panel, episodes=eps, probabilities=prob, outcomes=heads,
                           since=wf.start,
                           until=wf.signals["entry_time"].max())  # fmt: skip
        for s in [x for x in res.strategies if "_costs" not in x]:
            row = {"variant": name, "strategy": s,
                   **{c: res.metrics.get(f"{s}.{c}", float("nan")) for c in COLS}}
            rows.append(row)
            print(json.dumps(row))
        print(json.dumps({"variant": name, **{k: v for k, v in res.metrics.items()
                                               if ".return_" in k or k.startswith("signals.")
                                               or ".decision" in k or "abstention" in k
                                               or "best_lower" in k}}))
        print(json.dumps({"variant": name, "replay_s": time.perf_counter() - t3,
                          "range": [str(res.start), str(res.end)]}))
    print("\n| variant | strategy | trades | net bp/trade [90% CI] | Sharpe | max DD | "
          "deflated Sharpe | rebalances |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['strategy']} | {r['trades']:.0f} | "
              f"{r['net_bp_per_trade']:.1f} [{r['net_bp_per_trade_ci_low']:.1f}, "
              f"{r['net_bp_per_trade_ci_high']:.1f}] | {r['sharpe']:.2f} | "
              f"{100 * r['max_drawdown']:.1f}% | {r['deflated_sharpe']:.3f} | "
              f"{r['rebalances']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
