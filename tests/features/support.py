"""Small panels and hand-made episodes for the feature tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revertible.data import Panel
from revertible.spread import pair_spread


def make_panel(close, quote_volume=None, funding=None, start="2024-01-01"):
    close = np.asfortranarray(close, dtype=float)
    n, m = close.shape
    qv = np.full((n, m), 1e6) if quote_volume is None else quote_volume
    return Panel(
        times=pd.date_range(start, periods=n, freq="h", tz="UTC", unit="ns"),
        assets=tuple(f"A{i:02d}/USDT" for i in range(m)),
        open=close, high=close, low=close, close=close,
        volume=np.ones((n, m), order="F"), quote_volume=np.asfortranarray(qv, dtype=float),
        funding=None if funding is None else np.asfortranarray(funding, dtype=float),
    )


def make_episodes(panel, rows):
    """Episodes from ``(ia, ib, entry_bar, label, exit_bar)``; beta/z/std from the spread kernel."""
    logp = panel.log_close()
    out = []
    for ia, ib, t, label, exit_bar in rows:
        sp = pair_spread(logp[:, ia], logp[:, ib])
        out.append(
            {
                "asset_a": panel.assets[ia],
                "asset_b": panel.assets[ib],
                "entry_time": panel.times[t],
                "z_entry": sp.z[t] if np.isfinite(sp.z[t]) else 2.0,
                "beta": sp.beta[t] if np.isfinite(sp.beta[t]) else 1.0,
                "spread_mean": sp.mean[t],
                "spread_std": sp.std[t],
                "label": label,
                "exit_time": panel.times[exit_bar] if exit_bar is not None else pd.NaT,
            }
        )
    df = pd.DataFrame(out)
    df["label"] = df["label"].astype("Float64")
    df["exit_time"] = pd.to_datetime(df["exit_time"], utc=True)
    return df
