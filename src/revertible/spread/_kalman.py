"""Kalman-filter hedge ratio (``spread.beta_model: kalman``): compiled, point in time.

Model, on log prices centred at the pair's first bar with both prices (``y_t = a_t - a_0``,
``h_t = b_t - b_0``, which keeps the numbers small)::

    y_t = beta_t * h_t + c_t + e_t,            e_t ~ N(0, R)        (observation)
    (beta_t, c_t) = (beta_(t-1), c_(t-1)) + w_t, w_t ~ N(0, Q * I)   (random-walk state)

with ``Q = spread.kalman_state_noise`` and ``R = spread.kalman_obs_noise`` (per bar, so a coarser
bar wants a larger ``Q``), the prior ``(beta, c) = (0, 0)`` with covariance ``I`` at the first bar
with both prices. At each bar with both prices: predict (``P += Q I``), then update with ``y_t``
(gain ``K = P H' / (H P H' + R)``, ``H = (h_t, 1)``); a bar missing a price only predicts. The
value at ``t`` is the filtered state after bar ``t``'s update: it uses bars ``<= t`` only, so
cutting the data at any ``T`` leaves every earlier value unchanged. ``beta`` is NaN at bars
missing a price and until the filter has seen ``min_obs`` bars with both (the warm-up, the same
count the OLS window needs). The intercept is returned on the raw scale: ``alpha_t = a_0 + c_t -
beta_t * b_0``.

Spread, mean, std and z then follow the definitions of the OLS path (:mod:`._series`) with the
filtered ``beta_t`` in place of the rolling OLS slope: ``s_t = a_t - beta_t * b_t`` and the mean and
std (ddof 1) of ``a_j - beta_t * b_j`` over the z window, ``beta_t`` frozen at ``t``. The episode
detector and label (:func:`revertible.episodes.pair_episodes`) read those series unchanged.

:func:`kalman_reference` is the same filter written plainly with numpy 2x2 matrices; the tests
hold the compiled filter to it within 1e-9.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._reference import detect_label
from ._series import min_obs

__all__ = ["kalman_beta", "kalman_reference", "kalman_series", "kalman_episode_rows"]


@nb.njit(cache=True, nogil=True)
def _kalman_pair(a, b, q, r, warm, out):  # pragma: no cover
    """Filtered ``beta`` and raw-scale intercept of one pair into ``out[0]`` and ``out[1]``."""
    n = a.shape[0]
    out[:, :] = np.nan
    a0 = np.nan
    b0 = np.nan
    x0 = 0.0
    x1 = 0.0
    p00 = 1.0
    p01 = 0.0
    p11 = 1.0
    seen = 0
    for t in range(n):
        ok = np.isfinite(a[t]) and np.isfinite(b[t])
        if not np.isfinite(a0):
            if not ok:
                continue
            a0 = a[t]
            b0 = b[t]
        else:
            p00 += q
            p11 += q
        if not ok:
            continue
        y = a[t] - a0
        h = b[t] - b0
        # S = H P H' + R, K = P H' / S, H = (h, 1)
        ph0 = p00 * h + p01
        ph1 = p01 * h + p11
        s = h * ph0 + ph1 + r
        k0 = ph0 / s
        k1 = ph1 / s
        e = y - (x0 * h + x1)
        x0 += k0 * e
        x1 += k1 * e
        # P = P - K H P  (symmetric: K H P = (P H')(P H')' / S)
        p00 -= k0 * ph0
        p01 -= k0 * ph1
        p11 -= k1 * ph1
        seen += 1
        if seen >= warm:
            out[0, t] = x0
            out[1, t] = a0 + x1 - x0 * b0


@nb.njit(cache=True, nogil=True)
def _frozen_z(a, b, beta, zw, min_z, out):  # pragma: no cover
    """Spread, mean, std and z of ``a - beta_t * b`` over the z window, ``beta_t`` frozen at t."""
    n = a.shape[0]
    for t in range(n):
        bt = beta[t]
        s = a[t] - bt * b[t]
        k = 0
        su = 0.0
        lo = max(0, t - zw + 1)
        for j in range(lo, t + 1):
            if np.isfinite(a[j]) and np.isfinite(b[j]):
                k += 1
                su += a[j] - bt * b[j]
        m = np.nan
        sd = np.nan
        if k >= min_z and np.isfinite(bt):
            m = su / k
            ss = 0.0
            for j in range(lo, t + 1):
                if np.isfinite(a[j]) and np.isfinite(b[j]):
                    d = a[j] - bt * b[j] - m
                    ss += d * d
            sd = math.sqrt(ss / (k - 1))
        if not np.isfinite(s):
            sd = np.nan
        out[0, t] = s
        out[1, t] = m
        out[2, t] = sd
        out[3, t] = (s - m) / sd if sd > 0.0 else np.nan


@nb.njit(cache=True, parallel=True)
def _kalman_block(logp, ia, ib, q, r, warm, zw, min_z, out):  # pragma: no cover
    for p in nb.prange(ia.shape[0]):
        a = logp[:, ia[p]]
        b = logp[:, ib[p]]
        ka = np.empty((2, a.shape[0]))
        _kalman_pair(a, b, q, r, warm, ka)
        zs = np.empty((4, a.shape[0]))
        _frozen_z(a, b, ka[0], zw, min_z, zs)
        out[p, 0] = ka[0]
        out[p, 1] = zs[0]
        out[p, 2] = zs[1]
        out[p, 3] = zs[2]
        out[p, 4] = zs[3]
        out[p, 5] = ka[1]


def _check_noise(state_noise: float, obs_noise: float) -> None:
    if not (state_noise > 0.0 and obs_noise > 0.0):
        raise ValueError(
            f"Kalman noises must be positive, got state_noise={state_noise}, "
            f"obs_noise={obs_noise}"
        )


def kalman_beta(
    a: np.ndarray, b: np.ndarray, state_noise: float = 1e-6, obs_noise: float = 1e-4,
    warmup: int = 1,
) -> np.ndarray:
    """Filtered hedge ratio and intercept of one pair (compiled; see the module docstring).

    Parameters
    ----------
    a, b : numpy.ndarray
        Log prices of legs A and B (NaN where missing).
    state_noise, obs_noise : float
        ``Q`` and ``R`` per bar, both > 0.
    warmup : int
        Bars with both prices before a value is reported.

    Returns
    -------
    numpy.ndarray
        ``(2, T)``: beta and intercept (raw scale), NaN where unknown.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = np.cumsum(rng.normal(0, 0.01, 3000))
    >>> a = 0.8 * b + 0.1 + rng.normal(0, 0.002, 3000)
    >>> out = kalman_beta(a, b, 1e-7, 4e-6)
    >>> bool(abs(out[0, -1] - 0.8) < 0.05), bool(abs(out[1, -1] - 0.1) < 0.05)
    (True, True)
    """
    _check_noise(state_noise, obs_noise)
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((2, a.shape[0]))
    _kalman_pair(a, b, float(state_noise), float(obs_noise), int(warmup), out)
    return out


def kalman_reference(
    a: np.ndarray, b: np.ndarray, state_noise: float = 1e-6, obs_noise: float = 1e-4,
    warmup: int = 1,
) -> np.ndarray:
    """The same filter as :func:`kalman_beta`, written plainly with numpy matrices (slow)."""
    _check_noise(state_noise, obs_noise)
    n = len(a)
    out = np.full((2, n), np.nan)
    x = np.zeros(2)
    p = np.eye(2)
    q = state_noise * np.eye(2)
    origin = None
    seen = 0
    for t in range(n):
        ok = bool(np.isfinite(a[t]) and np.isfinite(b[t]))
        if origin is None:
            if not ok:
                continue
            origin = (float(a[t]), float(b[t]))
        else:
            p = p + q
        if not ok:
            continue
        h = np.array([b[t] - origin[1], 1.0])
        y = a[t] - origin[0]
        s = float(h @ p @ h) + obs_noise
        k = p @ h / s
        x = x + k * (y - float(h @ x))
        p = p - np.outer(k, h @ p)
        seen += 1
        if seen >= warmup:
            out[0, t] = x[0]
            out[1, t] = origin[0] + x[1] - x[0] * origin[1]
    return out


def kalman_series(
    logp: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
    state_noise: float = 1e-6,
    obs_noise: float = 1e-4,
) -> np.ndarray:
    """Per-bar Kalman series of pairs ``(ia[p], ib[p])`` of the ``(T, N)`` log prices.

    The warm-up is ``min_obs(beta_window, min_obs_frac)`` bars with both prices (as the OLS
    window); z as in :func:`revertible.spread.pair_series` with the filtered beta.

    Returns
    -------
    numpy.ndarray
        ``(P, 6, T)``: beta, spread, mean, std, z, intercept (the first five in the order of
        :class:`revertible.spread.SpreadSeries`).
    """
    _check_noise(state_noise, obs_noise)
    logp = np.asfortranarray(logp, dtype=np.float64)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    out = np.empty((len(ia), 6, logp.shape[0]))
    _kalman_block(logp, ia, ib, float(state_noise), float(obs_noise),
                  min_obs(beta_window, min_obs_frac), int(z_window),
                  min_obs(z_window, min_obs_frac), out)  # fmt: skip
    return out


@nb.njit(cache=True, parallel=True)
def _kalman_episodes(logp, elig, ia, ib, corr, min_corr, rel, q, r, warm, zw, min_z, entry,
                     exit_, stop, horizon, cap, out, counts):  # pragma: no cover
    n = logp.shape[0]
    for p in nb.prange(ia.shape[0]):
        a = logp[:, ia[p]]
        b = logp[:, ib[p]]
        mask = np.zeros(n, dtype=np.bool_)
        anyone = False
        for t in range(n):
            c = corr[p, t]
            ok = np.isfinite(c) and elig[t, ia[p]] and elig[t, ib[p]]
            if ok:
                if rel == 0:
                    ok = abs(c) >= min_corr
                elif rel == 1:
                    ok = c >= min_corr
                else:
                    ok = c <= -min_corr
            mask[t] = ok
            anyone = anyone or ok
        if not anyone:
            counts[p] = 0
            continue
        ka = np.empty((2, n))
        _kalman_pair(a, b, q, r, warm, ka)
        zs = np.empty((4, n))
        _frozen_z(a, b, ka[0], zw, min_z, zs)
        k = detect_label(a, b, ka[0], zs[1], zs[2], zs[3], mask, entry, exit_, stop, horizon,
                          out[p], cap)
        counts[p] = k
        for i in range(min(k, cap)):
            out[p, i, 9] = corr[p, int(out[p, i, 0])]


def kalman_episode_rows(
    logp: np.ndarray, elig: np.ndarray, ia: np.ndarray, ib: np.ndarray, corr: np.ndarray,
    min_abs_corr: float, relationship: int, beta_window: int, z_window: int,
    min_obs_frac: float, state_noise: float, obs_noise: float, entry: float, exit_: float,
    stop: float, horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Episodes of pairs ``(ia, ib)`` on the Kalman series, compiled and parallel over pairs.

    The detector and label of :func:`revertible.episodes.pair_episodes` over
    :func:`kalman_series`, with the pair eligible at ``t`` when both assets are (``elig``,
    ``(T, N)``) and the return correlation ``corr[p, t]`` passes ``min_abs_corr`` in the
    ``relationship`` direction (0 both, 1 positive, 2 inverse), as in the OLS kernel.

    Returns
    -------
    tuple
        ``rows`` (the episode kernel's 10 fields, correlation at entry last) and ``which`` (the
        position of each row's pair in ``ia``).
    """
    _check_noise(state_noise, obs_noise)
    logp = np.asfortranarray(logp, dtype=np.float64)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    n = logp.shape[0]
    args = (np.asfortranarray(elig, dtype=np.bool_), ia, ib,
            np.ascontiguousarray(corr, dtype=np.float64), float(min_abs_corr), int(relationship),
            float(state_noise), float(obs_noise), min_obs(beta_window, min_obs_frac),
            int(z_window), min_obs(z_window, min_obs_frac), float(entry), float(exit_),
            float(stop), int(horizon))  # fmt: skip
    counts = np.zeros(len(ia), dtype=np.int64)
    cap = min(n // 2 + 1, max(64, n // 16))
    out = np.empty((len(ia), cap, 10))
    _kalman_episodes(logp, *args, cap, out, counts)
    if counts.max(initial=0) > cap:  # rare: a pair with very many episodes
        cap = n // 2 + 1
        out = np.empty((len(ia), cap, 10))
        _kalman_episodes(logp, *args, cap, out, counts)
    which = np.repeat(np.arange(len(ia)), counts)
    slot = np.concatenate([np.arange(c) for c in counts]) if len(which) else which
    return out[which, slot], which
