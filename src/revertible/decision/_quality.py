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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["QUALITY_DECILES", "TIE_BP", "decision_quality", "quality_table", "realised_net",
           "tied_levels"]

QUALITY_DECILES = 10

TIE_BP = 1e-4
"""Decile means of the expected return closer than this (bp) are one level (float noise)."""


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
