"""Per-seed table, replay check, generator-compensator prediction, pooled over seeds.

Usage: python analyse.py BATCH.pkl [N_BARS]  (BATCH.pkl from placebo.py; default 600 days)
"""

import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import pandas as pd
from moments import true_moments

res = pickle.load(open(sys.argv[1], "rb"))
n_bars = int(sys.argv[2]) if len(sys.argv) > 2 else 600 * 24
rows, allt = [], []
for seed, tr in res.items():
    rets, var, drift = true_moments(seed, n_bars, 16)
    cd = np.cumsum(np.broadcast_to(drift, var.shape), axis=0)
    cv = np.cumsum(var / 2, axis=0)
    col = {f"{c * 3}/USDT": i for i, c in enumerate("ABCDEFGHIJKLMNOP")}
    ia = tr["asset_a"].map(col).to_numpy()
    ib = tr["asset_b"].map(col).to_numpy()
    e, x = tr["e_bar"].to_numpy(), tr["x_bar"].to_numpy()
    x_last = np.where(tr["exit_reason"] == "end_of_data", x, x - 1)  # last increment included

    def leg(c, j, x_last=x_last, e=e):
        """Sum of a per-bar quantity over the held increments e .. x_last of leg j."""
        return c[x_last, j] - c[e - 1, j]

    sa, sb, na, nb = (tr[k].to_numpy() for k in ("sa", "sb", "na", "nb"))
    tr = tr.copy()
    notional = na + nb
    tr["pred_drift_bp"] = 1e4 * (sa * na * leg(cd, ia) + sb * nb * leg(cd, ib)) / notional
    tr["pred_conv_bp"] = 1e4 * (sa * na * leg(cv, ia) + sb * nb * leg(cv, ib)) / notional
    tr["gross_bp"] = 1e4 * tr["gross_pnl"] / notional
    tr["cost_bp"] = 1e4 * (tr["fees"] + tr["slippage"] + tr["borrow"] + tr["funding"]) / notional
    tr["conv_bp"] = 1e4 * tr["conv"] / notional
    tr["lin_bp"] = 1e4 * tr["lin"] / notional
    tr["replay_err"] = np.abs(tr["replay_gross"] - tr["gross_pnl"]) / notional
    allt.append(tr)
    for s, g in tr.groupby("strategy"):
        rows.append(
            {
                "seed": seed,
                "strategy": s,
                "trades": len(g),
                "gross_bp": g.gross_bp.mean(),
                "net_bp": g.net_bp.mean(),
                "cost_bp": g.cost_bp.mean(),
                "lin_bp": g.lin_bp.mean(),
                "conv_bp": g.conv_bp.mean(),
                "pred_bp": (g.pred_drift_bp + g.pred_conv_bp).mean(),
                "pred_conv_bp": g.pred_conv_bp.mean(),
                "pred_drift_bp": g.pred_drift_bp.mean(),
                "gross_minus_pred": (g.gross_bp - g.pred_drift_bp - g.pred_conv_bp).mean(),
                "hold_bars": g.hold_bars.mean(),
                "max_replay_err": g.replay_err.max(),
            }
        )
t = pd.DataFrame(rows)
pd.set_option("display.width", 250)
pd.set_option("display.max_columns", 30)
print(t.round(2).to_string(index=False))
cols = [
    "trades",
    "gross_bp",
    "net_bp",
    "cost_bp",
    "lin_bp",
    "conv_bp",
    "pred_bp",
    "pred_conv_bp",
    "pred_drift_bp",
    "gross_minus_pred",
    "hold_bars",
]
print("\npooled: mean of per-seed means, (s.e. = sd over seeds / sqrt(n_seeds))")
for s, g in t.groupby("strategy"):
    k = len(g)
    out = {c: f"{g[c].mean():+.2f} ({g[c].std(ddof=1) / np.sqrt(k):.2f})" for c in cols}
    print(s, k, "seeds", out)
    gm = g.gross_bp
    lo, hi = gm.mean() + np.array([-1, 1]) * 1.796 * gm.std(ddof=1) / np.sqrt(k)  # t_{0.95,11}
    print(f"   gross 90% t-interval [{lo:+.2f}, {hi:+.2f}]")
a = pd.concat(allt)
print("\nmax replay error (rel. to notional):", a.replay_err.max(), "trades", len(a))
pickle.dump((t, a), open(sys.argv[1].replace(".pkl", "_analysed.pkl"), "wb"))
