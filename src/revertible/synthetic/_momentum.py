"""Planted-momentum spreads: pairs whose spread keeps moving after it diverges.

The known answer for "the decision picks continue": the spread of ``a = beta * b + s`` has
autocorrelated increments (an ARIMA(1,1,0) process),
``s_t - s_{t-1} = rho (s_{t-1} - s_{t-2}) + sigma_spread * e_t`` with ``0 < rho < 1``, so a move
that pushed ``|z|`` past the entry threshold tends to go on for about ``1 / (1 - rho)`` bars: the
continuation trade earns on average and the reversion trade loses. The legs stay strongly
correlated (``b`` is a random walk with ``sigma_b`` above the spread's noise), so the pairs pass the
universe's correlation filter. Kept apart from :func:`revertible.synthetic.generate_market` so the
generated market's answers (and the tests built on them) do not change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..data import Panel

__all__ = ["simulate_momentum_pair", "momentum_panel"]


def simulate_momentum_pair(
    n_bars: int,
    rho: float = 0.9,
    beta: float = 1.0,
    sigma_spread: float = 0.001,
    sigma_b: float = 0.01,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Log prices of a pair whose spread trends: AR(1) increments with coefficient ``rho``.

    Parameters
    ----------
    n_bars : int
        Length of both series.
    rho : float
        Autocorrelation of the spread's one-bar increments, in ``[0, 1)`` (0: a random walk).
    beta : float
        Loading of ``a`` on ``b``.
    sigma_spread, sigma_b : float
        Per-bar innovation std of the spread's increments and of ``b``.
    seed : int or None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    a, b : numpy.ndarray
        float64 log prices; the spread is ``a - beta * b``.

    Examples
    --------
    >>> a, b = simulate_momentum_pair(20_000, rho=0.9, seed=1)
    >>> d = np.diff(a - b)
    >>> bool(abs(np.corrcoef(d[:-1], d[1:])[0, 1] - 0.9) < 0.02)
    True
    """
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"`0 <= rho < 1` must hold, but got rho={rho}")
    rng = np.random.default_rng(seed)
    b = np.cumsum(rng.normal(0.0, sigma_b, n_bars))
    ds = lfilter([1.0], [1.0, -rho], rng.normal(0.0, sigma_spread, n_bars))
    return beta * b + np.cumsum(ds), b


def momentum_panel(
    n_pairs: int = 4,
    n_bars: int = 24 * 150,
    rho: float = 0.9,
    seed: int = 0,
    start: str | pd.Timestamp = "2024-01-01",
) -> Panel:
    """A panel of ``n_pairs`` independent momentum pairs (assets ``MA0/USDT``, ``MB0/USDT``...).

    Pair ``k`` is (``MA<k>``, ``MB<k>``) with ``beta = 1``; prices start near 100; each bar opens
    at the previous close; volumes are ample (every liquidity filter passes). Deterministic in
    ``seed``.
    """
    cols, names = [], []
    for k in range(n_pairs):
        a, b = simulate_momentum_pair(n_bars, rho=rho, seed=seed * 1000 + k)
        cols += [a, b]
        names += [f"MA{k}/USDT", f"MB{k}/USDT"]
    close = 100.0 * np.exp(np.column_stack(cols))
    opn = np.vstack([close[:1], close[:-1]])
    vol = np.full(close.shape, 1e6)
    f = np.asfortranarray
    return Panel(
        times=pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n_bars, freq="h"),
        assets=tuple(names), open=f(opn), high=f(np.fmax(opn, close)),
        low=f(np.fmin(opn, close)), close=f(close), volume=f(vol), quote_volume=f(vol * close),
        funding=None, source="synthetic-momentum",
    )
