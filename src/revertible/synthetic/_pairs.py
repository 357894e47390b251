"""Minimal simulated pairs with a known answer: an OU spread with a known half-life, a random walk.

The Gaussian (or fat-tailed) processes the labeler is tested against theory on, and the spread
building blocks :func:`revertible.synthetic.generate_market` plants in its markets.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

__all__ = ["ou_phi", "simulate_ou_pair", "simulate_random_walk_pair"]


def ou_phi(half_life: float) -> float:
    """AR(1) coefficient of an OU process sampled per bar: ``0.5 ** (1 / half_life)``.

    Examples
    --------
    >>> round(ou_phi(12) ** 12, 12)
    0.5
    """
    if not half_life > 0:
        raise ValueError(f"`half_life > 0` must hold, but got {half_life}")
    return 0.5 ** (1.0 / half_life)


def _ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    """``x_t = phi * x_{t-1} + eps_t`` along axis 0, with ``x_0 = eps_0``."""
    return lfilter([1.0], [1.0, -phi], eps, axis=0)


def _t_noise(rng: np.random.Generator, df: float, size) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size=size) * math.sqrt((df - 2.0) / df)


def _ou_spread(
    rng: np.random.Generator, n: int, half_life: float, std: float, df: float | None
) -> np.ndarray:
    """OU spread of stationary std ``std`` started from its stationary law."""
    phi = ou_phi(half_life)
    z = rng.standard_normal(n) if df is None else _t_noise(rng, df, n)
    eps = z * std * math.sqrt(1.0 - phi * phi)
    eps[0] = z[0] * std  # stationary start
    return _ar1(eps, phi)


# --------------------------------------------------------------------------- minimal pairs


def simulate_ou_pair(
    n_bars: int,
    half_life: float,
    beta: float = 1.0,
    sigma_spread: float = 0.003,
    sigma_b: float = 0.01,
    seed: int | None = 0,
    *,
    intercept: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Log prices of a cointegrated pair with a Gaussian OU spread of known half-life.

    ``b`` is a Gaussian random walk started at 0; ``a = beta * b + intercept + s`` with
    ``s_t = phi * s_{t-1} + sigma_spread * e_t``, ``phi = 0.5 ** (1 / half_life)``, ``s_0`` drawn
    from the stationary law (std ``sigma_spread / sqrt(1 - phi**2)``).

    Parameters
    ----------
    n_bars : int
        Length of both series.
    half_life : float
        OU half-life in bars.
    beta : float
        True hedge ratio.
    sigma_spread : float
        Per-bar innovation std of the spread (not its stationary std).
    sigma_b : float
        Per-bar innovation std of ``b``.
    seed : int or None
        Seed of :func:`numpy.random.default_rng`.
    intercept : float
        Constant ``c``.

    Returns
    -------
    a, b : numpy.ndarray
        float64 log prices; the spread is ``a - beta * b - intercept``.

    Examples
    --------
    >>> a, b = simulate_ou_pair(50_000, half_life=12, beta=0.8, seed=1)
    >>> s = a - 0.8 * b
    >>> phi = np.polyfit(s[:-1], s[1:], 1)[0]
    >>> bool(abs(np.log(0.5) / np.log(phi) - 12) < 1.5)
    True
    """
    rng = np.random.default_rng(seed)
    phi = ou_phi(half_life)
    b = np.cumsum(rng.normal(0.0, sigma_b, n_bars))
    eps = rng.normal(0.0, sigma_spread, n_bars)
    eps[0] /= math.sqrt(1.0 - phi * phi)
    s = _ar1(eps, phi)
    return beta * b + intercept + s, b


def simulate_random_walk_pair(
    n_bars: int,
    beta: float = 1.0,
    sigma_spread: float = 0.003,
    sigma_b: float = 0.01,
    seed: int | None = 0,
    *,
    intercept: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Log prices of a pair that is *not* cointegrated: the spread is a Gaussian random walk.

    ``b`` is a Gaussian random walk; ``a = beta * b + intercept + s`` with
    ``s_t = s_{t-1} + sigma_spread * e_t``, ``s_0 = sigma_spread * e_0``.

    Parameters
    ----------
    n_bars : int
        Length of both series.
    beta : float
        Loading of ``a`` on ``b`` (the hedge ratio an OLS would chase).
    sigma_spread, sigma_b : float
        Per-bar innovation std of the spread and of ``b``.
    seed : int or None
        Seed of :func:`numpy.random.default_rng`.
    intercept : float
        Constant ``c``.

    Returns
    -------
    a, b : numpy.ndarray
        float64 log prices.
    """
    rng = np.random.default_rng(seed)
    b = np.cumsum(rng.normal(0.0, sigma_b, n_bars))
    s = np.cumsum(rng.normal(0.0, sigma_spread, n_bars))
    return beta * b + intercept + s, b
