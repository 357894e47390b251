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

Implementation: one compiled kernel scans ``_LANES`` pairs side by side, one per SIMD lane (every
loop over the lanes compiles to vector code), over a ring buffer of per-lane inputs that runs the
label horizon ahead of the scan. The exact recomputation of a window is a second ("shadow") running
sum over the window being filled, in bar order, so it costs one addition per bar. Per bar, all
lanes get beta, the window mean and variance and the test ``(s - m)^2 >= entry^2 var``; the exact z,
the entry rule, the return correlation and the label run one lane at a time, only where an episode
may start (or at every bar when the per-bar series are recorded).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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


_LANES = 16  # pairs scanned side by side; loops over lanes compile to SIMD code (needs >= 16)
_AHEAD = 32  # bars between the prefetch of a bar's prices and their use
_ECHUNK = 64  # bars per stretch of the asset-eligibility summary
# lane streams of a bar in the ring buffer (offsets in units of _LANES)
_A0, _B0, _V, _W, _RX, _RY = 0, 1, 2, 3, 4, 5
_NS = 6
# per-lane state (offsets in units of _LANES)
_CC, _SX, _SY, _SXX, _SYY, _SXY = 0, 1, 2, 3, 4, 5  # return-correlation sums (window cw)
_CN, _SA, _SB, _SAB, _SBB = 6, 7, 8, 9, 10  # hedge-ratio sums (window bw)
_ZN, _ZX, _ZY, _ZXX, _ZYY, _ZXY = 11, 12, 13, 14, 15, 16  # z-window sums (zw)
_CA, _CB = 17, 18  # centring reference: the prices at the first bar with both
_PB, _PBO = 19, 20  # |z| finite and below entry at this bar / at the previous bar (1.0 / 0.0)
_SLOW = 21  # the lane needs the one-lane path at this bar
_BUSY = 22  # last bar of the lane's latest episode
_ELIG = 23  # both assets have an eligible bar in this stretch of _ECHUNK bars
_SH = 24  # shadow of running sum k at _SH + k: the window being filled, summed in bar order
_NST = _SH + 17


@nb.njit(inline="always")
def _u(i):  # pragma: no cover
    """Return the index as unsigned: numba then emits no negative-index wraparound code."""
    return np.uint64(i)


