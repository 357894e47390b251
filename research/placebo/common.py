"""What the placebo scripts share: the naive strategies, the data folder, an independent replay."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

#: The repository's root (configs/ live there).
REPO = Path(__file__).resolve().parents[2]

#: The strategies a placebo replays: no model, every divergence.
NAIVE = ("naive_beta", "naive_1to1", "naive_continue")


def data_dir() -> Path:
    """The shared data: ``$REVERTIBLE_DATA``, default ``../shared/data`` beside the repository."""
    return Path(os.environ.get("REVERTIBLE_DATA", REPO.parent / "shared" / "data")).resolve()


def replay(trades: pd.DataFrame, panel) -> pd.DataFrame:
    """Each trade's gross P&L replayed from the panel's opens and closes, quantities and sides.

    Independent of the engine: entry at the open of ``entry_time``, exit at the open of
    ``exit_time`` (``end_of_data`` exits at the close of the bar before it). Returns the replayed
    gross (``replay_gross``), its log-linear part (``lin``) and convexity (``conv = gross -
    lin``), the legs' log returns, bars held, entry and exit bars, sides and notionals.
    """
    pos = {t: i for i, t in enumerate(panel.times)}
    col = {a: i for i, a in enumerate(panel.assets)}
    e = np.array([pos[t] for t in trades["entry_time"]])
    ia = trades["asset_a"].map(col).to_numpy()
    ib = trades["asset_b"].map(col).to_numpy()
    x = np.array([pos.get(t, -1) for t in trades["exit_time"]])
    at_close = trades["exit_reason"].to_numpy() == "end_of_data"
    before = np.array([pos.get(t - panel.freq, -1) for t in trades["exit_time"]])
    xbar = np.where(at_close, before, x)
    oa, ob = panel.open[e, ia], panel.open[e, ib]
    xa = np.where(at_close, panel.close[xbar, ia], panel.open[np.maximum(x, 0), ia])
    xb = np.where(at_close, panel.close[xbar, ib], panel.open[np.maximum(x, 0), ib])
    sa = np.where(trades["side_a"] == "long", 1.0, -1.0)
    sb = np.where(trades["side_b"] == "long", 1.0, -1.0)
    qa, qb = trades["qty_a"].to_numpy(float), trades["qty_b"].to_numpy(float)
    ga, gb = sa * qa * (xa - oa), sb * qb * (xb - ob)
    la, lb = np.log(xa / oa), np.log(xb / ob)
    na, nb = qa * oa, qb * ob
    lin = sa * na * la + sb * nb * lb
    return pd.DataFrame(
        {"replay_gross": ga + gb, "lin": lin, "conv": ga + gb - lin, "la": la, "lb": lb,
         "hold_bars": xbar - e + np.where(at_close, 1, 0), "e_bar": e, "x_bar": xbar,
         "sa": sa, "sb": sb, "na": na, "nb": nb},
        index=trades.index,
    )
