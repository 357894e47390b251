"""The compiled scan behind every spread value and every episode (one implementation).

:func:`block_kernel` runs :func:`_scan_pair` over groups of ``_LANES`` pairs in parallel; one pass
over the bars of a group computes, per pair and bar, the return correlation, the hedge ratio, the
spread, its window mean and std, the z-score, and (episode mode) detection and label. The
definitions are in :mod:`._series`; :mod:`._reference` holds the plain implementations this
kernel is tested against (tests/episodes/test_table.py, tests/spread/test_kernel.py).

Lane layout
-----------
``_LANES`` (16) pairs are scanned side by side, pair ``p0 + ln`` in lane ``ln``. Every per-pair
quantity is stored lane-minor, ``x[k * _LANES + ln]``, so a loop over ``ln`` touches 16
consecutive float64 and compiles to SIMD code. Two flat arrays hold everything:

``buf``, the ring of inputs: one row of ``_NS * _LANES`` floats per bar, ``mask + 1`` rows (a power
of two: ``t & mask`` is the row of bar ``t``), then one row of zeros that stands for "the bar
before the first". Row layout, stream ``k`` of lane ``ln`` at ``row + k * _LANES + ln``:

=======  ==============================================================
``_A0``  log price of leg A, NaN as 0
``_B0``  log price of leg B, NaN as 0
``_V``   1.0 where both prices exist, else 0.0
``_W``   1.0 where both one-bar returns exist, else 0.0 (never at bar 0)
``_RX``  return of A times ``_W`` (0 where missing)
``_RY``  return of B times ``_W``
=======  ==============================================================

The ring is filled ``ahead = min(horizon, T)`` bars in front of the scan, so the label of an
episode starting at ``t`` reads bars ``t+1 .. t+horizon`` from it, and it keeps the bar leaving the
longest window. Prices are prefetched ``_AHEAD`` bars before they enter the ring.

``st``, the per-lane state, ``_NST * _LANES`` floats, slot ``k`` of lane ``ln`` at
``k * _LANES + ln``:

* running sums (17): the correlation window (``_CC`` count, ``_SX``, ``_SY``, ``_SXX``,
  ``_SYY``, ``_SXY`` of the returns), the hedge-ratio window (``_CN`` count, ``_SA``, ``_SB``,
  ``_SAB``, ``_SBB`` of the centred levels) and the z window (``_ZN`` count, ``_ZX``, ``_ZY``,
  ``_ZXX``, ``_ZYY``, ``_ZXY``);
* ``_CA``, ``_CB``: the centring reference, the two log prices at the lane's first bar with both
  (levels enter the sums as ``a - ca``, ``b - cb``, which keeps them small);
* flags stored as 1.0 / 0.0: ``_PB`` (``|z|`` finite and below entry at this bar), ``_PBO`` (the
  same at the previous bar), ``_SLOW`` (the lane takes the exact one-lane path at this bar),
  ``_ELIG`` (both assets have an eligible bar in the current stretch of ``_ECHUNK`` bars);
* ``_BUSY``: the last bar of the lane's latest episode (no new episode up to it);
* ``_SH + k``: the shadow of running sum ``k`` (below).

The slots are named integer constants (module globals, which numba folds into the address
arithmetic, so the lane loops stay contiguous and vectorised); they live in this module because
numba's on-disk cache is invalidated only by changes to the module of the compiled function.

Recompute schedule
------------------
Running sums are updated in O(1) per bar: add the entering bar, remove the bar leaving the window
(``t - window``; before the first bar that is the row of zeros, which leaves the sum unchanged bit
for bit). To bound floating-point drift, each window's sums are recomputed exactly once every
window length, at ``t = k * window`` (counted per window: ``cc_left``, ``cb_left``, ``cz_left``):
the sum is replaced by its *shadow*, a second sum of the same terms restarted at the previous
recompute (and at bar 0) that therefore holds exactly the window's terms added in bar order, as a
loop over the window would. The shadow costs one addition per bar. The schedule depends only on the
bar position, never on the data, so cutting the series at any ``T`` leaves every value at
``t <= T`` bit-identical (tests/episodes/test_table.py::test_series_truncation_is_exact).

Fast and exact paths
--------------------
Per bar, all lanes at once get beta, the spread, the z window's mean and variance, and the test
``(s - m)^2 >= entry^2 var`` (:func:`_lane_flags`). Only lanes that may start an episode at this
bar (the test passes or is within 1e-9 of the threshold, the previous bar was below entry, no
episode is running, both assets eligible nearby) or whose z window is not full take the one-lane
path: the exact z, the entry rule, the return correlation and the label. With ``record=True``
(:func:`._series.pair_series`) every lane takes it at every bar and writes the per-bar series.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["pack_assets", "block_kernel"]

_LANES = 16  # pairs scanned side by side; loops over lanes compile to SIMD code (needs >= 16)
_AHEAD = 32  # bars between the prefetch of a bar's prices and their use
_ECHUNK = 64  # bars per stretch of the asset-eligibility summary

# ring streams of a bar (``buf``), slot k of lane ln at row + k * _LANES + ln
_A0 = 0  # log price A, NaN as 0
_B0 = 1  # log price B, NaN as 0
_V = 2  # both prices exist (1.0 / 0.0)
_W = 3  # both one-bar returns exist (1.0 / 0.0)
_RX = 4  # return of A times _W
_RY = 5  # return of B times _W
_NS = 6  # streams per lane and bar

# per-lane state (``st``), slot k of lane ln at k * _LANES + ln
# running sums of the return-correlation window (cw bars): count, x, y, xx, yy, xy
_CC, _SX, _SY, _SXX, _SYY, _SXY = 0, 1, 2, 3, 4, 5
# running sums of the hedge-ratio window (bw bars) over centred levels: count, a, b, ab, bb
_CN, _SA, _SB, _SAB, _SBB = 6, 7, 8, 9, 10
# running sums of the z window (zw bars) over centred levels: count, a, b, aa, bb, ab
_ZN, _ZX, _ZY, _ZXX, _ZYY, _ZXY = 11, 12, 13, 14, 15, 16
_NSUM = 17  # running sums; each has a shadow
_CA, _CB = 17, 18  # centring reference: the prices at the first bar with both
_PB, _PBO = 19, 20  # |z| finite and below entry at this bar / at the previous bar (1.0 / 0.0)
_SLOW = 21  # the lane needs the one-lane path at this bar
_BUSY = 22  # last bar of the lane's latest episode
_ELIG = 23  # both assets have an eligible bar in this stretch of _ECHUNK bars
_SH = 24  # shadow of running sum k at _SH + k: the window being filled, summed in bar order
_NST = _SH + _NSUM

# fields of an episode row (``out[p, c, :]``), read by revertible.episodes in this order
_O_ENTRY, _O_Z, _O_BETA, _O_MEAN, _O_STD = 0, 1, 2, 3, 4
_O_LABEL, _O_EXIT, _O_REASON, _O_HELD, _O_CORR = 5, 6, 7, 8, 9
_N_OUT = 10
# exit reasons (revertible.episodes.EXIT_REASONS in this order)
_REVERT, _STOP, _TIMEOUT, _OPEN = 0, 1, 2, 3
# per-bar series (``series[p, :, t]``, record mode)
_S_BETA, _S_SPREAD, _S_MEAN, _S_STD, _S_Z, _S_CORR = 0, 1, 2, 3, 4, 5
_N_SERIES = 6

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
def _ring(buf, stride):  # pragma: no cover
    """The ring's index mask (it holds ``mask + 1`` bars) and its zero row, zeroed."""
    mask = buf.shape[0] // stride - 2
    zrow = (mask + 1) * stride  # a row of zeros: the bars before the first
    for k in range(stride):
        buf[zrow + k] = 0.0
    return mask, zrow


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
def _slide_corr(st, buf, bt, bc, ln, ac, rc):  # pragma: no cover
    """Slide the six return-correlation sums of lane ``ln`` (ring offsets as :func:`_slide_all`)."""
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


