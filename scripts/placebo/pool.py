"""Pool the per-seed tables of ``analyse.py`` (one ``*_analysed.pkl`` per batch) over seeds.

Usage: python pool.py BATCH_analysed.pkl [...]; the seed is the unit (independent markets).
"""

import pickle
import sys

import numpy as np
import pandas as pd
from scipy import stats

tables = {p: pickle.load(open(p, "rb"))[0] for p in sys.argv[1:]}
tables["all"] = pd.concat(list(tables.values()))
for name, t in tables.items():
    for s, g in t.groupby("strategy"):
        k = len(g)
        m = g.gross_bp.mean()
        se = g.gross_bp.std(ddof=1) / np.sqrt(k)
        q = stats.t.ppf(0.95, k - 1)
        p = 2 * stats.t.sf(abs(m / se), k - 1)
        nse = g.net_bp.std(ddof=1) / np.sqrt(k)
        print(
            f"{name} {s:15s} seeds={k} gross={m:+.2f} se={se:.2f} "
            f"90%CI=[{m - q * se:+.2f},{m + q * se:+.2f}] p={p:.3f} pred={g.pred_bp.mean():+.2f} "
            f"net={g.net_bp.mean():+.2f}+-{nse:.2f} conv={g.conv_bp.mean():+.2f} "
            f"predconv={g.pred_conv_bp.mean():+.2f} cost={g.cost_bp.mean():.2f}"
        )
wide = tables["all"].pivot(index="seed", columns="strategy", values="gross_bp")
print("correlation of the per-seed gross over seeds\n", wide.corr().round(2))
