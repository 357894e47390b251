"""Replay ``paper`` run by run over a month and compare the ledger with one backtest of it.

A generated market that trades (``configs/demo.yaml`` at perpetual maker costs, decision
confidence 0.6, a small model), the ledger run every ``--step`` over the month before the last
``--tail-days`` of the data, each run seeing the data cut at its bar; then the ledger's trades
against ``run_backtest(..., since=start, until=end)`` on the data cut at the month's end, every
column (README "Running it live", "Paper details").

Usage::

    PYTHONPATH=src python research/paper_replay.py [--step 1h] [--days 90] [--seed 11]
    PYTHONPATH=src python research/paper_replay.py --shared ../shared/data/binance-futures-1h-2024

``--shared DIR``: the shared perpetuals instead (``configs/binance-perp-1h.yaml``, maker fills
and a gate loose enough to trade there, the month from 2024-08-08, after the model's holdout
start).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from revertible.backtest import TRADE_COLUMNS, run_backtest
from revertible.config import load_config
from revertible.data import load_panel
from revertible.synthetic import generate_market, write_market
from revertible.tracking import load_model
from revertible.workflows import paper_run, paper_summary, read_ledger, train


def main() -> None:
    """Run the replay and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", default="1h", help="time between runs (pandas offset)")
    ap.add_argument("--days", type=int, default=90, help="length of the generated market")
    ap.add_argument("--tail-days", type=int, default=4, help="data after the month")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--shared", type=Path, default=None, help="the shared perpetuals folder")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="paper-replay-"))
    sets = [f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
            "tracking.registered_model=paper-replay", "costs.fill=maker"]
    if args.shared is None:
        market, truth = generate_market(n_assets=10, n_bars=24 * args.days, seed=args.seed)
        write_market(root / "data", market, truth)
        sets += ["model.n_estimators=20", "cv.n_folds=3", "model.calibration=sigmoid",
                 "costs.venue=perp", "decision.confidence=0.6"]
        cfg = load_config("configs/demo.yaml", sets, data=str(root / "data"))
    else:
        sets += ["decision.confidence=0.51", "decision.drift_days=null", "decision.shrinkage=0",
                 "decision.min_bin_trades=2"]
        cfg = load_config("configs/binance-perp-1h.yaml", sets, data=str(args.shared))
    panel = load_panel(cfg.data)
    end = panel.times[-1] - pd.Timedelta(days=args.tail_days)
    start = end - pd.Timedelta(days=30)
    if args.shared is not None:
        start = pd.Timestamp("2024-08-08", tz="UTC")
        end = start + pd.Timedelta(days=30) - pd.Timedelta(hours=1)
    # the model knows the data before the month only (its holdout ends before it on the shared
    # perpetuals too): a ledger over its training divergences would be in sample
    res = train(cfg, panel=panel.cut(start - panel.freq), promote=True)
    model = load_model(res["model_uri"], cfg.tracking.uri)
    ledger = root / "ledger.sqlite"
    cuts = list(pd.date_range(start, end, freq=args.step))
    cuts += [end] if cuts[-1] != end else []
    t0, took = time.time(), []
    for i, t in enumerate(cuts):
        a = time.time()
        rep = paper_run(cfg, ledger, model=model, model_uri=res["model_uri"],
                        panel=panel.cut(t), since=start if i == 0 else None)
        took.append(time.time() - a)
    print(f"{len(cuts)} runs in {time.time() - t0:.1f} s; per run median "
          f"{np.median(took):.3f} s, max {max(took):.3f} s")
    print("\n".join(ln for ln in paper_summary(rep, cfg.sizing.capital)
                    if not ln.startswith("  ")))
    ref = run_backtest(cfg, panel.cut(end), model=model, since=start, until=end,
                       strategies=("model",))
    key = ["entry_time", "asset_a", "asset_b"]
    want = ref.trades[ref.trades["strategy"] == "model"].sort_values(key).reset_index(drop=True)
    got = read_ledger(ledger).trades.sort_values(key).reset_index(drop=True)
    worst, differ = 0.0, []
    for c in TRADE_COLUMNS:
        x, y = got[c], want[c]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            d = np.abs(x.to_numpy(float) - y.to_numpy(float))
            worst = max(worst, float(np.nanmax(d)) if len(d) else 0.0)
        elif list(x.astype(str)) != list(y.astype(str)):
            differ.append(c)
    print(f"ledger {len(got)} trades ({int((got['status'] == 'open').sum())} open), backtest "
          f"{len(want)}; largest difference {worst:g}; columns that differ: {differ or 'none'}; "
          f"P&L {got['pnl'].sum():,.6f} vs {want['pnl'].sum():,.6f}, fees "
          f"{got['fees'].sum():,.6f} vs {want['fees'].sum():,.6f}, funding "
          f"{got['funding'].sum():,.6f} vs {want['funding'].sum():,.6f}")


if __name__ == "__main__":
    main()