@nb.njit(inline="always")
def _slide_all(st, buf, bt, bc, bb, bz, ln, ac, rc, ab, rb, az, rz):  # pragma: no cover
    """Slide every running sum of lane ``ln`` by one bar.

    Ring offsets: ``bt`` this bar; ``bc``, ``bb``, ``bz`` the bars leaving the correlation,
    hedge-ratio and z windows. ``a*``/``r*``: the recompute (assign) and shadow-restart flags of
    each window.
    """
    L = _LANES
    _slide_corr(st, buf, bt, bc, ln, ac, rc)
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


@nb.njit(inline="always")
def _lane_runs(ia, ib, p0, segs, lja, ljb):  # pragma: no cover
    """Assets of the lanes (lanes past the last pair repeat it) as runs; returns the run count.

    ``segs[s]`` = (first lane, lanes, asset A, first asset B) of runs of lanes with one asset A
    and consecutive assets B (the universe order gives one run per group), read with contiguous
    loads; ``lja``/``ljb`` get each lane's assets.
    """
    npairs = ia.shape[0]
    nseg = 0
    for ln in range(_LANES):
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
    return nseg


@nb.njit(inline="always")
def _corr(st, ln, min_c):  # pragma: no cover
    """Return correlation of lane ``ln`` from its running sums; NaN below ``min_c`` returns."""
    L = _LANES
    corr = np.nan
    ccnt = st[_CC * L + ln]
    if ccnt >= min_c:
        sx = st[_SX * L + ln]
        sy = st[_SY * L + ln]
        vx = st[_SXX * L + ln] - sx * sx / ccnt
        vy = st[_SYY * L + ln] - sy * sy / ccnt
        if vx > 0.0 and vy > 0.0:
            corr = (st[_SXY * L + ln] - sx * sy / ccnt) / math.sqrt(vx * vy)
            corr = min(1.0, max(-1.0, corr))
    return corr


