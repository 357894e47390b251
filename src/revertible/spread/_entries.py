"""Return correlations at chosen bars, several windows in one pass (the features' entry values).

:func:`entry_values` gives, for rows ``(pair, bar)``, the return correlation over each of several
windows, bit for bit the value :func:`._series.pair_series` (the kernel's record mode) writes at
that bar, and optionally the per-bar hedge ratio and z-score of the pairs (also bit for bit). It
replaces one record-mode pass per correlation window: one pass per group of pairs keeps every
window's running sums side by side and computes a correlation only at the requested bars.

Why the values are identical
----------------------------
The kernel's running sums follow a fixed schedule (:mod:`._kernel`, "Recompute schedule"): each
bar adds the entering term and removes the leaving one, and at ``t = k * window`` a sum becomes its
shadow (the window's terms added afresh in bar order). The schedule depends on the bar position
only, never on the data or on the other windows, so the sums of window ``w`` at bar ``t`` are the
same whether they are carried alone (record mode, one window per pass) or beside other windows
(here). This pass replays that schedule per window with the kernel's own compiled pieces:
the ring (:func:`._kernel._ring`) and its rows (:func:`._kernel._fill`), the update
:func:`._kernel._slide` (the correlation terms written as in :func:`._kernel._slide_all`), the
window-0 hedge-ratio and z sums through
:func:`._kernel._slide_all` itself, the correlation :func:`._kernel._corr` and the spread state
:func:`._kernel._spread_stats`, with the one-lane path's reciprocals. No fast-math flags: every
operation is the same IEEE operation in the same order.

numba's on-disk cache is keyed on the compiled function's own file (its timestamp) and bytecode,
so a change to those pieces in :mod:`._kernel` alone would leave a stale compiled scan here. The
two compiled functions are therefore built by factories whose closure holds the SHA-256 of
``_kernel.py`` (:data:`_KERNEL_STAMP`): numba hashes closure cells into the cache key, so any
edit of the kernel compiles them afresh. ``tests/spread/test_entries.py`` compares the two paths.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numba as nb
import numpy as np

from . import _kernel
from ._kernel import (
    _A0,
    _AHEAD,
    _B0,
    _LANES,
    _NS,
    _NST,
    _V,
    _ZN,
    _corr,
    _fill,
    _lane_runs,
    _prefetch,
    _ring,
    _slide_all,
    _slide_corr,
    _spread_stats,
    _start,
    _u,
    pack_assets,
)
from ._series import min_obs

__all__ = ["entry_values"]


def _scan_compiler(stamp):
    """The scan of one group of pairs, with ``stamp`` in its cache key."""

    @nb.njit(cache=True, nogil=True, error_model="numpy")
    def _entry_scan(
        pack, ia, ib, p0, bw, zw, min_b, min_z, cws, min_cs, qptr, qbar, spread, series, corr,
        buf, sts,
    ):  # pragma: no cover
        """One pass over pairs ``p0 .. p0 + _LANES - 1``: correlations at the query bars.

        ``sts[k]`` is the lane state (kernel layout) of correlation window ``cws[k]``;
        ``sts[0]`` also carries the hedge-ratio and z sums when ``spread`` (then
        ``series[p, 0, t]`` gets beta and ``series[p, 1, t]`` z at every bar).
        ``qbar[qptr[p]:qptr[p + 1]]`` are pair ``p``'s query bars, increasing; ``corr[q, k]``
        gets window ``k``'s correlation at query ``q``.
        """
        _ = stamp  # in the cache key (module docstring)
        L = _LANES
        n = pack.shape[0]
        npairs = ia.shape[0]
        nw = cws.shape[0]
        stride = _NS * L
        mask, zrow = _ring(buf, stride)
        inv = np.empty(zw + 1)  # the one-lane path's reciprocals
        inv[0] = 0.0
        for k in range(1, zw + 1):
            inv[k] = 1.0 / k
        sts[:, :] = 0.0
        segs = np.zeros((L, 4), np.int64)
        lja = np.empty(L, np.int64)
        ljb = np.empty(L, np.int64)
        nseg = _lane_runs(ia, ib, p0, segs, lja, ljb)
        pf = np.empty(2 * nseg, np.int64)
        for s in range(nseg):
            pf[2 * s] = segs[s, 2]
            pf[2 * s + 1] = segs[s, 3] + segs[s, 1] - 1
        started = np.zeros(L, np.bool_)
        nstarted = 0
        lb = np.empty(L)  # this bar's beta and z per lane
        lz = np.empty(L)
        # per lane: the next query and its bar (-1: none left, or no pair in the lane)
        qc = np.zeros(L, np.int64)
        nxt = np.full(L, -1, np.int64)
        for ln in range(L):
            p = p0 + ln
            if p < npairs:
                qc[ln] = qptr[p]
                if qptr[p] < qptr[p + 1]:
                    nxt[ln] = qbar[qptr[p]]
        left = cws.copy()  # bars to the next recompute, per correlation window
        cb_left = bw
        cz_left = zw
        st0 = sts[0]
        for t in range(n):
            bt = (t & mask) * stride
            _fill(pack, t, bt, buf, segs, nseg)
            if nstarted < L:
                nstarted = _start(st0, buf, bt, started, nstarted)
            tp = min(t + _AHEAD, n - 1)
            for k in range(pf.shape[0]):
                _prefetch(pack, tp, pf[k])
            # the schedule of _kernel._scan_pair, window by window: assign at t = k * window
            # (t > 0), restart the shadow then and at bar 0
            for k in range(nw):
                left[k] -= 1
            cb_left -= 1
            cz_left -= 1
            t0 = t == 0
            for k in range(nw):
                kc = t - cws[k]
                bc = (kc & mask) * stride if kc >= 1 else zrow
                ac = left[k] < 0
                st = sts[k]
                if k == 0 and spread:
                    kb = t - bw
                    kz = t - zw
                    bb = (kb & mask) * stride if kb >= 0 else zrow
                    bz = (kz & mask) * stride if kz >= 0 else zrow
                    ab = cb_left < 0
                    az = cz_left < 0
                    if not (ac or ab or az or t0):
                        for ln in range(L):
                            _slide_all(st, buf, bt, bc, bb, bz, ln, False, False, False, False,
                                       False, False)
                    else:
                        for ln in range(L):
                            _slide_all(st, buf, bt, bc, bb, bz, ln, ac and not t0, ac or t0,
                                       ab and not t0, ab or t0, az and not t0, az or t0)
                    if ab:
                        cb_left = bw - 1
                    if az:
                        cz_left = zw - 1
                elif not (ac or t0):
                    for ln in range(L):
                        _slide_corr(st, buf, bt, bc, ln, False, False)
                else:
                    for ln in range(L):
                        _slide_corr(st, buf, bt, bc, ln, ac and not t0, ac or t0)
                if ac:
                    left[k] = cws[k] - 1
            if spread:  # beta and z of every lane, as the one-lane path computes them
                for ln in range(L):
                    v = buf[_u(bt + _V * L + ln)]
                    a0 = buf[_u(bt + _A0 * L + ln)]
                    b0 = buf[_u(bt + _B0 * L + ln)]
                    kz = np.int64(st0[_ZN * L + ln] + 0.5)
                    bet, s, m, var, zn, ok = _spread_stats(
                        st0, ln, v, a0, b0, inv[kz], inv[kz - 1 if kz > 0 else 0], min_b, min_z
                    )
                    zz = (s - m) / math.sqrt(var)
                    lb[ln] = bet
                    lz[ln] = zz if np.isfinite(s) and var > 1e-24 else np.nan
                for ln in range(min(L, npairs - p0)):
                    series[p0 + ln, 0, t] = lb[ln]
                    series[p0 + ln, 1, t] = lz[ln]
            for ln in range(L):
                if nxt[ln] != t:
                    continue
                q = qc[ln]
                for k in range(nw):
                    corr[q, k] = _corr(sts[k], ln, min_cs[k])
                q += 1
                qc[ln] = q
                nxt[ln] = qbar[q] if q < qptr[p0 + ln + 1] else -1

    return _entry_scan


_KERNEL_STAMP = hashlib.sha256(Path(_kernel.__file__).read_bytes()).hexdigest()
_entry_scan = _scan_compiler(_KERNEL_STAMP)


def _block_compiler(stamp):
    """The parallel driver (calls the global :func:`_entry_scan`), ``stamp`` in its cache key."""

    @nb.njit(cache=True, parallel=True)
    def _entry_block(
        pack, ia, ib, bw, zw, min_b, min_z, cws, min_cs, qptr, qbar, spread, series, corr
    ):  # pragma: no cover
        """Run :func:`_entry_scan` over groups of ``_LANES`` consecutive pairs, in parallel."""
        _ = stamp  # in the cache key (module docstring)
        n = pack.shape[0]
        for p in range(ia.shape[0]):  # the scan indexes without checks
            if min(ia[p], ib[p]) < 0 or max(ia[p], ib[p]) >= pack.shape[1]:
                raise IndexError("pair asset index out of range")
        longest = max(bw, zw) if spread else 1
        for k in range(cws.shape[0]):
            longest = max(longest, cws[k])
        ring = 1  # bars kept per lane: the longest window and the bar entering it
        while ring < longest + 1:
            ring *= 2
        for g in nb.prange((ia.shape[0] + _LANES - 1) // _LANES):
            buf = np.empty((ring + 1) * _NS * _LANES)
            sts = np.empty((cws.shape[0], _NST * _LANES))
            _entry_scan(pack, ia, ib, g * _LANES, bw, zw, min_b, min_z, cws, min_cs, qptr, qbar,
                        spread, series, corr, buf, sts)  # fmt: skip
        return n

    return _entry_block


_entry_block = _block_compiler(_KERNEL_STAMP)


def entry_values(
    logp: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    pair: np.ndarray,
    bar: np.ndarray,
    corr_windows: tuple[int, ...] | list[int],
    corr_min_obs_frac: float = 0.9,
    beta_window: int = 720,
    z_window: int = 72,
    min_obs_frac: float = 0.9,
    *,
    spread: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return correlations at the rows' bars and the pairs' beta and z, in one pass.

    Every value equals, bit for bit, what :func:`revertible.spread.pair_series` (with
    ``corr_window=corr_windows[k]``) writes at that bar.

    Parameters
    ----------
    logp : numpy.ndarray
        ``(T, N)`` log prices, NaN where missing.
    ia, ib : numpy.ndarray
        ``(P,)`` asset columns of legs A and B of each pair.
    pair, bar : numpy.ndarray
        ``(E,)`` rows: a pair (index into ``ia``/``ib``) and a bar ``0 <= bar < T``; any order,
        repeats allowed.
    corr_windows : sequence of int
        Return-correlation windows (bars, at least 2; one or more).
    corr_min_obs_frac : float
        Share of valid returns a correlation window needs.
    beta_window, z_window, min_obs_frac
        Hedge-ratio and z windows (:func:`revertible.spread.pair_series`); used when ``spread``.
    spread : bool
        Also return the per-bar hedge ratio and z-score of every pair.

    Returns
    -------
    corr : numpy.ndarray
        ``(E, K)``: row ``e``'s correlation over ``corr_windows[k]`` at ``bar[e]``.
    series : numpy.ndarray or None
        ``(P, 2, T)``: beta and z per pair and bar (``spread``), else None.

    Raises
    ------
    IndexError
        A row's pair or bar is out of range, or a pair's asset column is.
    ValueError
        No correlation window, or one shorter than 2 bars.
    """
    n, m = logp.shape
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    pair = np.asarray(pair, dtype=np.int64)
    bar = np.asarray(bar, dtype=np.int64)
    if len(pair) and (pair.min() < 0 or pair.max() >= len(ia) or bar.min() < 0
                      or bar.max() >= n):  # fmt: skip
        raise IndexError("entry_values: a row's pair or bar is out of range")
    cws = np.asarray(corr_windows, dtype=np.int64).reshape(-1)
    if len(cws) == 0 or cws.min() < 2:
        raise ValueError(f"entry_values: corr_windows must be one or more windows of >= 2 bars, "
                         f"got {list(corr_windows)}")
    min_cs = np.array([min_obs(int(w), corr_min_obs_frac) for w in cws], dtype=np.int64)
    codes, inv = np.unique(pair * n + bar, return_inverse=True)
    qbar = np.ascontiguousarray(codes % n) if n else codes
    qptr = np.searchsorted(codes, np.arange(len(ia) + 1) * n).astype(np.int64)
    corr = np.empty((len(codes), len(cws)))
    series = np.empty((len(ia), 2, n)) if spread else np.empty((0, 2, 0))
    if len(ia):
        _entry_block(pack_assets(logp), ia, ib, int(beta_window), int(z_window),
                     min_obs(beta_window, min_obs_frac), min_obs(z_window, min_obs_frac),
                     cws, min_cs, qptr, qbar, bool(spread), series, corr)  # fmt: skip
    return corr[inv.reshape(-1)], (series if spread else None)
