"""Is the decision calibrated? Expected vs realised net return, out of sample.

Used by ``train`` (on the purged CV of the held-out record and on the holdout), the backtest
(every scored divergence of the walk-forward) and the acceptance tests, so all three report the
same figures:

* ``n``, ``n_taken``, ``taken_rate``: divergences with an expected return, and those the gate
  let through;
* deciles of the expected net return (of each divergence's better direction, taken or not) with
  the mean realised net return of each; ``decile_slope`` (OLS slope of the decile means of
  realised on expected; 1 is perfectly calibrated), ``decile_rank_corr`` (Spearman of the decile
  means; deciles whose expected means are less than :data:`TIE_BP` apart are one level, tied;
  NaN for both when all are), ``top_minus_median_bp`` (top decile's realised minus the median
  deciles' mean);
* ``taken_net_bp`` and ``taken_net_bp_expected``: mean realised and mean expected net return of
  the divergences taken (bp of gross notional).

:func:`record_shortfall` is the gate's own earlier record of realised minus expected, block by
block and point in time (``decision.debias_expected``, off by default): the expected return of
the divergences the gate takes is optimistic (about 4 bp on the shared data with a planted
score: it takes the cells whose estimate came out high, and the edge drifts; README, "The
decision"), and this is what the gate's earlier taken divergences fell short by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["QUALITY_DECILES", "RECORD_MIN_TRADES", "TIE_BP", "decision_quality", "quality_table",
           "realised_net", "record_shortfall", "tied_levels"]

QUALITY_DECILES = 10

TIE_BP = 1e-4
"""Decile means of the expected return closer than this (bp) are one level (float noise)."""

RECORD_MIN_TRADES = 1000
"""Earlier taken divergences :func:`record_shortfall` needs before it corrects anything."""


def decision_quality(
    expected: np.ndarray, realised: np.ndarray, taken: np.ndarray, n_bins: int = QUALITY_DECILES
) -> dict[str, float]:
    """Calibration figures of a decision (module docstring); returns in bp where named ``_bp``.

    Parameters
    ----------
    expected, realised : numpy.ndarray
        Expected and realised net return per unit of gross notional of each divergence's better
        direction (NaN: not scored or still open).
    taken : numpy.ndarray of bool
        The gate let the divergence through.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> e = rng.normal(0, 0.002, 5000)
    >>> q = decision_quality(e, e + rng.normal(0, 0.002, 5000), e > 0.003)
    >>> 0.8 < q["decile_slope"] < 1.2, q["decile_rank_corr"] > 0.9
    (True, True)
    """
    e = np.asarray(expected, dtype=float)
    r = np.asarray(realised, dtype=float)
    t = np.asarray(taken, dtype=bool)
    ok = np.isfinite(e) & np.isfinite(r)
    out: dict[str, float] = {"n": float(ok.sum()), "n_taken": float((ok & t).sum())}
    out["taken_rate"] = out["n_taken"] / out["n"] if out["n"] else float("nan")
    out["taken_net_bp"] = float(r[ok & t].mean() * 1e4) if (ok & t).any() else float("nan")
    out["taken_net_bp_expected"] = (float(e[ok & t].mean() * 1e4) if (ok & t).any()
                                    else float("nan"))  # fmt: skip
    table = quality_table(e, r, n_bins)
    for row in table.itertuples(index=False):
        out[f"decile{row.decile:02d}_expected_bp"] = row.expected_bp
        out[f"decile{row.decile:02d}_realised_bp"] = row.realised_bp
    # expected returns that do not vary (a calibrator at its common level: every decile at the
    # same bp up to rounding) have no slope or ranking: NaN, not a figure fitted to float noise
    x = tied_levels(table["expected_bp"].to_numpy()) if len(table) == n_bins else np.zeros(0)
    if len(table) == n_bins and np.ptp(x) > 0:
        y = table["realised_bp"].to_numpy()
        xc = x - x.mean()  # least squares on centred x (polyfit warns when x barely varies)
        out["decile_slope"] = float(xc @ (y - y.mean()) / (xc @ xc))
        # deciles at one level share their rank (float noise does not order them)
        out["decile_rank_corr"] = float(pd.Series(x).corr(pd.Series(y), method="spearman"))
        mid = y[n_bins // 2 - 1 : n_bins // 2 + 1].mean()
        out["top_minus_median_bp"] = float(y[-1] - mid)
    else:
        out.update(decile_slope=float("nan"), decile_rank_corr=float("nan"),
                   top_minus_median_bp=float("nan"))
    return out


def tied_levels(expected_bp: np.ndarray, tol_bp: float = TIE_BP) -> np.ndarray:
    """Ascending values with those in one ``tol_bp`` cell from the smallest set to their mean.

    A return calibrator at its common level gives several deciles the same expected return up
    to float rounding (the spot CV record: seven deciles at -24 bp, 7e-6 bp apart); ranked as
    they come, their order is noise.

    Examples
    --------
    >>> tied_levels(np.array([-24.0, -23.999999, -23.9999995, -21.5])).round(6).tolist()
    [-24.0, -24.0, -24.0, -21.5]
    """
    x = np.asarray(expected_bp, dtype=float)
    if len(x) == 0:
        return x
    # cells of tol_bp from the smallest value: values closer than tol_bp share a cell (or sit
    # in neighbours), and ties never chain (differences below tol_bp, one after another, used
    # to merge an evenly spread range into one level)
    _, group = np.unique(np.floor((x - x[0]) / tol_bp), return_inverse=True)
    return (np.bincount(group, weights=x) / np.bincount(group))[group]


def quality_table(expected: np.ndarray, realised: np.ndarray,
                  n_bins: int = QUALITY_DECILES) -> pd.DataFrame:  # fmt: skip
    """Deciles of the expected net return: ``decile``, ``n``, ``expected_bp``, ``realised_bp``.

    Empty when fewer than ``n_bins`` divergences have both figures.
    """
    e = np.asarray(expected, dtype=float)
    r = np.asarray(realised, dtype=float)
    ok = np.isfinite(e) & np.isfinite(r)
    if ok.sum() < n_bins:
        return pd.DataFrame(columns=["decile", "n", "expected_bp", "realised_bp"])
    order = np.argsort(e[ok], kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, n_bins), start=1):
        rows.append({"decile": k, "n": len(idx), "expected_bp": float(e[ok][idx].mean() * 1e4),
                     "realised_bp": float(r[ok][idx].mean() * 1e4)})
    return pd.DataFrame(rows)


def realised_net(
    decision: pd.DataFrame, revert: np.ndarray, cont: np.ndarray, cost: float,
    carry: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Realised net return of each row's ``best_direction`` (what ``expected_return`` predicts).

    ``revert``/``cont`` are the realised gross returns of the two trades for the traded legs,
    ``cost`` the round trip and ``carry`` the same expected carry the decision subtracted.
    """
    best = decision["best_direction"].to_numpy()
    n = len(best)
    k_r = cost + (np.zeros(n) if carry is None else np.asarray(carry["revert"], float))
    k_c = cost + (np.zeros(n) if carry is None else np.asarray(carry["continue"], float))
    out = np.where(best == "continue", np.asarray(cont, float) - k_c,
                   np.asarray(revert, float) - k_r)
    return np.where(best == "none", np.nan, out)


