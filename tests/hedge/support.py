"""Generated spot and perpetual bars for the hedge tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

N = 24 * 40


def _times(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="1h", tz="UTC")


def _walk(rng: np.random.Generator, n: int, vol: float = 0.01, p0: float = 100.0) -> np.ndarray:
    return p0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