@intrinsic
def _prefetch(typingctx, arr, i, j):  # pragma: no cover
    """Ask the CPU to bring ``arr[i, j]`` (2-D array) into the caches; changes no value."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [
            context.cast(builder, v, t, types.intp)
            for v, t in zip(args[1:], sig.args[1:], strict=True)
        ]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i, j), codegen


@nb.njit(inline="always")
def _fill(pack, t, o, buf, segs, nseg):  # pragma: no cover
    """Lane streams of bar ``t`` into the ring row at offset ``o`` (``buf[o + k * L + ln]``).

    a0, b0: log prices with NaN as 0; v: 1.0 where both prices exist, else 0.0; w: the same for
    both one-bar returns (none at bar 0); rx, ry: the returns times w (NaN as 0). ``segs[s]`` =
    (first lane, lanes, asset A, first asset B) of runs of lanes with one asset A and consecutive
    assets B, read with contiguous loads.
    """
    L = _LANES
    tp = t - 1 if t > 0 else 0
    for s in range(nseg):
        l0, nl, ja, jb = segs[s, 0], segs[s, 1], segs[s, 2], segs[s, 3]
        a = pack[_u(t), _u(ja)]
        ra = a - pack[_u(tp), _u(ja)] if t > 0 else np.nan
        fa = np.isfinite(a)
        fra = np.isfinite(ra)
        a0 = a if fa else 0.0
        va = 1.0 if fa else 0.0
        wa = 1.0 if fra else 0.0
        ra = ra if fra else 0.0
        ol = o + l0
        for ln in range(nl):
            b = pack[_u(t), _u(jb + ln)]
            rb = b - pack[_u(tp), _u(jb + ln)]
            if t == 0:
                rb = np.nan
            fb = np.isfinite(b)
            frb = np.isfinite(rb)
            w = wa * (1.0 if frb else 0.0)
            buf[_u(ol + _A0 * L + ln)] = a0
            buf[_u(ol + _B0 * L + ln)] = b if fb else 0.0
            buf[_u(ol + _V * L + ln)] = va * (1.0 if fb else 0.0)
            buf[_u(ol + _W * L + ln)] = w
            buf[_u(ol + _RX * L + ln)] = ra * w
            buf[_u(ol + _RY * L + ln)] = (rb if frb else 0.0) * w


@nb.njit(inline="always")
def _start(st, buf, o, started, nstarted):  # pragma: no cover
    """Set the centring reference of lanes whose first bar with both prices is ring row ``o``.

    Returns the number of lanes started so far.
    """
    L = _LANES
    for ln in range(L):
        if not started[ln] and buf[o + _V * L + ln] > 0.0:
            st[_CA * L + ln] = buf[o + _A0 * L + ln]
            st[_CB * L + ln] = buf[o + _B0 * L + ln]
            started[ln] = True
            nstarted += 1
    return nstarted


@nb.njit(inline="always")
def _slide(st, k, ln, xt, xk, assign, reset):  # pragma: no cover
    """Slide running sum ``k`` of lane ``ln`` by one bar.

    Add this bar's term ``xt``, remove the term ``xk`` of the bar leaving the window. At a
    recompute bar (``assign``) the sum becomes its shadow instead: the window summed afresh in bar
    order, as a loop over the window would. The shadow restarts after ``reset``.
    """
    L = _LANES
    i = k * L + ln
    h = (_SH + k) * L + ln
    hs = st[h] + xt
    st[i] = hs if assign else st[i] + xt - xk
    st[h] = 0.0 if reset else hs


@nb.njit(inline="always")
def _slide_all(st, buf, bt, bc, bb, bz, ln, ac, rc, ab, rb, az, rz):  # pragma: no cover
    """Slide every running sum of lane ``ln`` by one bar.

    Ring offsets: ``bt`` this bar; ``bc``, ``bb``, ``bz`` the bars leaving the correlation,
    hedge-ratio and z windows. ``a*``/``r*``: the recompute (assign) and shadow-restart flags of
    each window.
    """
    L = _LANES
    w = buf[_u(bt + _W * L + ln)]
    x = buf[_u(bt + _RX * L + ln)]
    y = buf[_u(bt + _RY * L + ln)]
    wk = buf[_u(bc + _W * L + ln)]
    xk = buf[_u(bc + _RX * L + ln)]
    yk = buf[_u(bc + _RY * L + ln)]
    _slide(st, _CC, ln, w, wk, ac, rc)
    _slide(st, _SX, ln, x, xk, ac, rc)
    _slide(st, _SY, ln, y, yk, ac, rc)
    _slide(st, _SXX, ln, x * x, xk * xk, ac, rc)
    _slide(st, _SYY, ln, y * y, yk * yk, ac, rc)
    _slide(st, _SXY, ln, x * y, xk * yk, ac, rc)
    # levels centred on (ca, cb)
    ca = st[_CA * L + ln]
    cb = st[_CB * L + ln]
    v = buf[_u(bt + _V * L + ln)]
    x = (buf[_u(bt + _A0 * L + ln)] - ca) * v
    y = (buf[_u(bt + _B0 * L + ln)] - cb) * v
    wk = buf[_u(bb + _V * L + ln)]
    xk = (buf[_u(bb + _A0 * L + ln)] - ca) * wk
    yk = (buf[_u(bb + _B0 * L + ln)] - cb) * wk
    _slide(st, _CN, ln, v, wk, ab, rb)
    _slide(st, _SA, ln, x, xk, ab, rb)
    _slide(st, _SB, ln, y, yk, ab, rb)
    _slide(st, _SAB, ln, x * y, xk * yk, ab, rb)
    _slide(st, _SBB, ln, y * y, yk * yk, ab, rb)
    wk = buf[_u(bz + _V * L + ln)]
    xk = (buf[_u(bz + _A0 * L + ln)] - ca) * wk
    yk = (buf[_u(bz + _B0 * L + ln)] - cb) * wk
    _slide(st, _ZN, ln, v, wk, az, rz)
    _slide(st, _ZX, ln, x, xk, az, rz)
    _slide(st, _ZY, ln, y, yk, az, rz)
    _slide(st, _ZXX, ln, x * x, xk * xk, az, rz)
    _slide(st, _ZYY, ln, y * y, yk * yk, az, rz)
    _slide(st, _ZXY, ln, x * y, xk * yk, az, rz)


@nb.njit(inline="always")
def _spread_stats(st, ln, v, a0, b0, iz, iz1, min_b, min_z):  # pragma: no cover
    """Compute beta, spread, window mean and variance of lane ``ln`` from its running sums.

    NaN where undefined; also whether the z window has enough bars, and its count.
    ``iz = 1/k``, ``iz1 = 1/(k-1)`` for the ``k`` valid bars of the z window. Inlined at both call
    sites (all lanes at once, one lane at a time): the same operations, the same values bit for bit.
    """
    L = _LANES
    cnt = st[_CN * L + ln]
    sa = st[_SA * L + ln]
    sb = st[_SB * L + ln]
    sbb = st[_SBB * L + ln]
    # beta = cov / var with both scaled by cnt: one division per bar
    vbb = sbb * cnt - sb * sb
    bet = (st[_SAB * L + ln] * cnt - sa * sb) / vbb
    if not ((cnt >= min_b) & (vbb > 1e-14 * cnt * (sbb if sbb > 1.0 else 1.0))):
        bet = np.nan
    s = a0 - bet * b0
    if not v > 0.0:
        s = np.nan
    # mean and variance over the z window of a_j - beta_t * b_j (the current hedge ratio, so z
    # does not depend on the price unit of either leg)
    su = st[_ZX * L + ln] - bet * st[_ZY * L + ln]
    suu = st[_ZXX * L + ln] - 2.0 * bet * st[_ZXY * L + ln] + bet * bet * st[_ZYY * L + ln]
    var = (suu - su * su * iz) * iz1
    m = (st[_CA * L + ln] - bet * st[_CB * L + ln]) + su * iz
    zn = st[_ZN * L + ln]  # a count of bars: an exact integer
    ok = (zn + 0.5 >= min_z) & np.isfinite(bet)
    if not ok:
        var = np.nan
        m = np.nan
    return bet, s, m, var, zn, ok


@nb.njit(inline="always")
def _lane_flags(st, buf, bt, t, izw, izw1, min_b, min_z, zw, e2, e2h):  # pragma: no cover
    """Flag, for all lanes at once, those that need the exact one-lane path at this bar.

    Updates the below-entry flags; returns the number of lanes flagged.

    ``|z|`` may reach entry only if ``(s - m)^2 >= entry^2 var`` (less a margin of 1e-9). Where it
    surely does (the margin is far above rounding: ``|z| >= entry``) or cannot, the below-entry
    flag is known; an episode can start only where ``|z|`` was below entry at the previous bar, no
    episode is running and both assets have an eligible bar nearby. The one-lane path takes those
    bars, the bars near the threshold, and z windows that are not full (computed here with the
    full-window reciprocals).
    """
    L = _LANES
    nslow = 0
    for ln in range(L):
        v = buf[_u(bt + _V * L + ln)]
        a0 = buf[_u(bt + _A0 * L + ln)]
        b0 = buf[_u(bt + _B0 * L + ln)]
        bet, s, m, var, zn, ok = _spread_stats(st, ln, v, a0, b0, izw, izw1, min_b, min_z)
        zok = np.isfinite(s) & (var > 1e-24)
        d2 = (s - m) * (s - m)
        maybe = zok & (d2 >= e2 * var)
        pbo = st[_PB * L + ln]
        st[_PBO * L + ln] = pbo
        can = (pbo > 0.0) & (t > st[_BUSY * L + ln]) & (st[_ELIG * L + ln] > 0.0)
        slow = (maybe & ((d2 < e2h * var) | can)) | (ok & (zn != zw))
        st[_PB * L + ln] = 1.0 if zok and not maybe else 0.0
        st[_SLOW * L + ln] = 1.0 if slow else 0.0
        nslow += slow
    return nslow


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _scan_pair(
    pack, asset_elig, eany, ia, ib, p0, bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel,
    entry, exit_, stop, horizon, record, series, out, counts, cap, buf, st,
):  # pragma: no cover
    """Scan pairs ``p0 .. p0+L-1`` (as many as exist) side by side, one per SIMD lane.

    One pass: hedge ratio, spread, z-score, return correlation, episodes and labels.

    The single implementation behind :func:`pair_series` (``record=True``: every per-bar series
    is written to ``series[p]``) and the episode kernel (``record=False``: only episodes are
    written to ``out[p]``, shape (cap, 10); z is computed exactly only where an episode may start,
    the correlation only at candidate entries). Writes the number of episodes to ``counts[p]``.
    ``pack`` is from :func:`pack_assets`; ``eany[j, c]``: asset ``j`` has an eligible bar in
    stretch ``c`` of ``_ECHUNK`` bars; ``buf`` holds the ring (a power-of-two number of bars,
    then a row of zeros), ``st`` the per-lane state.

    Rolling sums are centred and recomputed exactly from the window once every window length, on a
    schedule fixed by the bar position, so values do not depend on where the series is cut.
    """
    L = _LANES
    n = pack.shape[0]
    npairs = ia.shape[0]
    stride = _NS * L
    mask = buf.shape[0] // stride - 2  # the ring holds mask + 1 bars
    zrow = (mask + 1) * stride  # a row of zeros: the bars before the first
    for k in range(stride):
        buf[zrow + k] = 0.0
    e2 = entry * entry * (1.0 - 1e-9)
    e2h = entry * entry * (1.0 + 1e-9)
    inv = np.empty(zw + 1)  # reciprocal table: multiply instead of divide
    inv[0] = 0.0
    for k in range(1, zw + 1):
        inv[k] = 1.0 / k
    izw = inv[zw]
    izw1 = inv[zw - 1]
    for k in range(_NST * L):
        st[k] = 0.0
    # the lanes' assets (lanes past the last pair repeat it) as runs with one asset A and
    # consecutive assets B (the universe order: one run), read with contiguous loads
    segs = np.zeros((L, 4), np.int64)
    nseg = 0
    lja = np.empty(L, np.int64)
    ljb = np.empty(L, np.int64)
    for ln in range(L):
        p = min(p0 + ln, npairs - 1)
        lja[ln] = ia[p]
        ljb[ln] = ib[p]
        new = nseg == 0 or ia[p] != segs[nseg - 1, 2]
        if new or ib[p] != segs[nseg - 1, 3] + segs[nseg - 1, 1]:
            segs[nseg, 0] = ln
            segs[nseg, 2] = ia[p]
            segs[nseg, 3] = ib[p]
            nseg += 1
        segs[nseg - 1, 1] += 1
        st[_BUSY * L + ln] = -1.0
    # the cache lines of a bar: asset A and the first, middle and last asset B of each run
    pf = np.empty(4 * nseg, np.int64)
    for s in range(nseg):
        pf[4 * s] = segs[s, 2]
        pf[4 * s + 1] = segs[s, 3]
        pf[4 * s + 2] = segs[s, 3] + segs[s, 1] // 2
        pf[4 * s + 3] = segs[s, 3] + segs[s, 1] - 1
    # the last bar with both prices, per lane
    last = np.full(L, -1, np.int64)
    for ln in range(L):
        for t in range(n - 1, -1, -1):
            if np.isfinite(pack[t, lja[ln]]) and np.isfinite(pack[t, ljb[ln]]):
                last[ln] = t
                break
    nep = np.zeros(L, np.int64)
    # The ring runs `ahead` bars in front of the scan (the labels read it). The centring
    # reference is set as the ring is filled (before that bar every term of a sum is zero, whatever
    # the reference).
    ahead = min(horizon, n)
    started = np.zeros(L, np.bool_)
    nstarted = 0
    for t in range(ahead):
        o = (t & mask) * stride
        _fill(pack, t, o, buf, segs, nseg)
        if nstarted < L:
            nstarted = _start(st, buf, o, started, nstarted)
    cc_left = cw
    cb_left = bw
    cz_left = zw
    for t in range(n):
        bt = (t & mask) * stride
        if t + ahead < n:
            o = ((t + ahead) & mask) * stride
            _fill(pack, t + ahead, o, buf, segs, nseg)
            if nstarted < L:
                nstarted = _start(st, buf, o, started, nstarted)
        tp = min(t + ahead + _AHEAD, n - 1)  # ask for later bars now: they arrive in time
        for k in range(pf.shape[0]):
            _prefetch(pack, tp, pf[k])
        if t % _ECHUNK == 0:
            c = t // _ECHUNK
            for ln in range(L):
                st[_ELIG * L + ln] = 1.0 if eany[lja[ln], c] and eany[ljb[ln], c] else 0.0
        # the bars leaving the windows (one before the first bar is the row of zeros: removing it
        # leaves a sum bit for bit unchanged)
        kc = t - cw
        kb = t - bw
        kz = t - zw
        bc = (kc & mask) * stride if kc >= 1 else zrow
        bb = (kb & mask) * stride if kb >= 0 else zrow
        bz = (kz & mask) * stride if kz >= 0 else zrow
        # once every window length (t = k * window) a sum is recomputed exactly: it becomes its
        # shadow, the window's terms summed afresh in bar order (from bar 1: the shadows restart at
        # bar 0 and at every recompute)
        cc_left -= 1
        cb_left -= 1
        cz_left -= 1
        if cc_left >= 0 and cb_left >= 0 and cz_left >= 0 and t > 0:
            for ln in range(L):
                _slide_all(st, buf, bt, bc, bb, bz, ln, False, False, False, False, False, False)
        else:
            ac = cc_left < 0
            ab = cb_left < 0
            az = cz_left < 0
            for ln in range(L):
                _slide_all(st, buf, bt, bc, bb, bz, ln, ac and t > 0, ac or t == 0, ab and t > 0,
                           ab or t == 0, az and t > 0, az or t == 0)
            if ac:
                cc_left = cw - 1
            if ab:
                cb_left = bw - 1
            if az:
                cz_left = zw - 1
        nslow = _lane_flags(st, buf, bt, t, izw, izw1, min_b, min_z, zw, e2, e2h)
        if not (record or nslow > 0):
            continue
        # ---- one lane at a time: exact z, entry, correlation, label
        for ln in range(L):
            p = p0 + ln
            if p >= npairs or not (record or st[_SLOW * L + ln] > 0.0):
                continue
            v = buf[_u(bt + _V * L + ln)]
            a0 = buf[_u(bt + _A0 * L + ln)]
            b0 = buf[_u(bt + _B0 * L + ln)]
            k = np.int64(st[_ZN * L + ln] + 0.5)
            bet, s, m, var, zn, ok = _spread_stats(
                st, ln, v, a0, b0, inv[k], inv[k - 1 if k > 0 else 0], min_b, min_z
            )
            zok = np.isfinite(s) and var > 1e-24
            maybe = zok and (s - m) * (s - m) >= e2 * var
            zz = np.nan
            if zok and (record or maybe):
                zz = (s - m) / math.sqrt(var)
            above = maybe and abs(zz) >= entry
            cand = (above and st[_PBO * L + ln] > 0.0 and t > st[_BUSY * L + ln]
                    and asset_elig[t, ia[p]] and asset_elig[t, ib[p]])
            st[_PB * L + ln] = 1.0 if zok and not above else 0.0
            corr = np.nan
            if record or cand:
                ccnt = st[_CC * L + ln]
                if ccnt >= min_c:
                    sx = st[_SX * L + ln]
                    sy = st[_SY * L + ln]
                    vx = st[_SXX * L + ln] - sx * sx / ccnt
                    vy = st[_SYY * L + ln] - sy * sy / ccnt
                    if vx > 0.0 and vy > 0.0:
                        corr = (st[_SXY * L + ln] - sx * sy / ccnt) / math.sqrt(vx * vy)
                        corr = min(1.0, max(-1.0, corr))
            if record:
                series[p, 0, t] = bet
                series[p, 1, t] = s
                series[p, 2, t] = m
                series[p, 3, t] = math.sqrt(var) if zok else np.nan
                series[p, 4, t] = zz
                series[p, 5, t] = corr
            if not (cand and np.isfinite(corr)):
                continue
            if rel == 0:
                elig = abs(corr) >= min_abs_corr
            elif rel == 1:
                elig = corr >= min_abs_corr
            else:
                elig = corr <= -min_abs_corr
            if not elig:
                continue
            # ---- label: barriers on z' with beta, mean and std frozen at t (bars from the ring)
            sd = math.sqrt(var)
            sgn = 1.0 if zz > 0 else -1.0
            label = np.nan
            reason = 3
            exit_idx = -1
            held = 0
            lst = last[ln]
            for kk in range(1, min(horizon, n - 1 - t) + 1):
                j = t + kk
                if j > lst:
                    break
                o = (j & mask) * stride + ln
                if buf[_u(o + _V * L)] == 0.0:
                    continue
                zf = sgn * (buf[_u(o + _A0 * L)] - bet * buf[_u(o + _B0 * L)] - m) / sd
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
                if t + horizon <= lst:
                    label = 0.0
                    reason = 2
                    exit_idx = t + horizon
                    held = horizon
                else:
                    held = max(0, lst - t)
            c = nep[ln]
            if c < cap:
                out[p, c, 0] = t
                out[p, c, 1] = zz
                out[p, c, 2] = bet
                out[p, c, 3] = m
                out[p, c, 4] = sd
                out[p, c, 5] = label
                out[p, c, 6] = exit_idx
                out[p, c, 7] = reason
                out[p, c, 8] = held
                out[p, c, 9] = corr
            nep[ln] = c + 1
            st[_BUSY * L + ln] = exit_idx if exit_idx >= 0 else n
    for ln in range(L):
        if p0 + ln < npairs:
            counts[p0 + ln] = nep[ln]


def pack_assets(logp: np.ndarray) -> np.ndarray:
    """Log prices for the kernels: ``(T, N)`` C-order float64, NaN where missing.

    Computed once per panel and shared by every pair; the kernels derive validity, returns and the
    zero-filled levels from it. Bar-major, so the assets B of consecutive pairs (one asset A, the
    following assets B: the universe order) sit side by side in memory.
    """
    return np.ascontiguousarray(logp, dtype=np.float64)


@nb.njit(cache=True, parallel=True)
def _block_kernel(
    pack, asset_elig, ia, ib, bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel,
    entry, exit_, stop, horizon, record, series, cap, out, counts,
):  # pragma: no cover
    """Run :func:`_scan_pair` for pairs ``(ia[p], ib[p])`` of ``pack``, in parallel.

    The pairs are scanned in groups of ``_LANES`` consecutive pairs.

    Every caller goes through this one compiled function (``record=True`` fills
    ``series[p, 0:6]`` with beta, spread, mean, std, z, corr), so per-bar values are bit-identical
    between the single-pair API and the block kernel whatever the compiler does. Memory: a ring
    of lane streams per group in flight (about 0.8 MB for the default windows).
    """
    n = pack.shape[0]
    nas = asset_elig.shape[1]
    for p in range(ia.shape[0]):  # the kernels index without checks
        if min(ia[p], ib[p]) < 0 or max(ia[p], ib[p]) >= min(nas, pack.shape[1]):
            raise IndexError("pair asset index out of range")
    # per asset and stretch of _ECHUNK bars: is any bar eligible (where not, no episode can start)
    eany = np.zeros((nas, (n + _ECHUNK - 1) // _ECHUNK), np.bool_)
    if not record:
        for j in nb.prange(nas):
            for t in range(n):
                if asset_elig[t, j]:
                    eany[j, t // _ECHUNK] = True
    ring = 1  # bars kept per lane: the longest window and the bars filled ahead
    while ring < max(bw, zw, cw) + min(horizon, n) + 1:
        ring *= 2
    for g in nb.prange((ia.shape[0] + _LANES - 1) // _LANES):
        buf = np.empty((ring + 1) * _NS * _LANES)
        st = np.empty(_NST * _LANES)
        _scan_pair(
            pack, asset_elig, eany, ia, ib, g * _LANES, bw, zw, min_b, min_z, cw, min_c,
            min_abs_corr, rel, entry, exit_, stop, horizon, record, series, out, counts, cap,
            buf, st,
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
    n, m = logp.shape
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    ia = np.where(ia < 0, ia + m, ia)  # negative indices count from the end, as in numpy
    ib = np.where(ib < 0, ib + m, ib)
    series = np.empty((len(ia), 6, n))
    _block_kernel(
        pack_assets(logp), np.ones((n, m), dtype=np.bool_, order="F"), ia, ib, beta_window, z_window,
        min_obs(beta_window, min_obs_frac), min_obs(z_window, min_obs_frac),
        corr_window, min_obs(corr_window, corr_min_obs_frac), 0.0, 0, np.inf, -np.inf, np.inf,
        1, True, series, 0, np.empty((len(ia), 1, 10)), np.zeros(len(ia), np.int64),
    )
    return series
