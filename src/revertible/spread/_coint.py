"""Engle-Granger cointegration test on trailing windows, on a schedule, point in time.

The test of one window (bars with both prices, in order):

1. OLS of ``a`` on ``b`` and a constant; residual ``u``.
2. Augmented Dickey-Fuller regression of the residual without constant, with a fixed number of
   lagged differences ``k``: ``du_t = g * u_(t-1) + sum_(i=1..k) c_i * du_(t-i) + e_t`` over the
   ``n - 1 - k`` rows where all terms exist; the statistic is the t of ``g`` (OLS standard error,
   ``SSR / (rows - k - 1)``).
3. The p-value is MacKinnon's (1994) approximate asymptotic one for a constant and two I(1)
   series: ``Phi(poly(t))`` with the published coefficients for ``N = 2``, case ``c`` (a cubic
   above ``t* = -2.62``, a quadratic below; 1 above 0.92, 0 below -18.86).

This is the definition of statsmodels' ``coint(a, b, trend="c", maxlag=k, autolag=None)``, which
the tests hold it to within 1e-6 on real pairs.

Schedule: the p-value is computed at the last bar of every ``every`` bars (a day by default:
``Panel.day_bars``) from the ``window`` bars ending there, and carried forward until the next
computation, so the value at ``t`` uses bars ``<= t`` only and costs one test per pair per day,
not per bar. A window with fewer than ``min_obs`` bars with both prices, or too few rows for the
regression, gives NaN.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["mackinnon_p", "engle_granger", "coint_pvalues"]

# MacKinnon (1994), Table 3 (N = 2, constant): bounds, switch point and polynomial coefficients
_TAU_MAX, _TAU_MIN, _TAU_STAR = 0.92, -18.86, -2.62
_SMALL = (2.92, 1.5012, 3.9796e-2)
_LARGE = (2.1945, 6.4695e-1, -2.9198e-1, -4.2377e-2)


@nb.njit(cache=True, nogil=True)
def _mackinnon_p(stat):  # pragma: no cover
    if not np.isfinite(stat):
        return 0.0 if stat < 0 else np.nan
    if stat > _TAU_MAX:
        return 1.0
    if stat < _TAU_MIN:
        return 0.0
    if stat <= _TAU_STAR:
        x = _SMALL[0] + stat * (_SMALL[1] + stat * _SMALL[2])
    else:
        x = _LARGE[0] + stat * (_LARGE[1] + stat * (_LARGE[2] + stat * _LARGE[3]))
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def mackinnon_p(stat: float) -> float:
    """MacKinnon's approximate p-value of an Engle-Granger t for two series with a constant.

    Examples
    --------
    >>> round(mackinnon_p(-3.34), 3), mackinnon_p(1.0), mackinnon_p(-20.0)
    (0.049, 1.0, 0.0)
    """
    return float(_mackinnon_p(float(stat)))


@nb.njit(cache=True, nogil=True)
def _solve(xtx, xty, m):  # pragma: no cover
    """Solve the ``m x m`` system by Gaussian elimination with partial pivoting.

    Returns the solution and the ``[0, 0]`` element of the inverse (NaN if singular).
    """
    a = xtx[:m, :m].copy()
    rhs = np.zeros((m, 2))
    rhs[:, 0] = xty[:m]
    rhs[0, 1] = 1.0
    for c in range(m):
        piv = c
        for r in range(c + 1, m):
            if abs(a[r, c]) > abs(a[piv, c]):
                piv = r
        if a[piv, c] == 0.0:
            return np.full(m, np.nan), np.nan
        if piv != c:
            for k in range(m):
                a[c, k], a[piv, k] = a[piv, k], a[c, k]
            for k in range(2):
                rhs[c, k], rhs[piv, k] = rhs[piv, k], rhs[c, k]
        for r in range(c + 1, m):
            f = a[r, c] / a[c, c]
            for k in range(c, m):
                a[r, k] -= f * a[c, k]
            for k in range(2):
                rhs[r, k] -= f * rhs[c, k]
    sol = np.zeros((m, 2))
    for r in range(m - 1, -1, -1):
        for k in range(2):
            acc = rhs[r, k]
            for j in range(r + 1, m):
                acc -= a[r, j] * sol[j, k]
            sol[r, k] = acc / a[r, r]
    return sol[:, 0].copy(), sol[0, 1]


@nb.njit(cache=True, nogil=True)
def _eg_stat(a, b, lags):  # pragma: no cover
    """Engle-Granger ADF t of the residual of ``a`` on ``b`` (both finite, in order)."""
    n = a.shape[0]
    m = lags + 1
    rows = n - 1 - lags
    if rows < m + 2:
        return np.nan
    ma = a.mean()
    mb = b.mean()
    sab = 0.0
    sbb = 0.0
    for j in range(n):
        sab += (a[j] - ma) * (b[j] - mb)
        sbb += (b[j] - mb) * (b[j] - mb)
    if sbb <= 0.0:
        return np.nan
    beta = sab / sbb
    c = ma - beta * mb
    u = a - beta * b - c
    du = np.diff(u)  # du[i] = u[i + 1] - u[i]
    xtx = np.zeros((m, m))
    xty = np.zeros(m)
    x = np.empty(m)
    yy = 0.0
    for i in range(lags, n - 1):  # row: du[i] on u[i], du[i - 1], ..., du[i - lags]
        x[0] = u[i]
        for k in range(1, m):
            x[k] = du[i - k]
        y = du[i]
        yy += y * y
        for p in range(m):
            xty[p] += x[p] * y
            for q in range(m):
                xtx[p, q] += x[p] * x[q]
    coef, inv00 = _solve(xtx, xty, m)
    if not np.isfinite(inv00):
        return np.nan
    ssr = yy
    for p in range(m):  # SSR = y'y - coef' X'y at the least-squares solution
        ssr -= coef[p] * xty[p]
    if ssr <= 0.0:
        return -np.inf
    s2 = ssr / (rows - m)
    return coef[0] / math.sqrt(s2 * inv00)


@nb.njit(cache=True, nogil=True)
def _valid(a, b, lo, hi):  # pragma: no cover
    ok = np.isfinite(a[lo:hi]) & np.isfinite(b[lo:hi])
    return a[lo:hi][ok], b[lo:hi][ok]


def engle_granger(a: np.ndarray, b: np.ndarray, lags: int = 1) -> tuple[float, float]:
    """Engle-Granger statistic and MacKinnon p-value of one window (NaN bars dropped).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = np.cumsum(rng.normal(0, 0.01, 1000))
    >>> stat, p = engle_granger(0.8 * b + rng.normal(0, 0.002, 1000), b)
    >>> bool(p < 0.01), bool(engle_granger(np.cumsum(rng.normal(0, 0.01, 1000)), b)[1] > 0.05)
    (True, True)
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    x, y = _valid(a, b, 0, len(a))
    stat = float(_eg_stat(x, y, int(lags)))
    return stat, mackinnon_p(stat)


