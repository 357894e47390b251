"""Placebo: naive strategies on generated markets with no planted pair.

Usage: PYTHONPATH=src python placebo.py OUT.pkl SEED [SEED ...]
Saves the naive trades of each seed (1x costs) plus replay columns.
"""

import os
import pickle
import sys
import time

import numpy as np
import pandas as pd

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.demo import DEMO_CONFIG
from revertible.synthetic import generate_market

NAIVE = ("naive_beta", "naive_1to1", "naive_continue")
out_path = sys.argv[1]
cfg = load_config(DEMO_CONFIG, [], data="unused")


def replay(tr, panel):
    """Independent gross from panel opens/closes, qty and sides."""
    pos = {t: i for i, t in enumerate(panel.times)}
    col = {a: i for i, a in enumerate(panel.assets)}
    e = np.array([pos[t] for t in tr["entry_time"]])
    ia = tr["asset_a"].map(col).to_numpy()
    ib = tr["asset_b"].map(col).to_numpy()
    reason = tr["exit_reason"].to_numpy()
    x = np.array([pos.get(t, -1) for t in tr["exit_time"]])
    at_close = reason == "end_of_data"
    # end_of_data exits fill at the close of the bar before exit_time
    xbar = np.where(
        at_close,
        np.array([pos[t - panel.freq] if (t - panel.freq) in pos else -1 for t in tr["exit_time"]]),
        x,
    )
    oa, ob = panel.open[e, ia], panel.open[e, ib]
    xa = np.where(at_close, panel.close[xbar, ia], panel.open[np.maximum(x, 0), ia])
    xb = np.where(at_close, panel.close[xbar, ib], panel.open[np.maximum(x, 0), ib])
    sa = np.where(tr["side_a"] == "long", 1.0, -1.0)
    sb = np.where(tr["side_b"] == "long", 1.0, -1.0)
    qa, qb = tr["qty_a"].to_numpy(float), tr["qty_b"].to_numpy(float)
    ga, gb = sa * qa * (xa - oa), sb * qb * (xb - ob)
    la, lb = np.log(xa / oa), np.log(xb / ob)
    na, nb = qa * oa, qb * ob
    lin = sa * na * la + sb * nb * lb
    hold = xbar - e + np.where(at_close, 1, 0)
    return pd.DataFrame(
        {
            "replay_gross": ga + gb,
            "lin": lin,
            "conv": ga + gb - lin,
            "la": la,
            "lb": lb,
            "hold_bars": hold,
            "e_bar": e,
            "x_bar": xbar,
            "sa": sa,
            "sb": sb,
            "na": na,
            "nb": nb,
        },
        index=tr.index,
    )


res = {}
for seed in map(int, sys.argv[2:]):
    t0 = time.perf_counter()
    panel, _ = generate_market(
        n_assets=16, n_bars=int(os.environ.get("PLACEBO_DAYS", "600")) * 24, seed=seed, pairs=[]
    )
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
    res[seed] = tr
    m = r.metrics
    print(
        seed,
        f"{time.perf_counter() - t0:.0f}s",
        {s: (int(m[f"{s}.trades"]), round(m[f"{s}.net_bp_per_trade"], 1)) for s in NAIVE},
        flush=True,
    )
pickle.dump(res, open(out_path, "wb"))
