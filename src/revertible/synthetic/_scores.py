"""Scores with a known information content: the decision gate's known answers.

A *planted* score is correlated with the realised return by construction (a Gaussian copula of
the return's normal score and independent noise), so its rank IC is known; a *noise* score
carries none. Neither is a strategy (the planted one reads the future): they check that the
decision trades when, and only when, a score carries enough information to clear costs.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

__all__ = ["planted_score", "noise_score"]


def planted_score(realised: np.ndarray, ic: float, seed: int = 0) -> np.ndarray:
    """A score in (0, 1) whose Spearman rank IC with ``realised`` is about ``ic``.

    ``score = Phi(rho * z + sqrt(1 - rho^2) * e)`` with ``z`` the normal score of ``realised``
    (its rank mapped through the normal quantile), ``e`` independent standard normal noise and
    ``rho = 2 sin(pi * ic / 6)`` (Spearman's rho of a bivariate normal with correlation
    ``rho`` is ``ic``). Rows whose ``realised`` is NaN (open episodes) get noise only.

    Examples
    --------
    >>> r = np.random.default_rng(1).normal(size=50_000)
    >>> s = planted_score(r, 0.05, seed=2)
    >>> from scipy.stats import spearmanr
    >>> bool(0.04 < spearmanr(s, r).statistic < 0.06)
    True
    """
    r = np.asarray(realised, dtype=float)
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(len(r))
    ok = np.isfinite(r)
    z = np.zeros(len(r))
    if ok.any():
        z[ok] = norm.ppf((rankdata(r[ok]) - 0.5) / ok.sum())
    rho = 2.0 * np.sin(np.pi * ic / 6.0)
    x = np.where(ok, rho * z + np.sqrt(1.0 - rho * rho) * e, e)
    return norm.cdf(x)


def noise_score(n: int, seed: int = 0) -> np.ndarray:
    """A score in (0, 1) with no information: uniform noise.

    Examples
    --------
    >>> noise_score(3, seed=1).round(3).tolist()
    [0.512, 0.95, 0.144]
    """
    return np.random.default_rng(seed).uniform(size=n)
