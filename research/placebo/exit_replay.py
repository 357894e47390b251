"""Causal replay of every naive trade's timing on one seed's placebo market.

The exit signal is the first close after the signal bar where the frozen z' crosses a barrier
(or the time stop; correlation and end-of-data exits are skipped), the entry fills at the next
open, the exit at the open after the exit signal. Also: what a one-bar
look-ahead in the fills would earn (entry at the open of the signal bar, exit at the open of the
exit-signal bar)::

    python research/placebo/exit_replay.py 101 [--days 600]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from common import NAIVE

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.demo import DEMO_CONFIG
from revertible.episodes import build_episodes
from revertible.synthetic import generate_market


def main(argv: list[str] | None = None) -> int:
    """Replay one seed's naive trades causally; print how many match and the look-ahead gains."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--days", type=int, default=600, help="days of hourly bars")
    args = ap.parse_args(argv)
    seed = args.seed
    cfg = load_config(DEMO_CONFIG, [], data="unused")
    panel, _ = generate_market(n_assets=16, n_bars=args.days * 24, seed=seed, pairs=[])
    ep = build_episodes(panel, cfg)
    r = run_backtest(cfg, panel, episodes=ep)
    tr = r.trades[r.trades.strategy.isin(NAIVE)].copy()
    tr["signal_time"] = pd.to_datetime(tr["signal_time"], utc=True)
    key = ["asset_a", "asset_b", "entry_time"]
    tr = tr.merge(
        ep[key + ["spread_mean", "spread_std"]].rename(columns={"entry_time": "signal_time"}),
        on=["asset_a", "asset_b", "signal_time"],
        how="left",
    )
    pos = pd.Series(np.arange(panel.n_bars), index=panel.times)
    col = {a: i for i, a in enumerate(panel.assets)}
    logc = np.log(panel.close)
    H, tp, stop = cfg.label.horizon, cfg.label.exit, cfg.label.stop
    ctp, cst = cfg.continue_.take_profit, cfg.continue_.stop
    Hc = cfg.continue_.horizon or H
    ok = bad = skipped = 0
    real = []
    for row in tr.itertuples(index=False):
        if row.exit_reason in ("correlation", "end_of_data"):
            skipped += 1
            continue
        t = pos[row.signal_time]
        a, b = col[row.asset_a], col[row.asset_b]
        cont = row.direction == "continue"
        sgn = np.sign(row.z_entry)
        h = Hc if cont else H
        j_end = min(t + h, panel.n_bars - 1)
        zz = (
            sgn
            * (logc[t + 1 : j_end + 1, a] - row.beta * logc[t + 1 : j_end + 1, b] - row.spread_mean)
            / row.spread_std
        )
        if cont:
            hit = (zz >= ctp) | (zz <= cst)
        else:
            hit = (zz <= tp) | (zz >= stop)
        js = np.flatnonzero(np.isfinite(zz) & hit)
        j = t + 1 + js[0] if len(js) else t + h
        x = j + 1
        while not (np.isfinite(panel.open[x, a]) and np.isfinite(panel.open[x, b])):
            x += 1
        e_ok = pos[row.entry_time] == t + 1
        x_ok = pos[row.exit_time] == x and pos[row.exit_signal_time] == j
        if e_ok and x_ok:
            ok += 1
        else:
            bad += 1
        # one-bar look-ahead fills (entry at open t, exit at open j), per unit gross notional
        sa = 1.0 if row.side_a == "long" else -1.0
        sb = 1.0 if row.side_b == "long" else -1.0
        na, nb = row.notional_a, row.notional_b

        def g(e_, x_, sa=sa, sb=sb, na=na, nb=nb, a=a, b=b):
            """Gross return per unit of gross notional, entry at the open of e_, exit at x_."""
            return (
                sa * na * (panel.open[x_, a] / panel.open[e_, a] - 1)
                + sb * nb * (panel.open[x_, b] / panel.open[e_, b] - 1)
            ) / (na + nb)

        real.append((row.strategy, 1e4 * g(t + 1, x), 1e4 * g(t, x), 1e4 * g(t + 1, j)))
    print(
        f"seed {seed}: timing reproduced {ok}, differ {bad}, "
        f"skipped (correlation/end_of_data) {skipped}"
    )
    cols = ["strategy", "causal_bp", "entry_at_open_t_bp", "exit_at_open_j_bp"]
    d = pd.DataFrame(real, columns=cols)
    print(d.groupby("strategy").mean().round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
