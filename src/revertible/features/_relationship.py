"""Relationship family (and the divergence family's z velocity), read from per-pair values.

Return correlations over several windows, hedge-ratio stability, z velocity.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from ..spread import entry_values, kalman_series, min_obs

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Config

__all__: list[str] = []

#: Most bytes of per-pair beta and z series (:func:`revertible.spread.entry_values`) held at once.
SERIES_BLOCK_BYTES = 128 * 2**20


@nb.njit(cache=True, parallel=True)
def _beta_kernel(beta, p, t, w, min_n, out):  # pragma: no cover
    """Hedge-ratio stability at ``t`` over the series ``beta[p]`` (rows of a block).

    Absolute, not relative to ``|beta_t|``: beta is a log-log slope (unitless), and on real data
    it crosses zero often enough that a ratio explodes.
    """
    for i in nb.prange(t.shape[0]):
        bs = beta[p[i]]
        bt = bs[t[i]]
        out[i, 0] = np.nan
        out[i, 1] = np.nan
        if not np.isfinite(bt):
            continue
        lo = max(0, t[i] - w + 1)
        n = 0
        tot = 0.0
        for j in range(lo, t[i] + 1):
            if np.isfinite(bs[j]):
                n += 1
                tot += bs[j]
        if n >= min_n:
            mean = tot / n
            ss = 0.0
            for j in range(lo, t[i] + 1):
                if np.isfinite(bs[j]):
                    ss += (bs[j] - mean) * (bs[j] - mean)
            out[i, 0] = math.sqrt(ss / (n - 1))
        if t[i] >= w:
            out[i, 1] = bt - bs[t[i] - w]


def _pair_block_features(
    logp: np.ndarray,
    t: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    cfg: Config,
    progress: Callable[[int, int], None] | None,
    days_to_bars: Callable[[float], int] = lambda d: int(d) * 24,
) -> dict[str, np.ndarray]:
    """Features read from per-pair series: z velocity, correlations, hedge-ratio stability.

    z and beta are those of ``spread.beta_model`` (the rolling OLS kernel, or the Kalman filter).

    ``days_to_bars``: the panel's :meth:`~revertible.data.Panel.days_to_bars` (hourly default).

    One pass per block of pairs (:func:`revertible.spread.entry_values`) gives every correlation
    window's value at the entry bars and the per-bar beta and z series (bit for bit the values of
    the kernel's record mode, one pass per window, that this replaced). Pairs are processed in
    blocks of ``cfg.compute.block_size``, at most :data:`SERIES_BLOCK_BYTES` of series per block
    (``2 * T`` floats per pair; ``6 * T`` for the Kalman filter's series); each block's series
    live only while its episodes' values are extracted. A pair's values do not depend on the
    block it is in.
    """
    n_ep = len(t)
    n_assets = logp.shape[1]
    sc, uc, fc = cfg.spread, cfg.universe, cfg.features
    sb = fc.short_bars
    codes = ia * n_assets + ib
    pairs, inv = np.unique(codes, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(pairs) + 1))
    out = {f"z_velocity_{k}": np.full(n_ep, np.nan) for k in fc.z_lags}
    windows = [fc.corr_short_days, *fc.corr_days]
    corr = np.full((n_ep, len(windows)), np.nan)
    beta_stab = np.full((n_ep, 2), np.nan)
    kalman = sc.beta_model == "kalman"
    per_pair = (6 if kalman else 2) * 8 * max(len(logp), 1)  # bytes of series (Kalman: 6)
    bs = max(1, min(cfg.compute.block_size, SERIES_BLOCK_BYTES // per_pair))
    for s in range(0, len(pairs), bs):
        e = min(s + bs, len(pairs))
        rows = order[bounds[s] : bounds[e]]
        local = inv[rows] - s
        tt = t[rows]
        pa, pb = pairs[s:e] // n_assets, pairs[s:e] % n_assets
        corr[rows], sr = entry_values(
            logp, pa, pb, local, tt, [days_to_bars(d) for d in windows], uc.min_obs_frac,
            sc.beta_window, sc.z_window, sc.min_obs_frac, spread=not kalman,
        )
        if kalman:  # z and beta of the episodes' own model
            sr = kalman_series(logp, pa, pb, sc.beta_window, sc.z_window, sc.min_obs_frac,
                               sc.kalman_state_noise, sc.kalman_obs_noise)[:, [0, 4]]  # fmt: skip
        zt = sr[local, 1, tt]
        sgn = np.sign(zt)
        for k in fc.z_lags:
            lag = tt - k
            zl = np.where(lag >= 0, sr[local, 1, np.maximum(lag, 0)], np.nan)
            out[f"z_velocity_{k}"][rows] = sgn * (zt - zl) / k
        stab = np.empty((len(rows), 2))
        _beta_kernel(sr[:, 0, :], local, tt, sb, min_obs(sb, sc.min_obs_frac), stab)
        beta_stab[rows] = stab
        del sr
        if progress is not None:
            progress(e, len(pairs))
    for k, days in enumerate(windows):
        out[f"corr_{days}d"] = corr[:, k]
    out[f"beta_std_{sb}"] = beta_stab[:, 0]
    out[f"beta_change_{sb}"] = beta_stab[:, 1]
    base = out[f"corr_{fc.corr_days[0]}d"]
    cs = fc.corr_short_days
    out[f"corr_shift_{cs}d"] = np.sign(base) * (out[f"corr_{cs}d"] - base)
    out["relationship_sign"] = np.where(base != 0.0, np.sign(base), np.nan)
    return out
