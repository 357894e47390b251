"""Pool the per-seed tables of ``analyse.py`` over batches; the seed is the unit.

Independent markets make each seed's mean one observation (trades within a seed overlap)::

    python research/placebo/pool.py batch1_analysed.pkl batch2_analysed.pkl ...
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np
import pandas as pd
from scipy import stats


def main(argv: list[str] | None = None) -> int:
    """Print each batch's and the pooled gross per trade with its t interval over seeds."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tables", nargs="+", help="*_analysed.pkl files from analyse.py")
    args = ap.parse_args(argv)
    tables = {}
    for p in args.tables:
        with open(p, "rb") as fh:
            tables[p] = pickle.load(fh)[0]
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
                f"90%CI=[{m - q * se:+.2f},{m + q * se:+.2f}] p={p:.3f} "
                f"pred={g.pred_bp.mean():+.2f} net={g.net_bp.mean():+.2f}+-{nse:.2f} "
                f"conv={g.conv_bp.mean():+.2f} predconv={g.pred_conv_bp.mean():+.2f} "
                f"cost={g.cost_bp.mean():.2f}"
            )
    wide = tables["all"].pivot(index="seed", columns="strategy", values="gross_bp")
    print("correlation of the per-seed gross over seeds\n", wide.corr().round(2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
