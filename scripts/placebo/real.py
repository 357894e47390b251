"""Independent replay of the naive trades on the shared spot data (since 2024-06-01)."""

import os
import pickle
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.data import load_panel

os.environ.setdefault("REVERTIBLE_DATA", "/work/shared/data")
cfg = load_config("configs/binance-spot-1h.yaml", [])
t0 = time.perf_counter()
panel = load_panel(cfg.data)
r = run_backtest(cfg, panel, since="2024-06-01")
print("backtest", f"{time.perf_counter() - t0:.0f}s", panel.close.shape)
NAIVE = ("naive_beta", "naive_1to1", "naive_continue")
tr = r.trades[r.trades["strategy"].isin(NAIVE)].reset_index(drop=True)
pos = {t: i for i, t in enumerate(panel.times)}
col = {a: i for i, a in enumerate(panel.assets)}
e = np.array([pos[t] for t in tr["entry_time"]])
ia = tr["asset_a"].map(col).to_numpy()
ib = tr["asset_b"].map(col).to_numpy()
at_close = (tr["exit_reason"] == "end_of_data").to_numpy()
xo = np.array([pos.get(t, -1) for t in tr["exit_time"]])
xc = np.array([pos.get(t - panel.freq, -1) for t in tr["exit_time"]])
xa = np.where(at_close, panel.close[xc, ia], panel.open[np.maximum(xo, 0), ia])
xb = np.where(at_close, panel.close[xc, ib], panel.open[np.maximum(xo, 0), ib])
oa, ob = panel.open[e, ia], panel.open[e, ib]
sa = np.where(tr["side_a"] == "long", 1.0, -1.0)
sb = np.where(tr["side_b"] == "long", 1.0, -1.0)
qa, qb = tr["qty_a"].to_numpy(float), tr["qty_b"].to_numpy(float)
rep = sa * qa * (xa - oa) + sb * qb * (xb - ob)
notional = qa * oa + qb * ob
tr["replay_err"] = np.abs(rep - tr["gross_pnl"].to_numpy()) / notional
tr["gross_bp"] = 1e4 * tr["gross_pnl"] / notional
la, lb = np.log(xa / oa), np.log(xb / ob)
tr["conv_bp"] = 1e4 * (rep - (sa * qa * oa * la + sb * qb * ob * lb)) / notional
# a trade whose sizing price (close of the signal bar) differs from the fill open: the gap
sig_bar = e - 1
gap = np.log(oa / panel.close[sig_bar, ia])
tr["gap_a_bp"] = 1e4 * gap
tr["rebal"] = tr["rebalances"]
print(
    tr.groupby("strategy")
    .agg(
        trades=("gross_bp", "size"),
        gross_bp=("gross_bp", "mean"),
        net_bp=("net_bp", "mean"),
        conv_bp=("conv_bp", "mean"),
        max_replay_err=("replay_err", "max"),
        rebalances=("rebal", "sum"),
    )
    .to_string()
)
print("exit reasons", tr.exit_reason.value_counts().to_dict())
print(
    "|open_e - close_{e-1}| on leg A, bp: median",
    np.nanmedian(np.abs(tr.gap_a_bp)),
    "p99",
    np.nanpercentile(np.abs(tr.gap_a_bp), 99),
)
pickle.dump(tr, open("/tmp/placebo/real_trades.pkl", "wb"))
