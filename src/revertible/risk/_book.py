"""Book-level risk: the variance of the sum of open positions (pure functions, compiled room).

The book is the vector ``x`` of per-asset *net* notionals in quote currency (long positive, short
negative; an asset traded in several pairs appears once, netted). With ``Sigma`` the trailing
covariance of hourly log returns scaled to one day (``24 x`` hourly):

* ``book_var = x' Sigma x`` (quote currency squared, per day), ``book_sd = sqrt(book_var)``;
* the stress: ``Sigma95 = D C95 D`` with ``D = diag(sqrt(diag(Sigma)))`` and ``C95`` all
  off-diagonal correlations set to ``stress_corr`` (0.95): ``stress_var = x' Sigma95 x``;
* the decoupling: every correlation 0, ``decorr_var = x' diag(Sigma) x``.

Under an all-0.95 stress a *net long* book loses much more than its trailing covariance says
(diversification disappears), while a dollar-neutral pair book nets out and looks *safer*: for a
hedged book the damaging scenario is the legs decoupling. The cap used by sizing and the
backtest (:func:`risk_room`, ``baskets.max_book_risk``) therefore bounds the *worst* of the
three: ``shock_sigma * max(book_sd, stress_sd, decorr_sd) <= max_book_risk * capital``.

Lives in :mod:`revertible.risk`, below ``decision``, ``baskets`` and ``backtest``, which use it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..data import Panel

__all__ = ["log_returns", "corr_matrix", "trailing_covariance", "stress_covariance",
           "risk_matrices", "book_risk", "within_book_cap", "cap_scale", "risk_room"]


def log_returns(panel: Panel) -> np.ndarray:
    """``(T, N)`` one-bar log returns of the close; row 0 and bars next to a gap are NaN."""
    logp = np.log(panel.close)
    r = np.full(logp.shape, np.nan)
    r[1:] = logp[1:] - logp[:-1]
    return r


def corr_matrix(returns: np.ndarray, min_obs: int) -> np.ndarray:
    """``(N, N)`` pairwise-complete correlation of the columns of ``returns`` (rows: bars).

    NaN where fewer than ``min_obs`` rows have both values. Vectorised (matrix products).
    """
    m = np.isfinite(returns).astype(np.float64)
    x = np.where(m > 0, returns, 0.0)
    n = m.T @ m
    sx = x.T @ m  # [i, j]: sum of x_i over rows where j is valid (and i, since x_i is 0 elsewhere)
    sxx = (x * x).T @ m
    sxy = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        vx = n * sxx - sx * sx
        c = (n * sxy - sx * sx.T) / np.sqrt(vx * vx.T)
    c[(n < max(min_obs, 3)) | ~(vx > 0) | ~(vx.T > 0)] = np.nan
    c = np.clip(c, -1.0, 1.0)
    np.fill_diagonal(c, np.where(np.isfinite(np.diag(c)), 1.0, np.nan))
    return c


def trailing_covariance(
    panel: Panel, t: int, window_days: int = 30, min_obs_frac: float = 0.9
) -> pd.DataFrame:
    """Daily covariance of one-bar log returns over the ``window_days`` ending at bar ``t``.

    Pairwise complete (``corr * sd_i * sd_j``, each from the rows valid for it); assets without
    enough history have NaN rows. Bars ``<= t`` only. Indexed by asset on both axes.
    """
    w = panel.days_to_bars(window_days)
    r = log_returns(panel.slice_bars(max(0, t - w), t + 1))[-w:]
    need = int(np.ceil(min_obs_frac * w))
    c = corr_matrix(r, need)
    cnt = np.isfinite(r).sum(axis=0)
    ok = cnt >= max(need, 2)
    sd = np.full(r.shape[1], np.nan)
    sd[ok] = np.nanstd(r[:, ok], axis=0, ddof=1) * np.sqrt(panel.bars_per_day)
    return pd.DataFrame(c * np.outer(sd, sd), index=list(panel.assets),
                        columns=list(panel.assets))


def stress_covariance(cov: pd.DataFrame | np.ndarray, stress_corr: float = 0.95) -> np.ndarray:
    """``D C D`` with the variances of ``cov`` kept and every correlation set to ``stress_corr``."""
    s = np.asarray(cov, dtype=np.float64)
    sd = np.sqrt(np.diag(s))
    c = np.full_like(s, stress_corr)
    np.fill_diagonal(c, 1.0)
    return np.outer(sd, sd) * c


def _align(notionals: Mapping[str, float] | pd.Series, cov: pd.DataFrame) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    x = pd.Series(notionals, dtype=np.float64)
    x = x[x != 0]
    missing = [a for a in x.index if a not in cov.index]
    if missing:
        raise KeyError(f"book assets not in the covariance: {missing}")
    s = cov.loc[x.index, x.index].to_numpy(dtype=np.float64)
    return x.to_numpy(), s


def book_risk(
    notionals: Mapping[str, float] | pd.Series,
    cov: pd.DataFrame,
    stress_corr: float = 0.95,
) -> dict[str, float]:
    """The book's daily variance and standard deviation, trailing and under the stress.

    Parameters
    ----------
    notionals : mapping or Series
        Per-asset net notional (quote currency, signed). Zero entries are ignored.
    cov : pandas.DataFrame
        Daily covariance indexed by asset (:func:`trailing_covariance`).
    stress_corr : float
        Correlation of every pair under the stress.

    Returns
    -------
    dict
        ``book_var``, ``book_sd``, ``stress_var``, ``stress_sd`` and ``decorr_var``,
        ``decorr_sd`` (every correlation 0: the pairs' legs decouple, the stress that hurts a
        hedged book); NaN if any held asset's covariance is unknown.

    Examples
    --------
    Long 100 of A and B, short 50 of C; daily vols 1%, 2%, 3%; correlations 0.5, 0.2, 0.4:

    >>> idx = ["A", "B", "C"]
    >>> sd = np.array([.01, .02, .03])
    >>> c = np.array([[1, .5, .2], [.5, 1, .4], [.2, .4, 1]])
    >>> cov = pd.DataFrame(c * np.outer(sd, sd), index=idx, columns=idx)
    >>> r = book_risk({"A": 100, "B": 100, "C": -50}, cov)
    >>> round(r["book_var"], 6), round(r["stress_var"], 6)
    (6.25, 2.5)
    """
    x, s = _align(notionals, cov)
    if len(x) == 0:
        return dict.fromkeys(("book_var", "book_sd", "stress_var", "stress_sd", "decorr_var",
                              "decorr_sd"), 0.0)
    v = float(x @ s @ x)
    v95 = float(x @ stress_covariance(s, stress_corr) @ x)
    v0 = float(x @ stress_covariance(s, 0.0) @ x)
    return {"book_var": v, "book_sd": float(np.sqrt(v)), "stress_var": v95,
            "stress_sd": float(np.sqrt(v95)), "decorr_var": v0, "decorr_sd": float(np.sqrt(v0))}


def within_book_cap(
    risk: Mapping[str, float], capital: float, cap: float | None, *, sigma: float = 1.0,
    worst: bool = False,
) -> bool:
    """True when ``sigma`` x the stressed daily sd is at most ``cap * capital`` (True if no cap).

    ``worst=True`` checks the largest of ``book_sd``, ``stress_sd`` and ``decorr_sd`` instead
    (the rule of sizing and the backtest, ``sigma = baskets.shock_sigma``). An unknown (NaN)
    risk does not pass a cap.
    """
    if cap is None:
        return True
    keys = ("book_sd", "stress_sd", "decorr_sd") if worst else ("stress_sd",)
    sd = np.array([risk[k] for k in keys], dtype=np.float64)
    return bool(np.all(np.isfinite(sd)) and sigma * sd.max() <= cap * capital)


def cap_scale(
    book: Mapping[str, float] | pd.Series,
    trade: Mapping[str, float] | pd.Series,
    cov: pd.DataFrame,
    capital: float,
    cap: float | None,
    stress_corr: float = 0.95,
    *,
    sigma: float = 1.0,
    worst: bool = False,
) -> float:
    """Largest ``s`` in ``[0, 1]`` such that ``book + s * trade`` stays within the cap.

    Solves the quadratic ``(b + s t)' S95 (b + s t) <= (cap * capital / sigma)^2`` exactly
    (with ``worst=True`` for each of the trailing, stressed and decoupled matrices, taking the
    smallest root); 0 when even ``s = 0`` breaks the cap (the existing book is already over
    it) or a held asset's covariance is unknown, 1 when there is no cap.
    """
    if cap is None:
        return 1.0
    b = pd.Series(book, dtype=np.float64)
    tr = pd.Series(trade, dtype=np.float64)
    idx = b.index.union(tr.index)
    b, tr = b.reindex(idx, fill_value=0.0), tr.reindex(idx, fill_value=0.0)
    mats = risk_matrices(cov.loc[idx, idx], stress_corr)
    mats = mats if worst else mats[1:2]
    if not np.all(np.isfinite(mats)):
        return 0.0
    lim = cap * capital / sigma
    return float(min(1.0, _room_dense(mats, b.to_numpy(), tr.to_numpy(), lim)))


def risk_matrices(cov: pd.DataFrame | np.ndarray, stress_corr: float = 0.95) -> np.ndarray:
    """``(3, N, N)``: the trailing covariance, its all-``stress_corr`` and all-zero versions."""
    s = np.asarray(cov, dtype=np.float64)
    return np.stack([s, stress_covariance(s, stress_corr), stress_covariance(s, 0.0)])


@nb.njit(cache=True)
def _root(qa: float, qb: float, qc: float) -> float:
    """Largest ``s >= 0`` with ``qa s^2 + qb s + qc <= 0`` given ``qc <= 0`` (inf if unbounded)."""
    if qa <= 0.0:
        return np.inf if qb <= 0.0 else -qc / qb
    return max(0.0, (-qb + math.sqrt(max(qb * qb - 4.0 * qa * qc, 0.0))) / (2.0 * qa))


@nb.njit(cache=True)
def _room_dense(mats, b, u, lim):  # fmt: skip
    best = np.inf
    for m in range(mats.shape[0]):
        mm = mats[m]
        qc = b @ mm @ b - lim * lim
        if qc > 0.0:
            return 0.0
        best = min(best, _root(u @ mm @ u, 2.0 * (b @ mm @ u), qc))
    return best


@nb.njit(cache=True)
def risk_room(mats, net, ia, ib, ua, ub, lim):  # fmt: skip
    """Largest ``s >= 0`` keeping ``(net + s u)' M (net + s u) <= lim^2`` for every ``M``.

    ``u`` is zero except ``u[ia] = ua``, ``u[ib] = ub`` (a pair trade per unit of leg-A notional;
    the caller's ``net`` is the book's per-asset net notional). ``mats`` is ``(m, N, N)``
    (:func:`risk_matrices`, restricted to the book's assets); entries of assets with zero net
    and not traded are never read, so their NaN rows do no harm. Returns ``inf`` when
    ``lim`` is infinite (no cap), 0 when the book is already over the cap or a held or traded
    asset's covariance is unknown.
    """
    if not lim < np.inf:
        return np.inf
    n = net.shape[0]
    best = np.inf
    for m in range(mats.shape[0]):
        mm = mats[m]
        qc = -lim * lim
        ma = 0.0
        mb = 0.0
        for i in range(n):
            if net[i] != 0.0:
                row = 0.0
                for j in range(n):
                    if net[j] != 0.0:
                        row += mm[i, j] * net[j]
                qc += net[i] * row
                ma += mm[ia, i] * net[i]
                mb += mm[ib, i] * net[i]
        qa = ua * ua * mm[ia, ia] + 2.0 * ua * ub * mm[ia, ib] + ub * ub * mm[ib, ib]
        qb = 2.0 * (ua * ma + ub * mb)
        if not (math.isfinite(qa) and math.isfinite(qb) and math.isfinite(qc)) or qc > 0.0:
            return 0.0
        best = min(best, _root(qa, qb, qc))
    return best
