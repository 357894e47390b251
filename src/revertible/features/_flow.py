"""Flow family: which leg moved, against the market, and how many pairs diverge at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import _utc, asset_columns

if TYPE_CHECKING:
    from ..config import FeatureConfig
    from ..data import Panel

__all__: list[str] = []


def _flow_features(
    panel: Panel, query: pd.DataFrame, history: pd.DataFrame, t: np.ndarray, ia: np.ndarray,
    ib: np.ndarray, z: np.ndarray, beta: np.ndarray, fc: FeatureConfig,
) -> dict[str, np.ndarray]:
    """Who moved, against the market, and how many of each leg's pairs diverge at once.

    Leg moves and idiosyncratic returns use prices at bars ``<= t``. Breadth counts episodes of
    ``history`` entered at bars ``<= t`` (detection is point-in-time) and, for "active", not yet
    exited by ``t`` (an exit at bar ``x <= t`` is observable at ``t``); the query's own episode
    is excluded.
    """
    logp = panel.log_close()
    n, m = logp.shape
    sgn = np.sign(z)
    std = query["spread_std"].to_numpy(np.float64)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in fc.flow_lags:
            lag = t - k
            ok = lag >= 0
            lg = np.maximum(lag, 0)
            da = np.where(ok, logp[t, ia] - logp[lg, ia], np.nan)
            db = np.where(ok, logp[t, ib] - logp[lg, ib], np.nan)
            out[f"move_a_{k}"] = sgn * da / std
            out[f"move_b_{k}"] = -sgn * beta * db / std
        k = fc.flow_lags[1]
        ret = np.full((n, m), np.nan)
        ret[k:] = logp[k:] - logp[:-k]
        med = np.full(n, np.nan)
        enough = np.isfinite(ret).sum(axis=1) >= fc.market_min_assets
        med[enough] = np.nanmedian(ret[enough], axis=1)
        out[f"idio_a_{k}"] = sgn * (ret[t, ia] - med[t])
        out[f"idio_b_{k}"] = sgn * (ret[t, ib] - med[t])
    # breadth from the episode table
    pos = {a: i for i, a in enumerate(panel.assets)}
    h_ok = history["asset_a"].isin(pos.keys()) & history["asset_b"].isin(pos.keys())
    h = history[h_ok.to_numpy()]
    he = panel.times.get_indexer(_utc(h["entry_time"]))
    keep = he >= 0
    h, he = h[keep], he[keep]
    hx = panel.times.searchsorted(_utc(h["exit_time"].fillna(panel.times[-1] + panel.freq)))
    hx = np.asarray(hx, dtype=np.int64)
    ha = asset_columns(panel.assets, h["asset_a"])
    hb = asset_columns(panel.assets, h["asset_b"])
    new = np.zeros((n + 1, m))
    act = np.zeros((n + 1, m))
    for col in (ha, hb):
        np.add.at(new, (he + 1, col), 1.0)
        np.add.at(act, (he, col), 1.0)
        np.add.at(act, (np.minimum(hx, n), col), -1.0)
    cnew = np.cumsum(new, axis=0)  # cnew[t + 1] = entries at bars <= t
    active = np.cumsum(act, axis=0)[:n]  # active[t] = entered <= t and exit bar > t
    tot_act = np.zeros(n + 1)
    np.add.at(tot_act, he, 1.0)
    np.add.at(tot_act, np.minimum(hx, n), -1.0)
    tot_act = np.cumsum(tot_act)[:n]
    # the query's own episode, when it is in the history table, is excluded
    hkey = pd.MultiIndex.from_arrays([h["asset_a"].astype(str), h["asset_b"].astype(str), he])
    qkey = pd.MultiIndex.from_arrays(
        [query["asset_a"].astype(str), query["asset_b"].astype(str), t]
    )
    own = qkey.isin(hkey).astype(np.float64)
    lo = np.maximum(t + 1 - k, 0)
    others = max(m - 1, 1)
    for leg, idx in (("a", ia), ("b", ib)):
        out[f"breadth_new_{leg}"] = (cnew[t + 1, idx] - cnew[lo, idx] - own) / others
        out[f"breadth_active_{leg}"] = (active[t, idx] - own) / others
    n_pairs = max(m * (m - 1) / 2, 1)
    out["mkt_breadth_active"] = tot_act[t] / n_pairs
    return out
