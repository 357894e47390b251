"""Episodes under the other spread models: the Kalman hedge ratio and the cointegration filter.

* :func:`kalman_rows`: the episodes of a block of pairs with the Kalman hedge ratio
  (``spread.beta_model: kalman``), detected and labelled by the same rule as the OLS kernel
  (:func:`revertible.episodes.pair_episodes` over :func:`revertible.spread.kalman_series`), with
  the same pair eligibility (both assets eligible, return correlation over the eligibility window
  passing ``universe.min_abs_corr`` in the configured direction).
* :func:`pair_coint_pvalues`: the scheduled (daily) Engle-Granger p-values of a block of pairs
  (:func:`revertible.spread.coint_pvalues`), point in time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..spread import SpreadSeries, coint_pvalues, kalman_series, pair_series

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["kalman_rows", "pair_coint_pvalues"]


def _corr_ok(corr: np.ndarray, min_abs_corr: float, relationship: str) -> np.ndarray:
    c = np.nan_to_num(corr, nan=0.0)
    if relationship == "positive":
        return c >= min_abs_corr
    if relationship == "inverse":
        return c <= -min_abs_corr
    return np.abs(c) >= min_abs_corr


def kalman_rows(
    panel: Panel, elig: np.ndarray, pa: np.ndarray, pb: np.ndarray, cfg: Config, cw: int
) -> tuple[np.ndarray, np.ndarray]:
    """Episode rows (the kernel's 10 fields) and their pair positions in the block ``pa, pb``."""
    from ._table import pair_episodes

    sc, lc, uc = cfg.spread, cfg.label, cfg.universe
    logp = panel.log_close()
    ks = kalman_series(logp, pa, pb, sc.beta_window, sc.z_window, sc.min_obs_frac,
                       sc.kalman_state_noise, sc.kalman_obs_noise)  # fmt: skip
    corr = pair_series(logp, pa, pb, corr_window=cw, corr_min_obs_frac=uc.min_obs_frac)[:, 5]
    rows, which = [], []
    for p, (i, j) in enumerate(zip(pa, pb, strict=True)):
        mask = elig[:, i] & elig[:, j] & _corr_ok(corr[p], uc.min_abs_corr, uc.relationship)
        if not mask.any():
            continue
        ep = pair_episodes(logp[:, i], logp[:, j], SpreadSeries(*ks[p, :5]), mask,
                           lc.entry, lc.exit, lc.stop, lc.horizon)  # fmt: skip
        if not len(ep):
            continue
        reason = {"revert": 0, "stop": 1, "timeout": 2, "open": 3}
        r = np.column_stack([
            ep["entry_idx"], ep["z_entry"], ep["beta"], ep["spread_mean"], ep["spread_std"],
            ep["label"], ep["exit_idx"], ep["exit_reason"].map(reason), ep["bars_held"],
            corr[p][ep["entry_idx"].to_numpy()],
        ]).astype(np.float64)
        rows.append(r)
        which.append(np.full(len(r), p, dtype=np.int64))
    if not rows:
        return np.empty((0, 10)), np.empty(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(which)


def pair_coint_pvalues(panel: Panel, cfg: Config, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """``(P, T)`` Engle-Granger p-values of pairs ``(pa, pb)``, tested once a day, carried forward.

    Window ``universe.coint_window_days`` (90% of its bars with both prices needed), lags
    ``universe.coint_lags``; the test at the last bar of each day uses bars up to it only.
    """
    uc = cfg.universe
    w = panel.days_to_bars(uc.coint_window_days)
    return coint_pvalues(panel.log_close(), pa, pb, w, uc.coint_lags, every=panel.day_bars,
                         min_obs=int(np.ceil(uc.min_obs_frac * w)))  # fmt: skip
