"""Statistics a quant asks of a backtest: intervals, Sharpe by quarter, a deflated Sharpe.

* :func:`bootstrap_mean_ci`: net bp per trade with a *day-block* bootstrap interval: the trades
  of one day (by exit time) are resampled together, so trades that share a market day (and
  its shocks) are not counted as independent evidence.
* :func:`deflated_sharpe`: Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio": the
  probability that the true Sharpe exceeds 0 after correcting the observed one for the number
  of configurations tried, the sample length, skewness and kurtosis.
* :func:`sharpe_by_period`: annualised Sharpe of the bar returns within each calendar quarter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as sps

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EULER_GAMMA",
    "bootstrap_mean_ci",
    "ci_text",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "deflated_sharpe",
    "sharpe_by_period",
    "daily_returns",
]

EULER_GAMMA = 0.5772156649015329


def bootstrap_mean_ci(
    values: np.ndarray, blocks: np.ndarray, *, level: float = 0.90, n_samples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``values`` and its block-bootstrap percentile interval.

    Parameters
    ----------
    values : array
        One value per trade (e.g. net bp).
    blocks : array
        Block label per trade (e.g. the exit day); blocks are drawn with replacement, each with
        all its trades, and the resampled mean is ``sum / count`` over the drawn trades.
    level : float
        Two-sided coverage (0.90: the 5th and 95th percentiles).

    Returns
    -------
    (mean, low, high)
        NaN without values; ``low`` and ``high`` NaN with one block (trades of one day say
        nothing about how the mean varies from day to day: no interval, not a zero-width one).
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    v, blk = v[ok], np.asarray(blocks)[ok]
    nan = float("nan")
    if len(v) == 0:
        return nan, nan, nan
    mean = float(v.mean())
    _, inv = np.unique(blk, return_inverse=True)
    sums = np.bincount(inv, weights=v)
    counts = np.bincount(inv).astype(float)
    n = len(sums)
    if n < 2:
        return mean, nan, nan
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, n, size=(n_samples, n))
    means = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return mean, float(lo), float(hi)


def ci_text(low: float, high: float, why: str) -> str:
    """``[90% CI low, high]`` in bp, or ``[no 90% CI: why]`` where it is undefined (NaN).

    One wording for every interval of :func:`bootstrap_mean_ci` a command prints; ``why`` says
    why there is none (e.g. "every closed trade exited on one day": one block, no spread).
    """
    if low is None or not np.isfinite(low):
        return f"[no 90% CI: {why}]"
    return f"[90% CI {low:+.1f}, {high:+.1f}]"


def expected_max_sharpe(n_trials: int, sr_std: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` unskilled configurations (0 for one trial).

    ``sr_std * ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))``, ``g`` the Euler-Mascheroni
    constant (Bailey & Lopez de Prado 2014, eq. 6).
    """
    if n_trials <= 1:
        return 0.0
    n = float(n_trials)
    g = EULER_GAMMA
    return sr_std * ((1 - g) * sps.norm.ppf(1 - 1 / n) + g * sps.norm.ppf(1 - 1 / (n * math.e)))


def probabilistic_sharpe(returns: np.ndarray, benchmark: float = 0.0) -> float:
    """``P(true Sharpe > benchmark)`` from per-period returns (PSR; non-annualised Sharpe).

    ``Z((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))`` with the sample skewness
    ``g3`` and (non-excess) kurtosis ``g4``. NaN with fewer than 3 returns or no variance.
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    t = len(r)
    if t < 3:
        return float("nan")
    sd = r.std(ddof=1)
    if not sd > 0.0:
        return float("nan")
    sr = r.mean() / sd
    g3 = float(sps.skew(r))
    g4 = float(sps.kurtosis(r, fisher=False))
    var = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr
    if not var > 0.0:
        return float("nan")
    return float(sps.norm.cdf((sr - benchmark) * math.sqrt(t - 1) / math.sqrt(var)))


def deflated_sharpe(returns: np.ndarray, n_trials: int = 1, sr_std: float | None = None) -> float:
    """Deflated Sharpe ratio: PSR against the expected best Sharpe of ``n_trials`` tries.

    Parameters
    ----------
    returns : array
        Per-period returns of the strategy reported (daily in the backtest).
    n_trials : int
        Configurations tried before this one was chosen (1: no selection; DSR = PSR(0)).
    sr_std : float, optional
        Standard deviation of the Sharpe across the trials (per period). Default
        ``1 / sqrt(T - 1)``: the estimator's own spread when the true Sharpe is 0, i.e. trials
        that differ by noise only (a study that records its trials' Sharpes can pass theirs).

    Returns
    -------
    float
        In ``[0, 1]``; it falls as ``n_trials`` grows.
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 3:
        return float("nan")
    if sr_std is None:
        sr_std = 1.0 / math.sqrt(len(r) - 1)
    return probabilistic_sharpe(r, expected_max_sharpe(int(n_trials), sr_std))


def daily_returns(equity: pd.Series) -> np.ndarray:
    """Simple returns of the equity at each UTC day's last bar."""
    e = equity.groupby(equity.index.floor("D")).last()
    e = e.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / e[:-1] - 1.0
    return r[np.isfinite(r)]


def sharpe_by_period(
    equity: pd.Series, bars_per_year: float, freq: str = "Q"
) -> dict[str, float]:
    """Annualised Sharpe of the bar returns within each period (``'2024q1'`` -> value)."""
    r = equity.pct_change().iloc[1:]
    idx = r.index.tz_convert(None) if r.index.tz is not None else r.index
    out = {}
    for per, grp in r.groupby(idx.to_period(freq)):
        v = grp.to_numpy(float)
        v = v[np.isfinite(v)]
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        key = f"{per.year}q{per.quarter}" if freq == "Q" else str(per).lower()
        out[key] = float(v.mean() / sd * math.sqrt(bars_per_year)) if sd > 0 else float("nan")
    return out
