"""Hedge ratio, spread and z-score per pair and bar (docs/design.md default definition).

For an ordered pair (A, B) with log prices ``a``, ``b``:

* ``beta_t``: OLS slope (with intercept) of ``a`` on ``b`` over the trailing ``beta_window`` bars
  ending at ``t`` inclusive, using the bars where both prices exist;
* ``spread_t = a_t - beta_t * b_t``;
* ``z_t = (spread_t - mean_t) / std_t`` with ``mean_t`` and ``std_t`` (ddof=1) the mean and
  standard deviation of ``a_j - beta_t * b_j`` over the trailing ``z_window`` bars ``j`` ending at
  ``t`` inclusive, i.e. the window's spread *under the current hedge ratio*.

Why the current hedge ratio: mixing bars that each carry their own ``beta_j`` adds
``(beta_j - beta_t) * b_j`` to the window, a term that grows with the log-price level, so z (and
every label) would change with the quote unit of a leg (prices x1000 changed the reversion rate of a
simulated half-life-12 pair from 0.67 to 0.25). With ``beta_t`` throughout, z is invariant to the
price unit and is exactly the spread a trader holding the ``beta_t`` hedge watches; the label's
frozen ``mean_t``/``std_t`` are the same quantities.

A window is usable when at least ``ceil(min_obs_frac * window)`` of its bars are valid; otherwise
the value is NaN. Everything at ``t`` uses bars ``<= t`` only.

The per-bar values come from the one compiled scan in :mod:`._kernel` (``record=True``), the same
routine that detects the episodes, so the series and the episode table agree bit for bit.
:mod:`._reference` holds plain implementations the kernel is tested against.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._kernel import block_kernel, pack_assets

__all__ = ["SpreadSeries", "pair_spread", "pair_series", "rolling_corr", "min_obs"]


class SpreadSeries(NamedTuple):
    """Per-bar spread state of one pair; every array has the length of the price series."""

    beta: np.ndarray
    spread: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    z: np.ndarray


def min_obs(window: int, frac: float) -> int:
    """Valid bars a window of ``window`` bars needs: ``ceil(frac * window)``, at least 2."""
    return max(2, int(math.ceil(frac * window - 1e-9)))


def _as_f8(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def pair_spread(
    a: np.ndarray,
    b: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
) -> SpreadSeries:
    """Hedge ratio, spread, rolling mean/std and z-score of one ordered pair.

    Parameters
    ----------
    a, b : numpy.ndarray
        Log prices of legs A and B on a common bar grid (NaN where missing).
    beta_window, z_window : int
        Trailing windows in bars, inclusive of the current bar.
    min_obs_frac : float
        Share of valid bars a window needs; otherwise the value is NaN.

    Returns
    -------
    SpreadSeries
        ``beta, spread, mean, std, z``, each the length of ``a``; NaN until the windows fill.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> b = np.cumsum(rng.normal(0, 0.01, 2000))
    >>> a = 0.8 * b + rng.normal(0, 0.002, 2000)
    >>> sp = pair_spread(a, b, beta_window=500, z_window=50)
    >>> bool(abs(sp.beta[-1] - 0.8) < 0.05), bool(np.isnan(sp.z[:400]).all())
    (True, True)
    """
    a = _as_f8(a)
    b = _as_f8(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}")
    sr = pair_series(
        np.column_stack([a, b]), np.zeros(1, np.int64), np.ones(1, np.int64),
        beta_window, z_window, min_obs_frac,
    )
    out = list(sr[0, :5])
    return SpreadSeries(*out)


def rolling_corr(
    a: np.ndarray, b: np.ndarray, window: int, min_obs_frac: float = 0.9
) -> np.ndarray:
    """Rolling correlation of one-bar log returns of ``a`` and ``b`` over ``window`` bars.

    The value at ``t`` uses the returns of bars ``t - window + 1 .. t``; NaN when fewer than
    ``ceil(min_obs_frac * window)`` returns are valid. Same compiled routine as the eligibility
    test inside the episode kernel, so the two agree bit for bit.
    """
    return pair_series(
        np.column_stack([a, b]), np.zeros(1, np.int64), np.ones(1, np.int64),
        corr_window=window, corr_min_obs_frac=min_obs_frac,
    )[0, 5]


def pair_series(
    logp: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
    corr_window: int = 720,
    corr_min_obs_frac: float = 0.9,
) -> np.ndarray:
    """Per-bar series of pairs ``(ia[p], ib[p])`` of the ``(T, N)`` log-price matrix ``logp``.

    Returns
    -------
    numpy.ndarray
        ``(P, 6, T)``: beta, spread, mean, std, z, return correlation (``corr_window``).
    """
    n, m = logp.shape
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    ia = np.where(ia < 0, ia + m, ia)  # negative indices count from the end, as in numpy
    ib = np.where(ib < 0, ib + m, ib)
    series = np.empty((len(ia), 6, n))
    block_kernel(
        pack_assets(logp), np.ones((n, m), dtype=np.bool_, order="F"), ia, ib,
        beta_window, z_window,
        min_obs(beta_window, min_obs_frac), min_obs(z_window, min_obs_frac),
        corr_window, min_obs(corr_window, corr_min_obs_frac), 0.0, 0, np.inf, -np.inf, np.inf,
        1, True, series, 0, np.empty((len(ia), 1, 10)), np.zeros(len(ia), np.int64),
    )
    return series
