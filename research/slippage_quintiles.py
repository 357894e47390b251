"""Estimated slippage by liquidity quintile on the shared data (not a test).

Usage::

    python research/slippage_quintiles.py [--data ../shared/data/binance-spot-1h-2024] [--days 30]

Every asset's half Abdi-Ranaldo spread (``costs.slippage_model: estimated`` before its
``slippage_bps`` floor, trailing ``--days`` window, point in time) is summarised by its median
over the bars where it is known; assets are split into quintiles of their median daily quote
volume. Prints the table and the ratio of the least liquid quintile's mean slippage to the most
liquid one's.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from revertible.config import config_from_mapping
from revertible.costs import abdi_ranaldo_spread
from revertible.data import load_panel


def quintile_table(data: str, days: int) -> pd.DataFrame:
    """Per quintile (1: least liquid): assets, median daily quote volume, mean slippage (bp)."""
    panel = load_panel(config_from_mapping({"data": {"path": data}}).data)
    half = 0.5 * abdi_ranaldo_spread(panel, days)  # the estimate, before the slippage_bps floor
    per_asset = []
    for j, asset in enumerate(panel.assets):
        s = half[:, j][np.isfinite(half[:, j])]
        qv = pd.Series(panel.quote_volume[:, j], index=panel.times).resample("1D").sum(min_count=1)
        per_asset.append({"asset": asset, "slip_bp": 1e4 * float(np.median(s)) if s.size else
                          np.nan, "daily_qv": float(qv.median())})  # fmt: skip
    df = pd.DataFrame(per_asset).dropna()
    df["quintile"] = pd.qcut(df["daily_qv"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    return df.groupby("quintile", observed=True).agg(
        assets=("asset", "size"), median_daily_qv=("daily_qv", "median"),
        mean_slip_bp=("slip_bp", "mean"), median_slip_bp=("slip_bp", "median"))


def main(argv: list[str] | None = None) -> int:
    """Print the quintile table and the least/most liquid ratio."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default="../shared/data/binance-spot-1h-2024")
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args(argv)
    tab = quintile_table(args.data, args.days)
    print(tab.to_string(float_format=lambda v: f"{v:.4g}"))
    lo, hi = tab["mean_slip_bp"].iloc[0], tab["mean_slip_bp"].iloc[-1]
    print(f"\nleast liquid quintile {lo:.2f} bp vs most liquid {hi:.2f} bp per fill: "
          f"x{lo / hi:.2f} (+{lo - hi:.2f} bp)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
