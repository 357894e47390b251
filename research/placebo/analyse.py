"""Per-seed table of a placebo batch: replay check, the generator's predicted gross, pooled.

The prediction is each leg's convexity (half its conditional variance) and drift summed over the
held bars, from the generator's own per-bar moments (:func:`revertible.synthetic.factor_returns`
replayed from the seed)::

    python research/placebo/analyse.py batch.pkl [--days 600]   # writes batch_analysed.pkl
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np
import pandas as pd
from scipy import stats

from revertible.synthetic import factor_returns

COLS = ["trades", "gross_bp", "net_bp", "cost_bp", "lin_bp", "conv_bp", "pred_bp", "pred_conv_bp",
        "pred_drift_bp", "gross_minus_pred", "hold_bars"]


def analyse_seed(seed: int, tr: pd.DataFrame, n_bars: int) -> pd.DataFrame:
    """One seed's trades with predicted drift and convexity and their gross, costs, in bp."""
    f = factor_returns(np.random.default_rng(seed), n_bars, 16)
    cd = np.cumsum(np.broadcast_to(f.drift, f.variance.shape), axis=0)
    cv = np.cumsum(f.variance / 2, axis=0)
    col = {f"{c * 3}/USDT": i for i, c in enumerate("ABCDEFGHIJKLMNOP")}
    ia = tr["asset_a"].map(col).to_numpy()
    ib = tr["asset_b"].map(col).to_numpy()
    e, x = tr["e_bar"].to_numpy(), tr["x_bar"].to_numpy()
    x_last = np.where(tr["exit_reason"] == "end_of_data", x, x - 1)  # last increment included

    def leg(c, j):
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
    return tr


def seed_rows(seed: int, tr: pd.DataFrame) -> list[dict]:
    """One row per strategy of a seed: the means over its trades."""
    return [{"seed": seed, "strategy": s, "trades": len(g), "gross_bp": g.gross_bp.mean(),
             "net_bp": g.net_bp.mean(), "cost_bp": g.cost_bp.mean(), "lin_bp": g.lin_bp.mean(),
             "conv_bp": g.conv_bp.mean(), "pred_bp": (g.pred_drift_bp + g.pred_conv_bp).mean(),
             "pred_conv_bp": g.pred_conv_bp.mean(), "pred_drift_bp": g.pred_drift_bp.mean(),
             "gross_minus_pred": (g.gross_bp - g.pred_drift_bp - g.pred_conv_bp).mean(),
             "hold_bars": g.hold_bars.mean(), "max_replay_err": g.replay_err.max()}
            for s, g in tr.groupby("strategy")]


def main(argv: list[str] | None = None) -> int:
    """Analyse a batch from ``placebo.py``; print the tables, pickle ``(table, trades)``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", help="pickle from placebo.py")
    ap.add_argument("--days", type=int, default=600, help="days per market, as in placebo.py")
    args = ap.parse_args(argv)
    with open(args.batch, "rb") as fh:
        res = pickle.load(fh)
    rows, allt = [], []
    for seed, tr in res.items():
        tr = analyse_seed(seed, tr, args.days * 24)
        allt.append(tr)
        rows += seed_rows(seed, tr)
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print(t.round(2).to_string(index=False))
    print("\npooled: mean of per-seed means, (s.e. = sd over seeds / sqrt(n_seeds))")
    for s, g in t.groupby("strategy"):
        k = len(g)
        out = {c: f"{g[c].mean():+.2f} ({g[c].std(ddof=1) / np.sqrt(k):.2f})" for c in COLS}
        print(s, k, "seeds", out)
        gm = g.gross_bp
        half = stats.t.ppf(0.95, k - 1) * gm.std(ddof=1) / np.sqrt(k)
        lo, hi = gm.mean() - half, gm.mean() + half
        print(f"   gross 90% t-interval [{lo:+.2f}, {hi:+.2f}]")
    a = pd.concat(allt)
    print("\nmax replay error (rel. to notional):", a.replay_err.max(), "trades", len(a))
    with open(args.batch.replace(".pkl", "_analysed.pkl"), "wb") as fh:
        pickle.dump((t, a), fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
