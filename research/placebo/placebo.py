"""Placebo: the naive strategies on generated markets with no planted pair.

Every spread of such a market is a random walk in log prices, so a reversion trade earns 0 gross
in expectation up to the convexity and drift of its legs. Saves each seed's naive trades (1x
costs) with an independent replay of their fills (:func:`common.replay`) and each leg's ex-ante
variance, for ``analyse.py``::

    python research/placebo/placebo.py batch.pkl 101 102 103 [--days 600]
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import pandas as pd
from common import NAIVE, replay

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.demo import DEMO_CONFIG
from revertible.synthetic import generate_market


def run_seed(cfg, seed: int, days: int) -> pd.DataFrame:
    """The naive trades of one placebo market, replayed, with each leg's ex-ante variance."""
    panel, _ = generate_market(n_assets=16, n_bars=days * 24, seed=seed, pairs=[])
    r = run_backtest(cfg, panel)
    tr = r.trades[r.trades["strategy"].isin(NAIVE)].reset_index(drop=True)
    tr = tr.join(replay(tr, panel))
    tr["seed"] = seed
    # ex-ante variance per leg: trailing 72-bar mean squared log return at entry
    lr = np.diff(np.log(panel.close), axis=0, prepend=np.nan)
    v = pd.DataFrame(lr**2).rolling(72, min_periods=48).mean().to_numpy()
    col = {a: i for i, a in enumerate(panel.assets)}
    ia = tr["asset_a"].map(col).to_numpy()
    ib = tr["asset_b"].map(col).to_numpy()
    e = tr["e_bar"].to_numpy() - 1
    tr["var_a"], tr["var_b"] = v[e, ia], v[e, ib]
    m = r.metrics
    print(seed, {s: (int(m[f"{s}.trades"]), round(m[f"{s}.net_bp_per_trade"], 1)) for s in NAIVE},
          flush=True)
    return tr


def main(argv: list[str] | None = None) -> int:
    """Run the placebo seeds and pickle ``{seed: trades}`` to ``out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="pickle file for {seed: trades}")
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--days", type=int, default=600, help="days of hourly bars per market")
    args = ap.parse_args(argv)
    cfg = load_config(DEMO_CONFIG, [], data="unused")
    res = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        res[seed] = run_seed(cfg, seed, args.days)
        print(f"seed {seed}: {time.perf_counter() - t0:.0f}s", flush=True)
    with open(args.out, "wb") as fh:
        pickle.dump(res, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
