"""Held-out score -> realised return of each direction: the evidence the decision rests on.

The classifier's calibrated probability of reversion carries a little information (AUC about
0.6); a return model trained on raw trade returns carried none out of sample. So the expected
return of a divergence is not predicted from features: it is *read off the model's own held-out
record*. :class:`ReturnCalibrator` is fitted on held-out scores only (out-of-fold probabilities
of purged walk-forward folds, or scores of earlier blocks) and the realised gross return of
both trades of those divergences, for the legs that will be traded (:func:`outcome_targets`):

1. **Bins.** Quantile bins of the held-out score (``decision.calibration_bins``, fewer when
   the record holds less than ``decision.min_bin_trades`` trades a bin; tied scores share a
   bin, so there may be fewer still).
2. **Shrinkage.** Each bin's mean return is pulled toward the unconditional mean by
   ``decision.shrinkage`` pseudo-trades: ``(n * mean_b + k * mean_all) / (n + k)``.
3. **Monotone.** Weighted isotonic regression across bins: the reversion trade's mean cannot
   fall as the probability of reversion rises, the continuation trade's cannot rise.
4. **Standard errors that respect overlap and drift.** Trades entered close together overlap
   and move together, and a bin's mean drifts from one period to the next, so each bin's
   standard error is clustered by calendar period of ``decision.cluster_days`` days (entry
   time; ``G / (G - 1)`` small-sample factor) and, with few clusters, scaled by
   ``t(G - 1) / z`` (Student's quantile over the normal one at ``decision.confidence``), so
   the normal lower bound the decision takes is the small-sample ``t`` bound. The shrunk
   mean's is ``w * se_b + (1 - w) * se_all`` with ``w = n / (n + k)`` (the Cauchy-Schwarz upper
   bound: conservative). A bin with fewer than ``decision.min_bin_trades`` trades, or trades
   from fewer than two periods, has an infinite standard error: it never clears the gate.
   With ``decision.drift_days`` set, the bound is for the *next period's* mean, not only the
   record's: ``sqrt(se^2 + tau^2)`` with ``tau^2`` the between-period variance of the mean
   return over periods of that many days (method of moments: the variance of the period means
   minus their sampling variance, floored at 0; infinite with fewer than three periods; with
   ``common_level: adverse`` (step 5) that of each bin's own edge, since the level cancels). Off by
   default: the decision needs a bound on the bin's *expected* return (what its trades average
   to over the months it trades), not a one-month predictive interval; the clustered bound
   alone covered about 70% of the next fold's bin *means* on the spot development period, the
   drift term 85%, and the drift term shut out a planted edge the clustered bound trades
   (README, "The decision").
5. **The level all divergences share** (``decision.common_level``). A bin's mean is the level
   of every divergence of its weeks plus the bin's edge over them. The level swings from month
   to month (the shared months' average reversion trade ranges from -20 to +35 bp gross) and a
   few months of record cannot pin it down; the edge, compared within each week, can. The
   two directions carry the level with opposite signs, so a book that takes both cancels it.
   ``'adverse'`` (default): each bin's mean, shrinkage, isotonic fit and standard error are
   those of ``r - `` its week's mean over all divergences of the record (the edge over the
   average divergence, clustered by week as above); then the record's level is added at the
   end of its interval nearest zero (``mean -/+ z * se``, week-clustered; 0 when the interval
   includes 0): a level that is surely there counts, in the trade's favour (at its lower bound)
   or against it (at its upper bound), one that may be noise does not. So the bound is on the
   edge a book taking both directions earns; for one direction taken alone it is not a
   one-sided ``confidence`` bound when the level is against it (the level's uncertainty is not
   charged). ``'estimate'``: the
   bin's own mean, level included (the earlier behaviour; a record whose level happened to
   favour one direction made the gate bet on that month-to-month swing persisting).
6. **Second moment.** The bin's realised ``E[r^2]`` (no prediction): what Kelly sizing divides by.

All returns are gross, per unit of gross notional; the decision subtracts its venue's costs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression

from ..errors import ModelError

__all__ = ["DIRECTIONS", "OUTCOME_COLUMNS", "ReturnCalibrator", "week_clusters", "rank_ic",
           "overfit_warning", "cluster_se"]

DIRECTIONS = ("revert", "continue")
"""The two trades of each divergence."""

OUTCOME_COLUMNS = tuple(f"{d}_{m}" for d in DIRECTIONS for m in ("mean", "se", "m2"))
"""Columns of :meth:`ReturnCalibrator.predict` (gross, per unit of gross notional)."""

_DAY_NS = 86_400 * 1_000_000_000


def week_clusters(times: Any, days: int = 7) -> np.ndarray:
    """Calendar-period cluster id of each entry time (periods of ``days`` since the epoch).

    Examples
    --------
    >>> week_clusters(pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-09"], utc=True))
    array([2817, 2817, 2818])
    """
    return _periods(pd.DatetimeIndex(times).as_unit("ns").asi8, days)


def _periods(ns: np.ndarray, days: int) -> np.ndarray:
    """Period of ``days`` days since the epoch of each time in nanoseconds."""
    return (np.asarray(ns, dtype=np.int64) // (days * _DAY_NS)).astype(np.int64)


def rank_ic(score: np.ndarray, realised: np.ndarray) -> float:
    """Spearman rank correlation of score and realised return over finite pairs (NaN if < 3).

    Examples
    --------
    >>> round(rank_ic(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.3, 0.2, 0.4])), 6)
    0.8
    """
    from scipy.stats import spearmanr

    s, r = np.asarray(score, float), np.asarray(realised, float)
    ok = np.isfinite(s) & np.isfinite(r)
    if ok.sum() < 3 or np.ptp(s[ok]) == 0.0 or np.ptp(r[ok]) == 0.0:
        return float("nan")
    return float(spearmanr(s[ok], r[ok]).statistic)


def cluster_se(resid: np.ndarray, cluster: np.ndarray, confidence: float = 0.95) -> float:
    """Cluster-robust standard error of a mean, scaled to a ``t(G - 1)`` bound (inf if G < 2).

    ``sqrt(G / (G - 1) * sum_g (sum_{i in g} e_i)^2) / n`` times ``t_q(G - 1) / z_q`` at the
    one-sided ``confidence``: ``z_q`` times it is the small-sample ``t`` bound. ``resid`` are
    the deviations from the mean, ``cluster`` each row's cluster id.

    Examples
    --------
    >>> round(cluster_se(np.array([1.0, 1.0, -1.0, -1.0]), np.array([0, 0, 1, 1]), 0.95), 3)
    3.838
    >>> cluster_se(np.array([1.0, -1.0]), np.array([0, 0]))
    inf
    """
    from scipy.stats import norm, t

    n = len(resid)
    if n == 0:
        return float("inf")
    codes, _ = pd.factorize(cluster)
    g = int(codes.max(initial=-1)) + 1
    if g < 2:
        return float("inf")
    sums = np.bincount(codes, weights=resid, minlength=g)
    scale = float(t.ppf(confidence, g - 1) / norm.ppf(confidence))
    return float(np.sqrt(g / (g - 1) * np.sum(sums * sums)) / n) * scale


def _period_means(r: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Each row's period mean of ``r`` (the level all divergences of that period share)."""
    codes, _ = pd.factorize(period)
    n = np.bincount(codes).astype(float)
    return (np.bincount(codes, weights=r) / n)[codes]


