"""Spread family: z, AR(1), half-life, ADF t and variance ratios over trailing windows.

All use ``s_j = a_j - beta_t * b_j`` with the episode's hedge ratio ``beta_t`` over the window
ending at the entry bar: ``cfg.features.trailing_bars`` ("long") and ``short_bars``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from ..spread import min_obs

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config

__all__: list[str] = []


@nb.njit(cache=True, nogil=True)
def _ar1_stats(sdd, sxx, sxy, syy, n1, w, hl_min, res):  # pragma: no cover
    """``res[1:5]`` from a window's sums: step std, AR(1) phi, half-life, ADF-style t."""
    if sdd > 0.0:
        res[1] = math.sqrt(sdd / (n1 - 1))
    if sxx > 0.0:
        phi = sxy / sxx
        res[2] = phi
        if phi < 1.0:
            hl = hl_min if phi <= 0.0 else -math.log(2.0) / math.log(phi)
            res[3] = min(max(hl, hl_min), float(w))
        ssr = max(syy - phi * sxy, 0.0)
        if ssr > 0.0:
            res[4] = (phi - 1.0) / math.sqrt(ssr / (n1 - 2) / sxx)


@nb.njit(cache=True, nogil=True)
def _window_stats(a, b, t, beta, w, min_n, sgn, vr_lags, hl_min, res):  # pragma: no cover
    """Spread behaviour over bars ``t-w+1..t`` of ``s_j = a_j - beta * b_j``.

    Writes ``res[0:5 + len(vr_lags)]``: signed z, std of one-bar changes, AR(1) slope, half-life
    (clipped to ``[hl_min, w]``), ADF t, then VR(q) per lag; NaN where unknowable. Exact
    two-pass sums (no running state), so values depend on the window's bars only.
    """
    res[:] = np.nan
    lo = max(0, t - w + 1)
    n = 0
    tot = 0.0
    for j in range(lo, t + 1):
        s = a[j] - beta * b[j]
        if np.isfinite(s):
            n += 1
            tot += s
    if n < min_n or n < 4:
        return
    mean = tot / n
    ss = 0.0
    for j in range(lo, t + 1):
        s = a[j] - beta * b[j]
        if np.isfinite(s):
            ss += (s - mean) * (s - mean)
    st = a[t] - beta * b[t]
    if ss > 0.0 and np.isfinite(st):
        res[0] = sgn * (st - mean) / math.sqrt(ss / (n - 1))
    # consecutive pairs (s_(j-1), s_j), centred on the window mean
    n1 = 0
    sx = 0.0
    sy = 0.0
    for j in range(lo + 1, t + 1):
        x = a[j - 1] - beta * b[j - 1]
        y = a[j] - beta * b[j]
        if np.isfinite(x) and np.isfinite(y):
            n1 += 1
            sx += x - mean
            sy += y - mean
    if n1 < 4:
        return
    mx = sx / n1
    my = sy / n1
    md = my - mx
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    sdd = 0.0
    for j in range(lo + 1, t + 1):
        x = a[j - 1] - beta * b[j - 1]
        y = a[j] - beta * b[j]
        if np.isfinite(x) and np.isfinite(y):
            dx = x - mean - mx
            dy = y - mean - my
            dd = (y - x) - md
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
            sdd += dd * dd
    _ar1_stats(sdd, sxx, sxy, syy, n1, w, hl_min, res)
    if sdd <= 0.0:
        return
    var1 = sdd / n1
    for k in range(vr_lags.shape[0]):
        q = vr_lags[k]
        m = 0
        acc = 0.0
        for j in range(lo + q, t + 1):
            x = a[j - q] - beta * b[j - q]
            y = a[j] - beta * b[j]
            if np.isfinite(x) and np.isfinite(y):
                d = (y - x) - q * md
                acc += d * d
                m += 1
        if m >= 4:
            res[5 + k] = acc / m / (q * var1)


@nb.njit(cache=True, nogil=True)
def _window_stats_s(s, lo, t, w, min_n, sgn, vr_lags, hl_min, acc, cnt, res):  # pragma: no cover
    """:func:`_window_stats` from the precomputed spread ``s[j - lo] = a_j - beta * b_j``.

    ``s`` holds bars ``lo .. t`` (at least the window's); the same sums over the same bars in the
    same order as :func:`_window_stats` (each accumulator adds its terms for ascending ``j``), so
    every result is bit-identical; the passes that need no new mean are fused: 3 instead of 5 +
    ``len(vr_lags)``. ``acc`` / ``cnt`` are scratch of ``len(vr_lags)``.
    """
    res[:] = np.nan
    w_lo = max(0, t - w + 1)
    o = w_lo - lo
    m_ = t - w_lo + 1  # bars in the window
    n = 0
    tot = 0.0
    for j in range(m_):
        v = s[o + j]
        if np.isfinite(v):
            n += 1
            tot += v
    if n < min_n or n < 4:
        return
    mean = tot / n
    ss = 0.0
    n1 = 0
    sx = 0.0
    sy = 0.0
    for j in range(m_):
        y = s[o + j]
        if np.isfinite(y):
            ss += (y - mean) * (y - mean)
            if j >= 1:
                x = s[o + j - 1]
                if np.isfinite(x):
                    n1 += 1
                    sx += x - mean
                    sy += y - mean
    st = s[o + m_ - 1]
    if ss > 0.0 and np.isfinite(st):
        res[0] = sgn * (st - mean) / math.sqrt(ss / (n - 1))
    if n1 < 4:
        return
    mx = sx / n1
    my = sy / n1
    md = my - mx
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    sdd = 0.0
    nq = vr_lags.shape[0]
    for k in range(nq):
        acc[k] = 0.0
        cnt[k] = 0
    for j in range(1, m_):
        y = s[o + j]
        if not np.isfinite(y):
            continue
        x = s[o + j - 1]
        if np.isfinite(x):
            dx = x - mean - mx
            dy = y - mean - my
            dd = (y - x) - md
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
            sdd += dd * dd
        for k in range(nq):
            q = vr_lags[k]
            if j >= q:
                xq = s[o + j - q]
                if np.isfinite(xq):
                    d = (y - xq) - q * md
                    acc[k] += d * d
                    cnt[k] += 1
    _ar1_stats(sdd, sxx, sxy, syy, n1, w, hl_min, res)
    if sdd <= 0.0:
        return
    var1 = sdd / n1
    for k in range(nq):
        if cnt[k] >= 4:
            res[5 + k] = acc[k] / cnt[k] / (vr_lags[k] * var1)


