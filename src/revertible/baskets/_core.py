"""Thematic baskets from the point-in-time correlation structure of hourly log returns.

At bar ``T`` (bars ``<= T`` only):

1. **Eligible assets**: :func:`revertible.universe.asset_eligibility` at ``T`` (price at ``T``,
   ``universe.min_history_days`` (90) of history, median daily quote volume over
   ``universe.volume_window_days`` at least ``universe.min_quote_volume`` ($1M)).
2. **Correlation**: pairwise-complete correlation of one-bar log returns over each of
   ``baskets.windows_days`` (30/60/90 days) ending at ``T``; a window needs
   ``universe.min_obs_frac`` of its bars. The clustering matrix ``C`` is the mean of the windows
   (a pair missing in any window is left out: NaN).
3. **Clusters**: hierarchical clustering of the distance ``d = 1 - C`` (NaN: 2), **complete**
   linkage by default, cut at ``1 - band_low``. Complete linkage merges two clusters only when
   their *farthest* pair is within the cut, so every pair inside a cluster has ``C >= band_low``:
   the band's floor holds by construction, and a chain of moderately related assets (what single
   and, less so, average linkage produce) cannot form one theme.
4. **Baskets**: within each cluster, greedily: seed with the member most correlated on average with
   the rest, add the members most correlated with the seed while every pairwise ``C`` stays within
   ``[band_low, band_high]`` (above ``band_high`` is "one asset twice": the later one is skipped),
   up to ``max_size``; keep baskets of at least ``min_size``; repeat on the remaining members.
5. **Weights** (correlation-adjusted): ``raw_i = 1 - rho_i`` with ``rho_i`` the mean ``C`` of asset
   ``i`` with the other members, ``weight_i = raw_i / sum(raw)`` (sum 1 per basket).
6. **Stress**: see :func:`stress_losses`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..risk import corr_matrix, log_returns
from ..universe import asset_eligibility, bar_index

if TYPE_CHECKING:
    from ..config import BasketsConfig, UniverseConfig
    from ..data import Panel

__all__ = [
    "corr_matrix",
    "correlations_at",
    "cluster_assets",
    "build_baskets",
    "basket_weights",
    "stress_losses",
    "bar_index",
]




def correlations_at(
    panel: Panel, t: int, windows_days: tuple[int, ...], min_obs_frac: float
) -> dict[int, np.ndarray]:
    """Correlation matrix of hourly log returns over each window (days) ending at bar ``t``."""
    r = log_returns(panel.slice_bars(0, t + 1))
    out = {}
    for days in windows_days:
        w = panel.days_to_bars(days)
        out[days] = corr_matrix(r[max(0, t + 1 - w):], int(np.ceil(min_obs_frac * w)))
    return out


def cluster_assets(corr: np.ndarray, band_low: float, method: str = "complete") -> np.ndarray:
    """Cluster labels (1..K): hierarchical clustering of ``1 - corr``, cut at ``1 - band_low``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = corr.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.ones(1, dtype=np.int64)
    d = np.clip(1.0 - np.nan_to_num(corr, nan=-1.0), 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    z = linkage(squareform((d + d.T) / 2, checks=False), method=method)
    return fcluster(z, t=1.0 - band_low, criterion="distance").astype(np.int64)


def build_baskets(
    corr: np.ndarray, cfg: BasketsConfig, labels: np.ndarray | None = None
) -> list[tuple[int, list[int]]]:
    """Baskets as ``(cluster, member indices)`` from a correlation matrix (module docstring 3-4).

    Deterministic: ties break on the lower index.
    """
    low, high = cfg.corr_band
    if labels is None:
        labels = cluster_assets(corr, low, cfg.linkage)
    c = np.nan_to_num(corr, nan=-np.inf)
    ok = (c >= low) & (c <= high)
    out: list[tuple[int, list[int]]] = []
    for lab in np.unique(labels):
        rest = [int(i) for i in np.flatnonzero(labels == lab)]
        while len(rest) >= cfg.min_size:
            sub = np.nan_to_num(corr[np.ix_(rest, rest)], nan=0.0)
            np.fill_diagonal(sub, np.nan)
            seed = rest[int(np.argmax(np.nanmean(sub, axis=1)))]
            basket = [seed]
            cand = sorted((i for i in rest if i != seed), key=lambda i: (-c[seed, i], i))
            for i in cand:
                if len(basket) >= cfg.max_size:
                    break
                if all(ok[i, j] for j in basket):
                    basket.append(i)
            if len(basket) >= cfg.min_size:
                out.append((int(lab), sorted(basket)))
                rest = [i for i in rest if i not in basket]
            else:
                rest = [i for i in rest if i != seed]
    return out


def basket_weights(corr: np.ndarray) -> np.ndarray:
    """Correlation-adjusted weights of one basket: ``(1 - mean corr with the rest)``, normalised.

    Examples
    --------
    >>> c = np.array([[1, .8, .6], [.8, 1, .7], [.6, .7, 1.]])
    >>> basket_weights(c).round(4).tolist()
    [0.3333, 0.2778, 0.3889]
    """
    k = corr.shape[0]
    rho = (corr.sum(axis=1) - np.diag(corr)) / (k - 1)
    raw = 1.0 - rho
    return raw / raw.sum()


def stress_losses(
    weights: np.ndarray,
    vols: np.ndarray,
    corr: np.ndarray,
    shock_sigma: float,
    stress_corr: float = 0.95,
) -> tuple[float, float]:
    """k-sigma loss of a basket under today's correlations and under all-``stress_corr``.

    With ``w`` the weights (per unit of basket notional), ``D = diag(vols)`` the assets' daily
    volatilities and ``S = D C D``:

    ``loss(C) = shock_sigma * sqrt(w' S w)``.

    Returns ``(loss under corr, loss under C95)``, where ``C95`` has ones on the diagonal and
    ``stress_corr`` elsewhere; both are fractions of the basket's notional.

    Examples
    --------
    Three assets, weights 1/3, daily vols 2%, correlations 0.5, a 3-sigma shock:
    ``w'Sw = 0.0004 * (3 * 1/9 + 6 * 1/9 * 0.5) = 0.0004 * 2/3``; under 0.95 ``0.0004 * 2.9/3``.

    >>> w, v = np.full(3, 1 / 3), np.full(3, 0.02)
    >>> c = np.full((3, 3), 0.5); np.fill_diagonal(c, 1.0)
    >>> [round(x, 6) for x in stress_losses(w, v, c, 3.0)]
    [0.04899, 0.058992]
    """
    s = np.outer(vols, vols) * corr
    c95 = np.full_like(corr, stress_corr)
    np.fill_diagonal(c95, 1.0)
    s95 = np.outer(vols, vols) * c95
    return (float(shock_sigma * np.sqrt(weights @ s @ weights)),
            float(shock_sigma * np.sqrt(weights @ s95 @ weights)))


def eligible_at(panel: Panel, t: int, ucfg: UniverseConfig) -> np.ndarray:
    """Bool ``(N,)``: assets eligible at bar ``t`` (history, liquidity, price), bars ``<= t``."""
    return asset_eligibility(panel.slice_bars(0, t + 1), ucfg)[t]