def _drift_sd(r: np.ndarray, period: np.ndarray) -> float:
    """Between-period sd of the mean return (method of moments; inf with < 3 periods)."""
    codes, _ = pd.factorize(period)
    g = int(codes.max(initial=-1)) + 1
    if g < 3:
        return float("inf")
    n = np.bincount(codes, minlength=g).astype(float)
    mean = np.bincount(codes, weights=r, minlength=g) / n
    m2 = np.bincount(codes, weights=r * r, minlength=g) / n
    within = np.maximum(m2 - mean * mean, 0.0) / np.maximum(n - 1.0, 1.0)
    between = float(np.var(mean, ddof=1) - np.mean(within))
    return float(np.sqrt(max(between, 0.0)))


class ReturnCalibrator(BaseEstimator):
    """Map a held-out score to each direction's realised gross return (module docstring).

    Parameters
    ----------
    n_bins : int
        Quantile bins of the held-out score (``decision.calibration_bins``).
    shrinkage : float
        Pseudo-trades at the unconditional mean added to each bin (``decision.shrinkage``).
    min_bin_trades : int
        Bins with fewer trades get an infinite standard error (``decision.min_bin_trades``).
    cluster_days : int
        Length of the standard errors' clusters in days (``decision.cluster_days``).
    confidence : float
        One-sided confidence the small-sample scaling targets (``decision.confidence``).
    drift_days : int, optional
        Periods of the between-period drift term (``decision.drift_days``); None: no drift term.
    common_level : {'adverse', 'estimate'}
        How the level shared by all divergences of a period enters (``decision.common_level``):
        ``'adverse'`` (default) bounds the bin's edge over its period's average divergence and
        adds the level only as far as its interval excludes zero;
        ``'estimate'`` uses the bin's own mean, level included (module docstring, step 5).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(size=4000)
    >>> r = 0.004 * (s - 0.5) + rng.normal(0, 0.01, 4000)
    >>> t = pd.date_range("2024-01-01", periods=4000, freq="h", tz="UTC")
    >>> cal = ReturnCalibrator(n_bins=4, shrinkage=0).fit(s, pd.DataFrame(
    ...     {"revert": r, "continue": -r}), t)
    >>> out = cal.predict(np.array([0.05, 0.95]))
    >>> bool(out["revert_mean"].iloc[1] > out["revert_mean"].iloc[0])
    True
    >>> bool((out["continue_mean"] == -out["revert_mean"]).all())
    True
    """

    def __init__(self, n_bins: int = 10, shrinkage: float = 200.0, min_bin_trades: int = 30,
                 cluster_days: int = 7, confidence: float = 0.95, drift_days: int | None = None,
                 common_level: str = "adverse"):
        self.n_bins = n_bins
        self.shrinkage = shrinkage
        self.min_bin_trades = min_bin_trades
        self.cluster_days = cluster_days
        self.confidence = confidence
        self.drift_days = drift_days
        self.common_level = common_level

    def fit(self, score: Any, returns: pd.DataFrame, times: Any) -> ReturnCalibrator:
        """Fit on held-out scores, the realised gross returns and the entry times.

        Parameters
        ----------
        score : array-like
            Held-out score of each divergence (higher: more likely to revert). NaN rows are
            left out.
        returns : pandas.DataFrame
            Columns ``revert`` and ``continue``: realised gross returns per unit of gross
            notional of the legs that will be traded (:func:`outcome_targets`); NaN (open)
            rows are left out of that direction.
        times : array-like
            Entry times (the week clusters of the standard errors).

        Raises
        ------
        ModelError
            Fewer than ``2 * min_bin_trades`` scored divergences with a realised return.
        """
        s = np.asarray(score, dtype=float)
        # nanoseconds once: np.asarray of tz-aware times makes an object array of Timestamps
        t_ns = pd.DatetimeIndex(times).as_unit("ns").asi8
        week = _periods(t_ns, self.cluster_days)
        conf = self.confidence
        ok = np.isfinite(s)
        for d in DIRECTIONS:
            ok &= np.isfinite(np.asarray(returns[d], dtype=float))
        if ok.sum() < 2 * self.min_bin_trades:
            raise ModelError(
                f"return calibrator: {int(ok.sum())} held-out divergences with a score and a "
                f"realised return; need at least {2 * self.min_bin_trades} (more data, an "
                "earlier start or a lower decision.min_bin_trades)"
            )
        s_ok = s[ok]
        k_bins = max(1, min(self.n_bins, int(ok.sum()) // self.min_bin_trades))
        qs = np.quantile(s_ok, np.arange(1, k_bins) / k_bins)
        edges = np.unique(qs)
        while True:  # tied scores can leave a bin empty: merge it into its neighbour
            bins = np.searchsorted(edges, s_ok, side="right")
            counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
            empty = np.flatnonzero(counts == 0)
            if not len(empty):
                break
            edges = np.delete(edges, min(int(empty[0]), len(edges) - 1))
        self.edges_ = edges
        nb = len(edges) + 1
        self.n_ = counts
        self.grid_ = np.quantile(s_ok, np.linspace(0.0, 1.0, 201))
        self.n_fit_ = int(ok.sum())
        table = {"bin": np.arange(nb), "n": counts.astype(np.int64),
                 "score_low": np.r_[s_ok.min(), self.edges_],
                 "score_high": np.r_[self.edges_, s_ok.max()],
                 "score_mean": np.bincount(bins, weights=s_ok, minlength=nb) / counts}
        k = float(self.shrinkage)
        w = counts / (counts + k) if k > 0 else np.ones(nb)
        if self.common_level not in ("adverse", "estimate"):
            raise ModelError(f"return calibrator: common_level must be 'adverse' or 'estimate', "
                             f"not {self.common_level!r} (decision.common_level)")
        relative = self.common_level == "adverse"
        wk = week[ok]
        self.params_: dict[str, dict[str, np.ndarray]] = {}
        self.level_: dict[str, dict[str, float]] = {}
        for d in DIRECTIONS:
            r = np.asarray(returns[d], dtype=float)[ok]
            mean_b = np.bincount(bins, weights=r, minlength=nb) / counts
            m2_b = np.bincount(bins, weights=r * r, minlength=nb) / counts
            level = float(r.mean())
            level_se = cluster_se(r - level, wk, conf)
            # 'adverse': the edge over the period's average divergence (the shared level cancels)
            x = r - _period_means(r, wk) if relative else r
            xb = np.bincount(bins, weights=x, minlength=nb) / counts
            if relative:  # demeaned by the clusters themselves: the edge's mean is 0, exactly
                mean_all, se_all = 0.0, 0.0
            else:
                mean_all = float(x.mean())
                se_all = cluster_se(x - mean_all, wk, conf)
            se_b = np.array([cluster_se(x[bins == b] - xb[b], wk[bins == b], conf)
                             for b in range(nb)])
            shrunk = w * xb + (1.0 - w) * mean_all
            iso = IsotonicRegression(increasing=(d == "revert"))
            mean = iso.fit_transform(np.arange(nb, dtype=float), shrunk, sample_weight=counts)
            # the level counts at the end of its interval nearest zero (0 if it includes 0)
            half = float(norm.ppf(conf)) * level_se
            counted = float(np.sign(level) * max(abs(level) - half, 0.0)) + 0.0 if relative else 0.0
            mean = mean + counted
            with np.errstate(invalid="ignore"):
                se = np.where(np.isinf(se_b) | (np.isinf(se_all) & (w < 1.0)), np.inf,
                              w * se_b + (1.0 - w) * np.where(w < 1.0, se_all, 0.0))
            if self.drift_days is not None:
                per = _periods(t_ns[ok], self.drift_days)
                # 'adverse': each bin's edge drifts on its own (the level's drift cancels)
                tau = (np.array([_drift_sd(x[bins == b], per[bins == b]) for b in range(nb)])
                       if relative else np.full(nb, _drift_sd(r, per)))
                se = np.sqrt(se * se + tau * tau)
                self.drift_sd_ = getattr(self, "drift_sd_", {}) | {d: tau}
            se = np.where(counts >= self.min_bin_trades, se, np.inf)
            self.params_[d] = {"mean": mean, "se": se, "m2": m2_b, "raw_mean": mean_b}
            self.level_[d] = {"mean": level, "se": level_se, "counted": counted}
            table.update({f"{d}_raw_mean": mean_b, f"{d}_mean": mean, f"{d}_se": se,
                          f"{d}_m2": m2_b, f"{d}_level": level, f"{d}_level_se": level_se,
                          f"{d}_level_counted": counted})
        self.table_ = pd.DataFrame(table)
        return self

    def bin_of(self, score: Any) -> np.ndarray:
        """Bin index of each score (-1 where the score is NaN)."""
        s = np.asarray(score, dtype=float)
        b = np.searchsorted(self.edges_, s, side="right")
        return np.where(np.isfinite(s), b, -1)

    def score_quantile(self, score: Any) -> np.ndarray:
        """Share of the held-out scores at or below each score (NaN for a NaN score)."""
        s = np.asarray(score, dtype=float)
        q = np.interp(s, self.grid_, np.linspace(0.0, 1.0, len(self.grid_)))
        return np.where(np.isfinite(s), q, np.nan)

    def predict(self, score: Any) -> pd.DataFrame:
        """:data:`OUTCOME_COLUMNS` for each score (NaN rows where the score is NaN)."""
        b = self.bin_of(score)
        have = b >= 0
        bb = np.where(have, b, 0)
        out = {}
        for d in DIRECTIONS:
            for m in ("mean", "se", "m2"):
                out[f"{d}_{m}"] = np.where(have, self.params_[d][m][bb], np.nan)
        return pd.DataFrame(out, columns=list(OUTCOME_COLUMNS))

    def reliability_table(self) -> pd.DataFrame:
        """One row per bin: score range, trades, raw and calibrated means, se, second moment.

        Per direction also the record's level (mean over every divergence), its clustered s.e.
        and the part added to every bin (``<d>_level_counted``; 0 with ``'estimate'``).
        """
        return self.table_.copy()


def overfit_warning(meta: dict, threshold: float = 0.05) -> str | None:
    """The overfitting warning of a model's meta, or None.

    Warns when the scorer's in-sample rank IC (against the realised reversion return) exceeds
    ``threshold`` and three times its held-out IC, or when the held-out IC is <= 0 (or missing).

    Examples
    --------
    >>> overfit_warning({"ic_in_sample": 0.3, "ic_held_out": 0.02})
    'overfitting warning: the scorer ranks returns with rank IC 0.300 in sample but 0.020 held out'
    >>> overfit_warning({"ic_in_sample": 0.04, "ic_held_out": 0.03}) is None
    True
    """
    ic_in = float(meta.get("ic_in_sample", np.nan))
    ic_out = float(meta.get("ic_held_out", np.nan))
    if not np.isfinite(ic_in):
        return None
    if not np.isfinite(ic_out) or ic_out <= 0.0 or (ic_in > threshold and ic_in > 3 * ic_out):
        return (f"overfitting warning: the scorer ranks returns with rank IC {ic_in:.3f} in "
                f"sample but {ic_out:.3f} held out")
    return None