def record_shortfall(
    expected: np.ndarray, realised: np.ndarray, taken: np.ndarray, entry_ns: np.ndarray,
    known_ns: np.ndarray, starts_ns: np.ndarray, min_trades: int = RECORD_MIN_TRADES,
) -> np.ndarray:
    """Each row's correction of its expected return by the gate's own earlier record.

    For the rows entered in ``[starts_ns[k], starts_ns[k + 1])`` (the last block open-ended;
    rows before the first start get 0): the mean of ``realised - expected`` over the *taken*
    rows (finite both) whose outcome was known before ``starts_ns[k]``, when there are at least
    ``min_trades`` of them, and only a shortfall (a negative mean; a surplus gives 0: the
    expected return is never raised). Nothing known at or after the block's start is read.
    ``expected + record_shortfall(...)`` is the corrected expected return; the bound the
    decision takes is not changed.

    Parameters
    ----------
    expected, realised : numpy.ndarray
        Expected and realised net return of each row (NaN: not scored or still open).
    taken : numpy.ndarray of bool
        The gate took the row.
    entry_ns, known_ns : numpy.ndarray of int64
        Each row's entry time and the time its outcome was known (ns since the epoch).
    starts_ns : numpy.ndarray of int64
        Start of each block (ascending): the times the record is read.
    min_trades : int
        Known taken rows a block's record needs.

    Returns
    -------
    numpy.ndarray
        The correction per row, <= 0 (units of ``expected``).

    Examples
    --------
    >>> entry = np.array([0, 1, 2, 10, 11, 20])
    >>> known = entry + 5                     # rows 0-2 known by 10, rows 3-4 by 20
    >>> e = np.full(6, 0.0010)
    >>> r = np.array([0.0004, 0.0006, 0.0008, 0.0014, 0.0014, 0.0])
    >>> out = record_shortfall(e, r, np.ones(6, bool), entry, known, np.array([0, 10, 20]), 2)
    >>> (out * 1e4).round(2).tolist()  # block 2 reads rows 0-4 (-6, -4, -2, +4, +4 bp)
    [0.0, 0.0, 0.0, -4.0, -4.0, -0.8]
    """
    e = np.asarray(expected, dtype=float)
    r = np.asarray(realised, dtype=float)
    entry = np.asarray(entry_ns, dtype=np.int64)
    starts = np.asarray(starts_ns, dtype=np.int64)
    ok = np.asarray(taken, dtype=bool) & np.isfinite(e) & np.isfinite(r)
    known = np.asarray(known_ns, dtype=np.int64)[ok]
    order = np.argsort(known, kind="stable")
    known, gap = known[order], (r - e)[ok][order]
    total = np.r_[0.0, np.cumsum(gap)]
    block = np.searchsorted(starts, entry, side="right") - 1  # -1: before the first block
    out = np.zeros(len(e))
    for k, start in enumerate(starts):
        n = int(np.searchsorted(known, start, side="left"))  # known strictly before the start
        if n >= max(min_trades, 1):
            out[block == k] = min(total[n] / n, 0.0)
    return out
