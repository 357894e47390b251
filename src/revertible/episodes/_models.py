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
import pandas as pd

from ..spread import coint_pvalues, kalman_episode_rows, pair_series

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["kalman_rows", "pair_coint_pvalues", "episode_coint_pvalues", "kalman_config"]


_REL = {"both": 0, "positive": 1, "inverse": 2}


def kalman_rows(
    panel: Panel, elig: np.ndarray, pa: np.ndarray, pb: np.ndarray, cfg: Config, cw: int
) -> tuple[np.ndarray, np.ndarray]:
    """Episode rows (the kernel's 10 fields) and their pair positions in the block ``pa, pb``."""
    sc, lc, uc = cfg.spread, cfg.label, cfg.universe
    logp = panel.log_close()
    corr = pair_series(logp, pa, pb, corr_window=cw, corr_min_obs_frac=uc.min_obs_frac)[:, 5]
    return kalman_episode_rows(
        logp, elig, pa, pb, corr, uc.min_abs_corr, _REL[uc.relationship], sc.beta_window,
        sc.z_window, sc.min_obs_frac, sc.kalman_state_noise, sc.kalman_obs_noise, lc.entry,
        lc.exit, lc.stop, lc.horizon,
    )


def pair_coint_pvalues(panel: Panel, cfg: Config, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """``(P, T)`` Engle-Granger p-values of pairs ``(pa, pb)``, tested once a day, carried forward.

    Window ``universe.coint_window_days`` (90% of its bars with both prices needed), lags
    ``universe.coint_lags``; the test at the last bar of each day uses bars up to it only.
    """
    uc = cfg.universe
    w = panel.days_to_bars(uc.coint_window_days)
    return coint_pvalues(panel.log_close(), pa, pb, w, uc.coint_lags, every=panel.day_bars,
                         min_obs=int(np.ceil(uc.min_obs_frac * w)))  # fmt: skip


def episode_coint_pvalues(panel: Panel, cfg: Config, episodes: pd.DataFrame) -> np.ndarray:
    """Each episode's pair's Engle-Granger p-value at its entry bar (latest daily test).

    The ``naive_coint`` baseline trades the episodes with a value ``<= universe.max_coint_pvalue``
    (0.05 when that is null).
    """
    col = {a: i for i, a in enumerate(panel.assets)}
    ia = episodes["asset_a"].map(col).to_numpy(np.int64)
    ib = episodes["asset_b"].map(col).to_numpy(np.int64)
    t = panel.times.searchsorted(pd.DatetimeIndex(episodes["entry_time"]))
    out = np.full(len(episodes), np.nan)
    pairs, inv = np.unique(np.stack([ia, ib], axis=1), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for s in range(0, len(pairs), 256):
        blk = pairs[s : s + 256]
        p = pair_coint_pvalues(panel, cfg, blk[:, 0], blk[:, 1])
        sel = (inv >= s) & (inv < s + len(blk))
        out[sel] = p[inv[sel] - s, t[sel]]
    return out


def kalman_config(cfg: Config) -> Config:
    """``cfg`` with ``spread.beta_model: kalman``.

    The episodes of the ``naive_kalman`` baseline are ``build_episodes(panel, kalman_config(cfg))``.
    """
    return cfg.model_copy(update={"spread": cfg.spread.model_copy(update={"beta_model": "kalman"})})