@nb.njit(cache=True, parallel=True)
def _coint_block(logp, ia, ib, window, lags, every, min_n, out):  # pragma: no cover
    n = logp.shape[0]
    for p in nb.prange(ia.shape[0]):
        a = logp[:, ia[p]]
        b = logp[:, ib[p]]
        cur = np.nan
        for t in range(n):
            if (t + 1) % every == 0:
                lo = max(0, t - window + 1)
                x, y = _valid(a, b, lo, t + 1)
                cur = np.nan
                if x.shape[0] >= min_n:
                    cur = _mackinnon_p(_eg_stat(x, y, lags))
            out[p, t] = cur


def coint_pvalues(
    logp: np.ndarray, ia: np.ndarray, ib: np.ndarray, window: int, lags: int = 1,
    every: int = 24, min_obs: int | None = None,
) -> np.ndarray:
    """Scheduled Engle-Granger p-values of pairs ``(ia[p], ib[p])`` (module docstring).

    Parameters
    ----------
    logp : numpy.ndarray
        ``(T, N)`` log prices.
    ia, ib : numpy.ndarray
        Column indices of legs A and B.
    window : int
        Trailing bars of each test.
    lags : int
        Lagged differences in the ADF regression.
    every : int
        Bars between computations (at bars ``t`` with ``(t + 1) % every == 0``).
    min_obs : int, optional
        Bars with both prices a window needs; default 90% of ``window``.

    Returns
    -------
    numpy.ndarray
        ``(P, T)`` p-values, each carried forward from its computation; NaN before the first.
    """
    logp = np.asfortranarray(logp, dtype=np.float64)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    need = int(math.ceil(0.9 * window)) if min_obs is None else int(min_obs)
    out = np.empty((len(ia), logp.shape[0]))
    _coint_block(logp, ia, ib, int(window), int(lags), max(1, int(every)), need, out)
    return out
