"""Spread-model family (``features.use_spread_models``): an OU fit and the cointegration p-value.

At each episode's entry bar ``t``, over the ``trailing_bars`` window ending at ``t`` of
``s_j = a_j - beta_t * b_j`` (the episode's hedge ratio frozen, as the spread family):

* OU fit by exact discretisation: OLS ``s_j = c + phi * s_(j-1) + e_j`` over consecutive bars with
  both prices; for ``0 < phi < 1`` the Ornstein-Uhlenbeck speed is ``theta = -ln(phi) / dt``,
  ``ou_speed_per_day`` (``dt`` the bar in days), ``ou_half_life_hours = ln 2 / theta`` in hours and
  ``ou_eq_std = sd(e) / sqrt(1 - phi^2)`` (the stationary std, log units). Time units, not bars,
  so the values mean the same at any bar size. NaN where ``phi`` is outside ``(0, 1)`` (no
  mean reversion) or fewer than 10 pairs of bars exist.
* ``coint_pvalue``: the pair's Engle-Granger p-value from the latest daily test at or before ``t``
  (:func:`revertible.episodes.pair_coint_pvalues`: ``universe.coint_window_days``,
  ``universe.coint_lags``).

All values use bars ``<= t``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["MODEL_FEATURES", "ou_fit", "spread_model_features"]

#: Column -> definition of the spread-model family.
MODEL_FEATURES = {
    "ou_speed_per_day": "OU mean-reversion speed theta (per day) of the trailing-window spread",
    "ou_half_life_hours": "OU half-life ln 2 / theta in hours",
    "ou_eq_std": "OU stationary std of the spread (log units)",
    "coint_pvalue": "Engle-Granger p-value of the pair, latest daily test (trailing window)",
}


@nb.njit(cache=True, nogil=True)
def _ou(s, lo, hi, res):  # pragma: no cover
    """Phi and residual std of the AR(1) with intercept over ``s[lo:hi]`` into ``res[0:2]``."""
    res[0] = np.nan
    res[1] = np.nan
    n = 0
    sx = 0.0
    sy = 0.0
    for j in range(lo + 1, hi):
        if np.isfinite(s[j - 1]) and np.isfinite(s[j]):
            n += 1
            sx += s[j - 1]
            sy += s[j]
    if n < 10:
        return
    mx = sx / n
    my = sy / n
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for j in range(lo + 1, hi):
        if np.isfinite(s[j - 1]) and np.isfinite(s[j]):
            dx = s[j - 1] - mx
            dy = s[j] - my
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
    if sxx <= 0.0:
        return
    phi = sxy / sxx
    res[0] = phi
    res[1] = math.sqrt(max(syy - phi * sxy, 0.0) / (n - 2))


@nb.njit(cache=True, parallel=True)
def _ou_episodes(logp, t, ia, ib, beta, w, out):  # pragma: no cover
    for k in nb.prange(t.shape[0]):
        lo = max(0, t[k] - w + 1)
        s = logp[lo : t[k] + 1, ia[k]] - beta[k] * logp[lo : t[k] + 1, ib[k]]
        res = np.empty(2)
        _ou(s, 0, s.shape[0], res)
        out[k, 0] = res[0]
        out[k, 1] = res[1]


def _ou_params(phi: np.ndarray, sd: np.ndarray, bar: pd.Timedelta) -> dict[str, np.ndarray]:
    dt_days = bar / pd.Timedelta(days=1)
    ok = (phi > 0.0) & (phi < 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(ok, -np.log(np.where(ok, phi, 0.5)) / dt_days, np.nan)
        return {
            "ou_speed_per_day": theta,
            "ou_half_life_hours": np.log(2.0) / theta * 24.0,
            "ou_eq_std": np.where(ok, sd / np.sqrt(1.0 - np.where(ok, phi, 0.0) ** 2), np.nan),
        }


_HOUR = pd.Timedelta(hours=1)


def ou_fit(spread: np.ndarray, bar: pd.Timedelta = _HOUR) -> dict[str, float]:
    """OU speed (per day), half-life (hours) and stationary std of one spread series.

    Examples
    --------
    >>> from revertible.synthetic import simulate_ou_pair
    >>> a, b = simulate_ou_pair(20000, half_life=12, sigma_spread=0.003, seed=1)
    >>> fit = ou_fit(a - b)
    >>> bool(abs(fit["ou_half_life_hours"] - 12) < 1.5)
    True
    """
    s = np.ascontiguousarray(spread, dtype=np.float64)
    res = np.empty(2)
    _ou(s, 0, len(s), res)
    return {k: float(v[0]) for k, v in _ou_params(res[:1], res[1:], bar).items()}


def spread_model_features(
    panel: Panel, t: np.ndarray, ia: np.ndarray, ib: np.ndarray, beta: np.ndarray, cfg: Config,
) -> dict[str, np.ndarray]:
    """The :data:`MODEL_FEATURES` at entry bars ``t`` of pairs ``(ia, ib)`` (column indices)."""
    from ..episodes import episode_coint_pvalues

    logp = panel.log_close()
    t = np.ascontiguousarray(t, dtype=np.int64)
    fit = np.empty((len(t), 2))
    _ou_episodes(logp, t, np.ascontiguousarray(ia, np.int64), np.ascontiguousarray(ib, np.int64),
                 np.ascontiguousarray(beta, np.float64), cfg.features.trailing_bars, fit)
    out = _ou_params(fit[:, 0], fit[:, 1], panel.freq)
    when = pd.DataFrame({"asset_a": np.asarray(panel.assets)[ia],
                         "asset_b": np.asarray(panel.assets)[ib], "entry_time": panel.times[t]})
    pv = episode_coint_pvalues(panel, cfg, when)
    out["coint_pvalue"] = pv
    return out