#: Episodes per task of :func:`_spread_kernel` (one scratch buffer each).
_CHUNK = 256


@nb.njit(cache=True, parallel=True)
def _spread_kernel(
    logp, ia, ib, t, beta, sgn, w_long, min_long, w_short, min_short, vr_lags, hl_min, out
):  # pragma: no cover
    """``out[i, :k]``: long-window stats, ``out[i, k:]``: short-window stats of episode ``i``.

    The spread over the longer window is computed once per episode and shared by both windows
    (:func:`_window_stats_s`; equal bit for bit to :func:`_window_stats`).
    """
    k = out.shape[1] // 2
    n_ep = t.shape[0]
    w = max(w_long, w_short)
    nq = vr_lags.shape[0]
    for c in nb.prange((n_ep + _CHUNK - 1) // _CHUNK):
        s = np.empty(w)
        acc = np.empty(max(nq, 1))
        cnt = np.empty(max(nq, 1), np.int64)
        for i in range(c * _CHUNK, min(n_ep, (c + 1) * _CHUNK)):
            ti = t[i]
            lo = max(0, ti - w + 1)
            bi = beta[i]
            a_col = ia[i]
            b_col = ib[i]
            for j in range(lo, ti + 1):
                s[j - lo] = logp[j, a_col] - bi * logp[j, b_col]
            _window_stats_s(s, lo, ti, w_long, min_long, sgn[i], vr_lags, hl_min, acc, cnt,
                            out[i, :k])
            _window_stats_s(s, lo, ti, w_short, min_short, sgn[i], vr_lags, hl_min, acc, cnt,
                            out[i, k:])


@nb.njit(cache=True, parallel=True)
def _spread_kernel_reference(
    logp, ia, ib, t, beta, sgn, w_long, min_long, w_short, min_short, vr_lags, hl_min, out
):  # pragma: no cover
    """The direct form (:func:`_window_stats` per window): what the tests compare against."""
    k = out.shape[1] // 2
    for i in nb.prange(t.shape[0]):
        a = logp[:, ia[i]]
        b = logp[:, ib[i]]
        _window_stats(a, b, t[i], beta[i], w_long, min_long, sgn[i], vr_lags, hl_min, out[i, :k])
        _window_stats(
            a, b, t[i], beta[i], w_short, min_short, sgn[i], vr_lags, hl_min, out[i, k:]
        )


def _spread_features(
    logp: np.ndarray, t: np.ndarray, ia: np.ndarray, ib: np.ndarray, beta: np.ndarray,
    sgn: np.ndarray, episodes: pd.DataFrame, cfg: Config,
) -> dict[str, np.ndarray]:
    """The ``spread`` family of every episode (long and short windows)."""
    fc, sc = cfg.features, cfg.spread
    sb = fc.short_bars
    n_stats = 5 + len(fc.vr_lags)
    stats = np.empty((len(t), 2 * n_stats))
    _spread_kernel(
        logp, ia, ib, t, beta, sgn, fc.trailing_bars, min_obs(fc.trailing_bars, sc.min_obs_frac),
        sb, min_obs(sb, sc.min_obs_frac), np.asarray(fc.vr_lags, np.int64),
        fc.half_life_min, stats,
    )
    long, short = stats[:, :n_stats], stats[:, n_stats:]
    values: dict[str, np.ndarray] = {}
    for k, stat in enumerate(("spread_z", "spread_ar1", "spread_half_life", "spread_adf_t")):
        col = (0, 2, 3, 4)[k]
        values[f"{stat}_long"] = long[:, col]
        values[f"{stat}_{sb}"] = short[:, col]
    for k, q in enumerate(fc.vr_lags):
        values[f"spread_vr{q}_long"] = long[:, 5 + k]
    values["spread_dvol_long"] = long[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        values["spread_dvol_ratio"] = short[:, 1] / long[:, 1]
        values["spread_std_to_dvol"] = episodes["spread_std"].to_numpy(np.float64) / long[:, 1]
    return values