@nb.njit(inline="always")
def _label(buf, mask, ln, t, n, lst, bet, m, sd, sgn, horizon, exit_, stop):  # pragma: no cover
    """Label of an episode of lane ``ln`` starting at ``t``: barriers on z' read from the ring.

    ``z' = sgn * (a_j - bet * b_j - m) / sd`` with beta, mean and std frozen at ``t``; bars
    without both prices are skipped; ``lst`` is the lane's last bar with both prices. Returns
    ``(label, reason, exit bar, bars held)``: label NaN, exit bar -1 when open.
    """
    L = _LANES
    stride = _NS * L
    for kk in range(1, min(horizon, n - 1 - t) + 1):
        j = t + kk
        if j > lst:
            break
        o = (j & mask) * stride + ln
        if buf[_u(o + _V * L)] == 0.0:
            continue
        zf = sgn * (buf[_u(o + _A0 * L)] - bet * buf[_u(o + _B0 * L)] - m) / sd
        if zf <= exit_:
            return 1.0, _REVERT, j, kk
        if zf >= stop:
            return 0.0, _STOP, j, kk
    if t + horizon <= lst:
        return 0.0, _TIMEOUT, t + horizon, horizon
    return np.nan, _OPEN, -1, max(0, lst - t)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _scan_pair(
    pack, asset_elig, eany, ia, ib, p0, bw, zw, min_b, min_z, cw, min_c, min_abs_corr, rel,
    entry, exit_, stop, horizon, record, series, out, counts, cap, buf, st,
):  # pragma: no cover
    """Scan pairs ``p0 .. p0+L-1`` (as many as exist) side by side, one per SIMD lane.

    One pass: hedge ratio, spread, z-score, return correlation, episodes and labels. The single
    implementation behind :func:`._series.pair_series` (``record=True``) and the episode table
    (``record=False``). Rolling sums follow the recompute schedule of the module docstring.

    Parameters
    ----------
    pack : (T, N) float64
        Log prices from :func:`pack_assets`, NaN where missing.
    asset_elig : (T, N) bool
        Per-asset eligibility (liquidity, history); an episode needs both legs eligible at ``t``.
    eany : (N, ceil(T / _ECHUNK)) bool
        Asset ``j`` has an eligible bar in stretch ``c`` (skips stretches where no episode can
        start).
    ia, ib : (P,) int64
        Asset columns of legs A and B of every pair; this call scans ``p0 .. p0 + _LANES - 1``.
    bw, zw, cw : int
        Hedge-ratio, z-score and return-correlation windows (bars).
    min_b, min_z, min_c : int
        Valid bars each window needs (:func:`._series.min_obs`).
    min_abs_corr : float
        Correlation an entry needs, tested according to ``rel``: 0 ``|corr|``, 1 ``corr``, 2
        ``-corr``.
    entry, exit_, stop, horizon
        Episode rule and label barriers (``revertible.episodes`` module docstring).
    record : bool
        Write every per-bar series to ``series[p, 0:6, t]`` (``_S_*``) and take the one-lane path
        at every bar.
    series : (P, 6, T) float64
        Output of the record mode (unused otherwise).
    out : (P, cap, _N_OUT) float64, counts : (P,) int64, cap : int
        Episode rows (``_O_*`` fields) and the number of episodes per pair; rows past ``cap`` are
        counted, not written (the caller reruns with a larger ``cap``).
    buf, st : float64 scratch
        The ring (``(ring bars + 1) * _NS * _LANES``) and the lane state (``_NST * _LANES``).
    """
    L = _LANES
    n = pack.shape[0]
    npairs = ia.shape[0]
    stride = _NS * L
    mask, zrow = _ring(buf, stride)
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
    segs = np.zeros((L, 4), np.int64)
    lja = np.empty(L, np.int64)
    ljb = np.empty(L, np.int64)
    nseg = _lane_runs(ia, ib, p0, segs, lja, ljb)
    for ln in range(L):
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
            corr = _corr(st, ln, min_c) if record or cand else np.nan
            if record:
                series[p, _S_BETA, t] = bet
                series[p, _S_SPREAD, t] = s
                series[p, _S_MEAN, t] = m
                series[p, _S_STD, t] = math.sqrt(var) if zok else np.nan
                series[p, _S_Z, t] = zz
                series[p, _S_CORR, t] = corr
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
            # ---- an episode starts: label it (beta, mean and std frozen at t)
            sd = math.sqrt(var)
            sgn = 1.0 if zz > 0 else -1.0
            label, reason, exit_idx, held = _label(
                buf, mask, ln, t, n, last[ln], bet, m, sd, sgn, horizon, exit_, stop
            )
            c = nep[ln]
            if c < cap:
                out[p, c, _O_ENTRY] = t
                out[p, c, _O_Z] = zz
                out[p, c, _O_BETA] = bet
                out[p, c, _O_MEAN] = m
                out[p, c, _O_STD] = sd
                out[p, c, _O_LABEL] = label
                out[p, c, _O_EXIT] = exit_idx
                out[p, c, _O_REASON] = reason
                out[p, c, _O_HELD] = held
                out[p, c, _O_CORR] = corr
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
def block_kernel(
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

