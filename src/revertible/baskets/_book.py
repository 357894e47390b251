"""Book-level risk as pure functions: the variance of the sum of open positions.

The book is the vector ``x`` of per-asset *net* notionals in quote currency (long positive, short
negative; an asset traded in several pairs appears once, netted). With ``Sigma`` the trailing
covariance of hourly log returns scaled to one day (``24 x`` hourly):

* ``book_var = x' Sigma x`` (quote currency squared, per day), ``book_sd = sqrt(book_var)``;
* the stress: ``Sigma95 = D C95 D`` with ``D = diag(sqrt(diag(Sigma)))`` and ``C95`` all
  off-diagonal correlations set to ``stress_corr`` (0.95): ``stress_var = x' Sigma95 x``.

Under an all-0.95 stress a *net long* book loses much more than its trailing covariance says
(diversification disappears), while a dollar-neutral pair book nets out and looks *safer*: for a
hedged book the damaging scenario is the legs decoupling, so :func:`book_risk` also reports the
all-zero-correlation variance ``decorr_var = x' diag(Sigma) x``.

Wiring (for the sizing/backtest owners): at each bar ``t``, with the open positions' net
notionals ``x`` (a ``{asset: notional}`` mapping) and ``cov = trailing_covariance(panel, t,
cfg.baskets.cov_window_days)``::

    risk = book_risk(x, cov, stress_corr=cfg.baskets.stress_corr)
    if not within_book_cap(risk, cfg.sizing.capital, cfg.baskets.max_book_risk):
        ...  # skip or scale down the new trade (cap_scale gives the largest scale that fits)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..config import BARS_PER_DAY
from ..data import Panel
from ._core import corr_matrix
from ._regime import log_returns

__all__ = ["trailing_covariance", "stress_covariance", "book_risk", "within_book_cap",
           "cap_scale"]


def trailing_covariance(
    panel: Panel, t: int, window_days: int = 30, min_obs_frac: float = 0.9
) -> pd.DataFrame:
    """Daily covariance of hourly log returns over the ``window_days`` ending at bar ``t``.

    Pairwise complete (``corr * sd_i * sd_j``, each from the rows valid for it); assets without
    enough history have NaN rows. Bars ``<= t`` only. Indexed by asset on both axes.
    """
    w = window_days * BARS_PER_DAY
    r = log_returns(panel.slice_bars(max(0, t - w), t + 1))[-w:]
    need = int(np.ceil(min_obs_frac * w))
    c = corr_matrix(r, need)
    cnt = np.isfinite(r).sum(axis=0)
    ok = cnt >= max(need, 2)
    sd = np.full(r.shape[1], np.nan)
    sd[ok] = np.nanstd(r[:, ok], axis=0, ddof=1) * np.sqrt(BARS_PER_DAY)
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


def within_book_cap(risk: Mapping[str, float], capital: float, cap: float | None) -> bool:
    """True when the stressed daily sd is at most ``cap * capital`` (always True if no cap).

    An unknown (NaN) risk does not pass a cap.
    """
    if cap is None:
        return True
    sd = risk["stress_sd"]
    return bool(np.isfinite(sd) and sd <= cap * capital)


def cap_scale(
    book: Mapping[str, float] | pd.Series,
    trade: Mapping[str, float] | pd.Series,
    cov: pd.DataFrame,
    capital: float,
    cap: float | None,
    stress_corr: float = 0.95,
) -> float:
    """Largest ``s`` in ``[0, 1]`` such that ``book + s * trade`` stays within the cap.

    Solves the quadratic ``(b + s t)' S95 (b + s t) <= (cap * capital)^2`` exactly; 0 when even
    ``s = 0`` breaks the cap (the existing book is already over it), 1 when there is no cap.
    """
    if cap is None:
        return 1.0
    b = pd.Series(book, dtype=np.float64)
    tr = pd.Series(trade, dtype=np.float64)
    idx = b.index.union(tr.index)
    b, tr = b.reindex(idx, fill_value=0.0), tr.reindex(idx, fill_value=0.0)
    s95 = stress_covariance(cov.loc[idx, idx], stress_corr)
    if not np.all(np.isfinite(s95)):
        return 0.0
    bb, u = b.to_numpy(), tr.to_numpy()
    lim = (cap * capital) ** 2
    qa, qb, qc = u @ s95 @ u, 2 * (bb @ s95 @ u), bb @ s95 @ bb - lim
    if qc > 0:
        return 0.0
    if qa <= 0:
        return 1.0
    root = (-qb + np.sqrt(max(qb * qb - 4 * qa * qc, 0.0))) / (2 * qa)
    return float(min(1.0, max(0.0, root)))
