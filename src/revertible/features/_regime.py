"""Regime and liquidity families: per-asset trailing series and market cross-sections."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from ..spread import min_obs

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__: list[str] = []


@nb.njit(cache=True, nogil=True)
def _rolling_sums(x, w, cnt, s1, s2):  # pragma: no cover
    """Count, sum and sum of squares of the finite ``x[j]``, ``j`` in ``t-w+1..t``, per ``t``.

    Running sums, recomputed exactly from the window at every multiple of ``w`` (a schedule fixed
    by the position, so a value at ``t`` never depends on where the series ends).
    """
    c = 0
    a = 0.0
    b = 0.0
    for t in range(x.shape[0]):
        if t % w == 0:
            c = 0
            a = 0.0
            b = 0.0
            for j in range(max(0, t - w + 1), t + 1):
                if np.isfinite(x[j]):
                    c += 1
                    a += x[j]
                    b += x[j] * x[j]
        else:
            if np.isfinite(x[t]):
                c += 1
                a += x[t]
                b += x[t] * x[t]
            k = t - w
            if k >= 0 and np.isfinite(x[k]):
                c -= 1
                a -= x[k]
                b -= x[k] * x[k]
        cnt[t] = c
        s1[t] = a
        s2[t] = b


@nb.njit(cache=True, parallel=True)
def _asset_kernel(
    logp, qv, short, long, min_s, min_l, k_sigma, vol_ratio, spikes, ret_s, qv_ratio, log_qv
):  # pragma: no cover
    """Per-asset trailing regime and liquidity series, ``(T, N)`` each, windows ending at ``t``."""
    n, m = logp.shape
    for i in nb.prange(m):
        r = np.full(n, np.nan)
        for t in range(1, n):
            r[t] = logp[t, i] - logp[t - 1, i]
        q = np.ascontiguousarray(qv[:, i])
        cs = np.empty(n, np.int64)
        cl = np.empty(n, np.int64)
        a_s = np.empty(n)
        b_s = np.empty(n)
        a_l = np.empty(n)
        b_l = np.empty(n)
        # returns: short and long std
        _rolling_sums(r, short, cs, a_s, b_s)
        _rolling_sums(r, long, cl, a_l, b_l)
        vol_l = np.full(n, np.nan)
        vol_s = np.full(n, np.nan)
        for t in range(n):
            if cl[t] >= min_l:
                vol_l[t] = math.sqrt(max(b_l[t] - a_l[t] * a_l[t] / cl[t], 0.0) / (cl[t] - 1))
            if cs[t] >= min_s:
                vol_s[t] = math.sqrt(max(b_s[t] - a_s[t] * a_s[t] / cs[t], 0.0) / (cs[t] - 1))
        for t in range(n):
            if vol_l[t] > 0.0:
                vol_ratio[t, i] = vol_s[t] / vol_l[t]
            hits = 0
            cmp = 0
            for j in range(max(1, t - short + 1), t + 1):
                ref = vol_l[j - 1]
                if np.isfinite(r[j]) and ref > 0.0:
                    cmp += 1
                    if abs(r[j]) > k_sigma * ref:
                        hits += 1
            if cmp >= min_s:
                spikes[t, i] = hits
            if t >= short:
                ret_s[t, i] = logp[t, i] - logp[t - short, i]
        # quote volume: short and long means
        _rolling_sums(q, short, cs, a_s, b_s)
        _rolling_sums(q, long, cl, a_l, b_l)
        for t in range(n):
            if cs[t] >= min_s:
                log_qv[t, i] = math.log1p(max(a_s[t], 0.0) * short / cs[t])
                if cl[t] >= min_l and a_l[t] > 0.0:
                    qv_ratio[t, i] = max(a_s[t], 0.0) / cs[t] / (a_l[t] / cl[t])


@nb.njit(cache=True)
def _market_kernel(vol_ratio, ret_s, min_assets, mkt_vol, disp):  # pragma: no cover
    """Cross-sections per bar over the assets with a value at that bar."""
    n, m = vol_ratio.shape
    buf = np.empty(m)
    for t in range(n):
        c = 0
        for i in range(m):
            if np.isfinite(vol_ratio[t, i]):
                buf[c] = vol_ratio[t, i]
                c += 1
        if c >= min_assets:
            mkt_vol[t] = np.median(buf[:c])
        c = 0
        tot = 0.0
        for i in range(m):
            if np.isfinite(ret_s[t, i]):
                c += 1
                tot += ret_s[t, i]
        if c >= min_assets:
            mean = tot / c
            ss = 0.0
            for i in range(m):
                if np.isfinite(ret_s[t, i]):
                    ss += (ret_s[t, i] - mean) ** 2
            disp[t] = math.sqrt(ss / (c - 1))


def _asset_features(panel: Panel, cfg: Config) -> dict[str, np.ndarray]:
    """``(T, N)`` regime and liquidity series and ``(T,)`` market series, trailing windows."""
    fc = cfg.features
    n, m = panel.n_bars, panel.n_assets
    frac = cfg.universe.min_obs_frac
    arr = {k: np.full((n, m), np.nan, order="F") for k in ("vol_ratio", "spikes", "ret_s")}
    arr.update({k: np.full((n, m), np.nan, order="F") for k in ("qv_ratio", "log_qv")})
    _asset_kernel(
        panel.log_close(), np.asfortranarray(panel.quote_volume, dtype=np.float64),
        fc.regime_short_bars, fc.regime_long_bars,
        min_obs(fc.regime_short_bars, frac), min_obs(fc.regime_long_bars, frac),
        float(fc.spike_sigma), arr["vol_ratio"], arr["spikes"], arr["ret_s"], arr["qv_ratio"],
        arr["log_qv"],
    )
    arr["mkt_vol_ratio"] = np.full(n, np.nan)
    arr["mkt_dispersion"] = np.full(n, np.nan)
    _market_kernel(
        arr["vol_ratio"], arr["ret_s"], fc.market_min_assets, arr["mkt_vol_ratio"],
        arr["mkt_dispersion"],
    )
    return arr
