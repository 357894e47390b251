"""Hedge ratio, spread and z-score per pair and bar (DESIGN.md default definition).

For an ordered pair (A, B) with log prices ``a``, ``b``:

* ``beta_t``: OLS slope (with intercept) of ``a`` on ``b`` over the trailing ``beta_window`` bars
  ending at ``t`` inclusive, using the bars where both prices exist;
* ``spread_t = a_t - beta_t * b_t``;
* ``z_t = (spread_t - mean_t) / std_t`` with ``mean_t`` and ``std_t`` (ddof=1) the mean and
  standard deviation of ``a_j - beta_t * b_j`` over the trailing ``z_window`` bars ``j`` ending at
  ``t`` inclusive, i.e. the window's spread *under the current hedge ratio*.

Why the current hedge ratio: mixing bars that each carry their own ``beta_j`` adds
``(beta_j - beta_t) * b_j`` to the window, a term that grows with the log-price level, so z (and
every label) would change with the quote unit of a leg (prices x1000 changed the reversion rate of a
simulated half-life-12 pair from 0.67 to 0.25). With ``beta_t`` throughout, z is invariant to the
price unit and is exactly the spread a trader holding the ``beta_t`` hedge watches; the label's
frozen ``mean_t``/``std_t`` are the same quantities.

A window is usable when at least ``ceil(min_obs_frac * window)`` of its bars are valid; otherwise the
value is NaN. Everything at ``t`` uses bars ``<= t`` only.

The rolling statistics are running sums updated in O(1) per bar. To bound floating-point drift the
sums are centred on a reference value and recomputed exactly from the window every ``window`` bars;
the schedule is fixed by the position in the series, so values are deterministic and cutting the
series at any ``T`` leaves every value at ``t <= T`` bit-identical.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

__all__ = ["SpreadSeries", "pair_spread", "pair_series", "pack_assets", "rolling_corr", "min_obs"]


class SpreadSeries(NamedTuple):
    """Per-bar spread state of one pair; every array has the length of the price series."""

    beta: np.ndarray
    spread: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    z: np.ndarray


def min_obs(window: int, frac: float) -> int:
    """Valid bars a window of ``window`` bars needs: ``ceil(frac * window)``, at least 2."""
    return max(2, int(math.ceil(frac * window - 1e-9)))


@nb.njit(cache=True, nogil=True)
def _scan_pair(
    pa, pb, ea, eb, bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel,
    entry, exit_, stop, horizon, record, beta_o, spread_o, mean_o, std_o, z_o, corr_o, out, cap,
):  # pragma: no cover
    """One pass over a pair: hedge ratio, spread, z-score, return correlation, episodes, labels.

    ``pa``/``pb`` are the legs' packed rows from :func:`pack_assets` (log price, log price with
    NaN as 0, validity, one-bar return with NaN as 0, return validity), so the rolling sums are
    updated without branches. The single implementation behind :func:`pair_series`
    (``record=True``: every per-bar series is written to the ``*_o`` arrays) and the episode
    kernel (``record=False``: only episodes are written to ``out``, shape (cap, 10); z is
    computed exactly only where ``|z|`` may reach ``entry``, the correlation only at candidate
    entries). Returns the number of episodes.

    Rolling sums are centred and recomputed exactly from the window once every window length, on a
    schedule fixed by the bar position, so values do not depend on where the series is cut.
    """
    a = pa[0]
    b = pb[0]
    a0 = pa[1]
    b0 = pb[1]
    va = pa[2]
    vb = pb[2]
    ra = pa[3]
    rb = pb[3]
    wa = pa[4]
    wb = pb[4]
    n = a.shape[0]
    e2 = entry * entry * (1.0 - 1e-9)
    last = -1
    for t in range(n - 1, -1, -1):
        if va[t] * vb[t] > 0.0:
            last = t
            break
    started = False
    ca = 0.0
    cb = 0.0
    cnt = 0.0
    sa = 0.0
    sb = 0.0
    sab = 0.0
    sbb = 0.0
    zn = 0.0
    zx = 0.0
    zy = 0.0
    zxx = 0.0
    zyy = 0.0
    zxy = 0.0
    cz_left = zw
    ccnt = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    cc_left = cw
    cb_left = bw
    inv = np.empty(zw + 1)  # reciprocal table: multiply instead of divide
    inv[0] = 0.0
    for k in range(1, zw + 1):
        inv[k] = 1.0 / k
    prev_below = False  # |z_{t-1}| < entry and z_{t-1} finite
    busy_until = -1
    count = 0
    for t in range(n):
        v = va[t] * vb[t]
        if not started and v > 0.0:
            started = True
            ca = a0[t]
            cb = b0[t]
        # ---- return-correlation sums (window cw: returns of bars t-cw+1..t)
        cc_left -= 1
        if cc_left < 0:
            cc_left = cw - 1
            ccnt = 0.0
            sx = 0.0
            sy = 0.0
            sxx = 0.0
            syy = 0.0
            sxy = 0.0
            for j in range(max(1, t - cw + 1), t + 1):
                w = wa[j] * wb[j]
                x = ra[j] * w
                y = rb[j] * w
                ccnt += w
                sx += x
                sy += y
                sxx += x * x
                syy += y * y
                sxy += x * y
        else:
            w = wa[t] * wb[t]
            x = ra[t] * w
            y = rb[t] * w
            ccnt += w
            sx += x
            sy += y
            sxx += x * x
            syy += y * y
            sxy += x * y
            k = t - cw
            if k >= 1:
                w = wa[k] * wb[k]
                x = ra[k] * w
                y = rb[k] * w
                ccnt -= w
                sx -= x
                sy -= y
                sxx -= x * x
                syy -= y * y
                sxy -= x * y
        # ---- hedge-ratio sums (window bw, levels), centred on (ca, cb)
        cb_left -= 1
        if cb_left < 0:
            cb_left = bw - 1
            cnt = 0.0
            sa = 0.0
            sb = 0.0
            sab = 0.0
            sbb = 0.0
            for j in range(t - bw + 1, t + 1):
                w = va[j] * vb[j]
                x = (a0[j] - ca) * w
                y = (b0[j] - cb) * w
                cnt += w
                sa += x
                sb += y
                sab += x * y
                sbb += y * y
        else:
            x = (a0[t] - ca) * v
            y = (b0[t] - cb) * v
            cnt += v
            sa += x
            sb += y
            sab += x * y
            sbb += y * y
            k = t - bw
            if k >= 0:
                w = va[k] * vb[k]
                x = (a0[k] - ca) * w
                y = (b0[k] - cb) * w
                cnt -= w
                sa -= x
                sb -= y
                sab -= x * y
                sbb -= y * y
        # ---- z-window sums of the same centred levels (window zw)
        cz_left -= 1
        if cz_left < 0:
            cz_left = zw - 1
            zn = 0.0
            zx = 0.0
            zy = 0.0
            zxx = 0.0
            zyy = 0.0
            zxy = 0.0
            for j in range(t - zw + 1, t + 1):
                w = va[j] * vb[j]
                x = (a0[j] - ca) * w
                y = (b0[j] - cb) * w
                zn += w
                zx += x
                zy += y
                zxx += x * x
                zyy += y * y
                zxy += x * y
        else:
            x = (a0[t] - ca) * v
            y = (b0[t] - cb) * v
            zn += v
            zx += x
            zy += y
            zxx += x * x
            zyy += y * y
            zxy += x * y
            k = t - zw
            if k >= 0:
                w = va[k] * vb[k]
                x = (a0[k] - ca) * w
                y = (b0[k] - cb) * w
                zn -= w
                zx -= x
                zy -= y
                zxx -= x * x
                zyy -= y * y
                zxy -= x * y
        bet = np.nan
        s = np.nan
        if cnt >= min_b:
            # beta = cov / var with both scaled by cnt: one division per bar
            vbb = sbb * cnt - sb * sb
            if vbb > 1e-14 * cnt * max(1.0, sbb):
                bet = (sab * cnt - sa * sb) / vbb
                if v > 0.0:
                    s = a[t] - bet * b[t]
        # ---- mean and std over the z window of a_j - beta_t * b_j (the current hedge ratio,
        # so z does not depend on the price unit of either leg)
        m = np.nan
        var = np.nan
        nz = int(zn + 0.5)
        if nz >= min_z and np.isfinite(bet):
            su = zx - bet * zy
            suu = zxx - 2.0 * bet * zxy + bet * bet * zyy
            var = (suu - su * su * inv[nz]) * inv[nz - 1]
            m = (ca - bet * cb) + su * inv[nz]
        zok = np.isfinite(s) and var > 1e-24
        # |z| may reach entry only if (s - m)^2 >= entry^2 * var (with a safety margin), so the
        # square root and the division run only there unless every value is recorded
        maybe = zok and (s - m) * (s - m) >= e2 * var
        zz = np.nan
        if zok and (record or maybe):
            zz = (s - m) / math.sqrt(var)
        above = maybe and abs(zz) >= entry
        cand = above and prev_below and t > busy_until and ea[t] and eb[t]
        corr = np.nan
        if (record or cand) and ccnt >= min_c:
            vx = sxx - sx * sx / ccnt
            vy = syy - sy * sy / ccnt
            if vx > 0.0 and vy > 0.0:
                corr = (sxy - sx * sy / ccnt) / math.sqrt(vx * vy)
                corr = min(1.0, max(-1.0, corr))
        if record:
            beta_o[t] = bet
            spread_o[t] = s
            mean_o[t] = m
            std_o[t] = math.sqrt(var) if zok else np.nan
            z_o[t] = zz
            corr_o[t] = corr
        if cand and np.isfinite(corr):
            if rel == 0:
                elig = abs(corr) >= min_abs_corr
            elif rel == 1:
                elig = corr >= min_abs_corr
            else:
                elig = corr <= -min_abs_corr
            if elig:
                sd = math.sqrt(var)
                sgn = 1.0 if zz > 0 else -1.0
                label = np.nan
                reason = 3
                exit_idx = -1
                held = 0
                for kk in range(1, min(horizon, n - 1 - t) + 1):
                    j = t + kk
                    if j > last:
                        break
                    if va[j] * vb[j] == 0.0:
                        continue
                    zf = sgn * (a[j] - bet * b[j] - m) / sd
                    if zf <= exit_:
                        label = 1.0
                        reason = 0
                        exit_idx = j
                        held = kk
                        break
                    if zf >= stop:
                        label = 0.0
                        reason = 1
                        exit_idx = j
                        held = kk
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
                    out[count, 1] = zz
                    out[count, 2] = bet
                    out[count, 3] = m
                    out[count, 4] = sd
                    out[count, 5] = label
                    out[count, 6] = exit_idx
                    out[count, 7] = reason
                    out[count, 8] = held
                    out[count, 9] = corr
                count += 1
                busy_until = exit_idx if exit_idx >= 0 else n
        prev_below = zok and not above
    return count


def pack_assets(logp: np.ndarray) -> np.ndarray:
    """Per-asset rows for the kernels: ``(N, 5, T)`` C-order.

    Rows: log price (NaN where missing), log price with NaN as 0, validity (1.0/0.0), one-bar log
    return with NaN as 0, return validity. Computed once per panel, shared by every pair.
    """
    lp = np.asarray(logp, dtype=np.float64).T  # (N, T)
    n_assets, n = lp.shape
    pack = np.zeros((n_assets, 5, n))
    valid = np.isfinite(lp)
    pack[:, 0] = lp
    pack[:, 1] = np.where(valid, lp, 0.0)
    pack[:, 2] = valid
    ret = np.full_like(lp, np.nan)
    ret[:, 1:] = lp[:, 1:] - lp[:, :-1]
    rvalid = np.isfinite(ret)
    pack[:, 3] = np.where(rvalid, ret, 0.0)
    pack[:, 4] = rvalid
    return pack


@nb.njit(cache=True, parallel=True)
def _block_kernel(
    pack, asset_elig, ia, ib, bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel,
    entry, exit_, stop, horizon, record, series, cap, out, counts,
):  # pragma: no cover
    """Run :func:`_scan_pair` for pairs ``(ia[p], ib[p])`` of ``pack`` in parallel.

    Every caller goes through this one compiled function (``record=True`` fills
    ``series[p, 0:6]`` with beta, spread, mean, std, z, corr), so per-bar values are bit-identical
    between the single-pair API and the block kernel whatever the compiler does.
    """
    none = np.empty((6, 0))
    for p in nb.prange(ia.shape[0]):
        sr = series[p] if record else none  # one call site: one compiled body for both modes
        counts[p] = _scan_pair(
            pack[ia[p]], pack[ib[p]], asset_elig[:, ia[p]], asset_elig[:, ib[p]],
            bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel, entry, exit_, stop,
            horizon, record, sr[0], sr[1], sr[2], sr[3], sr[4], sr[5], out[p], cap,
        )


def _as_f8(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def pair_spread(
    a: np.ndarray,
    b: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
) -> SpreadSeries:
    """Hedge ratio, spread, rolling mean/std and z-score of one ordered pair.

    Parameters
    ----------
    a, b : numpy.ndarray
        Log prices of legs A and B on a common bar grid (NaN where missing).
    beta_window, z_window : int
        Trailing windows in bars, inclusive of the current bar.
    min_obs_frac : float
        Share of valid bars a window needs; otherwise the value is NaN.

    Returns
    -------
    SpreadSeries
        ``beta, spread, mean, std, z``, each the length of ``a``; NaN until the windows fill.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> b = np.cumsum(rng.normal(0, 0.01, 2000))
    >>> a = 0.8 * b + rng.normal(0, 0.002, 2000)
    >>> sp = pair_spread(a, b, beta_window=500, z_window=50)
    >>> bool(abs(sp.beta[-1] - 0.8) < 0.05), bool(np.isnan(sp.z[:400]).all())
    (True, True)
    """
    a = _as_f8(a)
    b = _as_f8(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}")
    sr = pair_series(
        np.column_stack([a, b]), np.zeros(1, np.int64), np.ones(1, np.int64),
        beta_window, z_window, min_obs_frac,
    )
    out = list(sr[0, :5])
    return SpreadSeries(*out)


def rolling_corr(
    a: np.ndarray, b: np.ndarray, window: int, min_obs_frac: float = 0.9
) -> np.ndarray:
    """Rolling correlation of one-bar log returns of ``a`` and ``b`` over ``window`` bars.

    The value at ``t`` uses the returns of bars ``t - window + 1 .. t``; NaN when fewer than
    ``ceil(min_obs_frac * window)`` returns are valid. Same compiled routine as the eligibility
    test inside the episode kernel, so the two agree bit for bit.
    """
    return pair_series(
        np.column_stack([a, b]), np.zeros(1, np.int64), np.ones(1, np.int64),
        corr_window=window, corr_min_obs_frac=min_obs_frac,
    )[0, 5]


def pair_series(
    logp: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
    corr_window: int = 720,
    corr_min_obs_frac: float = 0.9,
) -> np.ndarray:
    """Per-bar series of pairs ``(ia[p], ib[p])`` of the ``(T, N)`` log-price matrix ``logp``.

    Returns
    -------
    numpy.ndarray
        ``(P, 6, T)``: beta, spread, mean, std, z, return correlation (``corr_window``).
    """
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    n, m = logp.shape
    series = np.empty((len(ia), 6, n))
    _block_kernel(
        pack_assets(logp), np.ones((n, m), dtype=np.bool_, order="F"), ia, ib, beta_window, z_window,
        min_obs(beta_window, min_obs_frac), min_obs(z_window, min_obs_frac),
        corr_window, min_obs(corr_window, corr_min_obs_frac), 0.0, 0, np.inf, -np.inf, np.inf,
        1, True, series, 0, np.empty((len(ia), 1, 10)), np.zeros(len(ia), np.int64),
    )
    return series
