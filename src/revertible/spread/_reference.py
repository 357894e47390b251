"""Plain reference implementations the compiled scan (:mod:`._kernel`) is tested against.

Straightforward loops over the definitions (docs/design.md; the docstring of :mod:`._series`), with
no running sums, no lanes and no ring: slow (``O(T * window)`` per pair) and obviously right.

* :func:`reference_series`: beta, spread, mean, std, z and return correlation of one pair;
* :func:`detect_label`: episode detection and label over precomputed series (used by
  :func:`revertible.episodes.pair_episodes`).

tests/spread/test_kernel.py checks the series against :func:`reference_series` and
tests/episodes/test_table.py the episode kernel against :func:`detect_label`, on data with gaps and
late listings.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["reference_series", "detect_label"]


@nb.njit(cache=True, nogil=True)
def _reference_series(a, b, bw, zw, min_b, min_z, cw, min_c, out):  # pragma: no cover
    n = a.shape[0]
    for t in range(n):
        # hedge ratio: OLS slope of a on b over bars t-bw+1..t with both prices
        cnt = 0
        ma = 0.0
        mb = 0.0
        for j in range(max(0, t - bw + 1), t + 1):
            if np.isfinite(a[j]) and np.isfinite(b[j]):
                cnt += 1
                ma += a[j]
                mb += b[j]
        beta = np.nan
        if cnt >= min_b:
            ma /= cnt
            mb /= cnt
            cab = 0.0
            cbb = 0.0
            for j in range(max(0, t - bw + 1), t + 1):
                if np.isfinite(a[j]) and np.isfinite(b[j]):
                    cab += (a[j] - ma) * (b[j] - mb)
                    cbb += (b[j] - mb) * (b[j] - mb)
            if cbb > 0.0:
                beta = cab / cbb
        s = a[t] - beta * b[t]
        # mean and std (ddof=1) of a_j - beta_t * b_j over the z window
        k = 0
        su = 0.0
        for j in range(max(0, t - zw + 1), t + 1):
            if np.isfinite(a[j]) and np.isfinite(b[j]):
                k += 1
                su += a[j] - beta * b[j]
        m = np.nan
        sd = np.nan
        if k >= min_z and np.isfinite(beta):
            m = su / k
            ss = 0.0
            for j in range(max(0, t - zw + 1), t + 1):
                if np.isfinite(a[j]) and np.isfinite(b[j]):
                    d = a[j] - beta * b[j] - m
                    ss += d * d
            sd = math.sqrt(ss / (k - 1))
        if not np.isfinite(s):  # no z without a spread at t
            sd = np.nan
        z = (s - m) / sd if sd > 0.0 else np.nan
        # correlation of one-bar log returns over bars t-cw+1..t
        kc = 0
        mx = 0.0
        my = 0.0
        for j in range(max(1, t - cw + 1), t + 1):
            x = a[j] - a[j - 1]
            y = b[j] - b[j - 1]
            if np.isfinite(x) and np.isfinite(y):
                kc += 1
                mx += x
                my += y
        corr = np.nan
        if kc >= min_c:
            mx /= kc
            my /= kc
            sxy = 0.0
            sxx = 0.0
            syy = 0.0
            for j in range(max(1, t - cw + 1), t + 1):
                x = a[j] - a[j - 1]
                y = b[j] - b[j - 1]
                if np.isfinite(x) and np.isfinite(y):
                    sxy += (x - mx) * (y - my)
                    sxx += (x - mx) * (x - mx)
                    syy += (y - my) * (y - my)
            if sxx > 0.0 and syy > 0.0:
                corr = min(1.0, max(-1.0, sxy / math.sqrt(sxx * syy)))
        out[0, t] = beta
        out[1, t] = s
        out[2, t] = m
        out[3, t] = sd
        out[4, t] = z
        out[5, t] = corr


def reference_series(
    a: np.ndarray,
    b: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
    corr_window: int = 720,
    corr_min_obs_frac: float = 0.9,
) -> np.ndarray:
    """Per-bar series of one pair computed window by window from the definitions.

    Parameters
    ----------
    a, b : numpy.ndarray
        Log prices of legs A and B (NaN where missing).
    beta_window, z_window, min_obs_frac, corr_window, corr_min_obs_frac
        As in :func:`revertible.spread.pair_series`.

    Returns
    -------
    numpy.ndarray
        ``(6, T)``: beta, spread, mean, std, z, return correlation; equal to one pair of
        :func:`revertible.spread.pair_series` up to rounding (the kernel uses running sums).
    """
    from ._series import min_obs

    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((6, a.shape[0]))
    _reference_series(
        a, b, beta_window, z_window, min_obs(beta_window, min_obs_frac),
        min_obs(z_window, min_obs_frac), corr_window, min_obs(corr_window, corr_min_obs_frac), out,
    )
    return out


@nb.njit(cache=True, nogil=True)
def _last_valid(a, b):  # pragma: no cover
    for t in range(a.shape[0] - 1, -1, -1):
        if np.isfinite(a[t]) and np.isfinite(b[t]):
            return t
    return -1


@nb.njit(cache=True, nogil=True)
def detect_label(
    a, b, beta, mean, std, z, elig, entry, exit_, stop, horizon, out, cap
):  # pragma: no cover
    """Reference detector over precomputed series; write up to ``cap`` rows; return the count.

    A second, plain implementation of the rule: the compiled block kernel
    (:func:`._kernel._scan_pair`) is tested against it. ``elig`` is a per-bar boolean
    mask (pair eligibility); ``out`` has shape (cap, 10).
    """
    n = a.shape[0]
    last = _last_valid(a, b)
    count = 0
    busy_until = -1  # episodes cannot start at t <= busy_until
    for t in range(1, n):
        if t <= busy_until:
            continue
        zt = z[t]
        zp = z[t - 1]
        if not (np.isfinite(zt) and np.isfinite(zp)):
            continue
        if abs(zt) < entry or abs(zp) >= entry or not elig[t]:
            continue
        sgn = 1.0 if zt > 0 else -1.0
        bt = beta[t]
        mt = mean[t]
        st = std[t]
        label = np.nan
        reason = 3  # open
        exit_idx = -1
        held = 0
        k_end = min(horizon, n - 1 - t)
        for k in range(1, k_end + 1):
            j = t + k
            if j > last:
                break
            aj = a[j]
            bj = b[j]
            if not (np.isfinite(aj) and np.isfinite(bj)):
                continue
            zz = sgn * (aj - bt * bj - mt) / st
            if zz <= exit_:
                label = 1.0
                reason = 0
                exit_idx = j
                held = k
                break
            if zz >= stop:
                label = 0.0
                reason = 1
                exit_idx = j
                held = k
                break
        if reason == 3:
            if t + horizon <= last:
                label = 0.0
                reason = 2
                exit_idx = t + horizon
                held = horizon
            else:
                held = max(0, last - t)
        if count < cap:
            out[count, 0] = t
            out[count, 1] = zt
            out[count, 2] = bt
            out[count, 3] = mt
            out[count, 4] = st
            out[count, 5] = label
            out[count, 6] = exit_idx
            out[count, 7] = reason
            out[count, 8] = held
            out[count, 9] = np.nan
        count += 1
        busy_until = exit_idx if exit_idx >= 0 else n
    return count
