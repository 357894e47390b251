"""Independent replay of the naive trades on the shared spot data (since 2024-06-01 by default).

Backtests ``configs/binance-spot-1h.yaml`` on ``$REVERTIBLE_DATA`` (default ``../shared/data``
beside the repository), replays every naive trade's fills from the panel (:func:`common.replay`)
and prints, per strategy, the gross, net and convexity per trade and the largest replay error::

    python research/placebo/real.py [--since 2024-06-01] [--out real_trades.pkl]
"""

from __future__ import annotations

import argparse
import os
import pickle
import time

import numpy as np
from common import NAIVE, REPO, data_dir, replay

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.data import load_panel


def main(argv: list[str] | None = None) -> int:
    """Backtest the spot data, replay the naive trades, print the checks; optionally pickle."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--since", default="2024-06-01", help="first bar to trade (UTC)")
    ap.add_argument("--out", help="pickle the replayed trades here")
    args = ap.parse_args(argv)
    os.environ.setdefault("REVERTIBLE_DATA", str(data_dir()))
    cfg = load_config(REPO / "configs" / "binance-spot-1h.yaml", [])
    t0 = time.perf_counter()
    panel = load_panel(cfg.data)
    r = run_backtest(cfg, panel, since=args.since)
    print("backtest", f"{time.perf_counter() - t0:.0f}s", panel.close.shape)
    tr = r.trades[r.trades["strategy"].isin(NAIVE)].reset_index(drop=True)
    tr = tr.join(replay(tr, panel))
    notional = tr["na"] + tr["nb"]
    tr["replay_err"] = np.abs(tr["replay_gross"] - tr["gross_pnl"]) / notional
    tr["gross_bp"] = 1e4 * tr["gross_pnl"] / notional
    tr["conv_bp"] = 1e4 * tr["conv"] / notional
    # a trade whose sizing price (close of the signal bar) differs from the fill open: the gap
    col = {a: i for i, a in enumerate(panel.assets)}
    ia = tr["asset_a"].map(col).to_numpy()
    e = tr["e_bar"].to_numpy()
    tr["gap_a_bp"] = 1e4 * np.log(panel.open[e, ia] / panel.close[e - 1, ia])
    print(tr.groupby("strategy").agg(
        trades=("gross_bp", "size"), gross_bp=("gross_bp", "mean"), net_bp=("net_bp", "mean"),
        conv_bp=("conv_bp", "mean"), max_replay_err=("replay_err", "max"),
        rebalances=("rebalances", "sum")).to_string())
    print("exit reasons", tr.exit_reason.value_counts().to_dict())
    gap = np.abs(tr.gap_a_bp)
    print("|open_e - close_{e-1}| on leg A, bp: median", np.nanmedian(gap), "p99",
          np.nanpercentile(gap, 99))
    if args.out:
        with open(args.out, "wb") as fh:
            pickle.dump(tr, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
