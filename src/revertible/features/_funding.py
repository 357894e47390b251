"""Funding family: latest funding rate and mean of the last events known at each bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import FeatureConfig
    from ..data import Panel

__all__: list[str] = []


@nb.njit(cache=True)
def _funding_kernel(funding, max_age, k, last, mean_k):  # pragma: no cover
    """Latest funding rate and mean of the last ``k`` events known at each bar (carry forward).

    Nothing is known before an asset's first event or more than ``max_age`` bars after its latest
    one (NaN).
    """
    n, m = funding.shape
    ring = np.empty(k)
    for i in range(m):
        cnt = 0
        at = -1
        for t in range(n):
            x = funding[t, i]
            if np.isfinite(x):
                ring[cnt % k] = x
                cnt += 1
                at = t
            if at < 0 or t - at > max_age:
                continue
            last[t, i] = ring[(cnt - 1) % k]
            if cnt >= k:
                tot = 0.0
                for e in range(k):  # oldest to newest
                    tot += ring[(cnt - k + e) % k]
                mean_k[t, i] = tot / k


def _funding_features(panel: Panel, fc: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Latest rate and mean of the last ``fc.funding_events`` rates known at each bar."""
    n, m = panel.n_bars, panel.n_assets
    last = np.full((n, m), np.nan, order="F")
    mean_k = np.full((n, m), np.nan, order="F")
    if panel.funding is not None:
        max_age = int(pd.Timedelta(hours=fc.funding_max_age_hours) // panel.freq)
        _funding_kernel(
            np.asfortranarray(panel.funding, dtype=np.float64), max_age, fc.funding_events, last,
            mean_k,
        )
    return last, mean_k
