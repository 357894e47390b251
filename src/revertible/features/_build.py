"""Point-in-time features at each episode's entry (DESIGN.md: feature builder, part 2).

:func:`build_features` turns an episode table (:func:`revertible.episodes.build_episodes`) into one
row of float64 features per episode, same index and order. Training and live scoring call this
one function: an episode whose label is still open gets its features exactly as a settled one.

Timing
------
Every feature of an episode entered at bar ``t`` uses bars ``<= t`` only, the close of bar ``t``
included (as for the z-score that opened the episode). Pair series come from
:func:`revertible.spread.pair_series`, whose value at ``t`` does not depend on later bars; asset
and market series are trailing windows computed once per panel and looked up at ``(t, asset)``;
the pair history counts only labels already settled at ``t`` (``exit_time <= entry_time``).
Cutting the panel at any ``T`` and rebuilding episodes and features leaves every feature of every
episode entered at or before ``T`` bit-identical (``tests/test_features.py``).

Two inputs besides the bars shape the values: the panel's *asset list* (the market-wide regime
features are cross-sections over it: score on the training universe) and the *history* table
(pair-history features: pass the full episode table, not only the rows to score).

Missing values
--------------
NaN means unknowable at ``t``: a window not filled yet, a leg without funding data, no settled
history. Nothing is filled with 0 and nothing is back-filled. A trailing window is usable when at
least ``ceil(min_obs_frac * window)`` of its bars are valid (``cfg.spread.min_obs_frac`` for
spread and hedge-ratio windows, ``cfg.universe.min_obs_frac`` for return and volume windows).

Definitions
-----------
The spread group uses ``s_j = a_j - beta_t * b_j`` over the window ending at ``t``, with
``beta_t`` the episode's hedge ratio (the z-score's convention, see :mod:`revertible.spread`), so
every value is invariant to the price unit of either leg; its long window is
``cfg.features.trailing_bars``, its short one :data:`SHORT_BARS`. The AR(1) slope ``phi`` is the
OLS slope of ``s_j`` on ``s_(j-1)``; the ADF t-statistic is that of ``rho = phi - 1`` in the same
regression written as ``ds_j = alpha + rho * s_(j-1) + e_j``; ``VR(q)`` is the variance of
``q``-bar spread changes over ``q`` times that of one-bar changes (both demeaned by the one-bar
drift; < 1 mean-reverting, 1 random walk). Regime and liquidity windows are
``cfg.features.regime_short_bars`` / ``regime_long_bars``; a spike is a bar whose one-bar log
return exceeds ``cfg.features.spike_sigma`` times the long-window return std known at the bar
before. Signs: ``z_velocity_*``, ``spread_z_*`` and ``funding_carry`` are multiplied by
``sign(z_t)``, so positive means further from the mean / received by the trade.
:data:`FEATURE_DESCRIPTIONS` defines every column; :data:`FEATURE_GROUPS` lists them by family.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba as nb
import numpy as np
import pandas as pd

from ..config import BARS_PER_DAY, Config
from ..data import Panel
from ..spread import min_obs, pair_series
from ._regime import TRIGGER_FEATURES, regime_trigger_features

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "feature_names",
    "build_features",
]

SHORT_BARS = 168  # short spread window and hedge-ratio stability window (7 days)
Z_LAGS = (1, 6, 24)  # z-velocity horizons in bars
VR_LAGS = (6, 24)  # variance-ratio horizons in bars (on the long spread window)
CORR_DAYS = (30, 60, 90)  # return-correlation windows in days at entry
FLOW_LAGS = (1, 6, 24)  # bars of the leg-move features; FLOW_LAGS[1] for idio and breadth
CORR_SHORT_DAYS = 7  # short correlation, compared with the first of CORR_DAYS
HALF_LIFE_MIN = 0.5  # bars; half-lives are clipped to [HALF_LIFE_MIN, window]
FUNDING_MAX_AGE = pd.Timedelta(hours=24)  # a funding rate older than this is unknown (NaN)
FUNDING_EVENTS = 3  # events in the funding-differential mean
PRIOR_STRENGTH = 20.0  # pseudo-episodes of the global prior in the shrunk reversion rate
MARKET_MIN_ASSETS = 3  # assets a market-wide cross-section needs

_REQUIRED = ("asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std")
_HISTORY_REQUIRED = ("asset_a", "asset_b", "entry_time", "label", "exit_time")

_SPEC: tuple[tuple[str, str, str], ...] = (
    ("divergence", "abs_z_entry", "|z| at entry"),
    *(
        ("divergence", f"z_velocity_{k}", f"sign(z_t) * (z_t - z_(t-{k})) / {k}: > 0 diverging")
        for k in Z_LAGS
    ),
    ("divergence", "bars_since_prev_episode", "bars from the pair's previous entry; NaN if none"),
    ("spread", "spread_z_long", "sign(z_t) * (s_t - mean) / std of s over the trailing window"),
    ("spread", f"spread_z_{SHORT_BARS}", f"as spread_z_long over the last {SHORT_BARS} bars"),
    ("spread", "spread_dvol_long", "std of one-bar spread changes (log units) over the window"),
    ("spread", "spread_dvol_ratio", f"std of spread changes, last {SHORT_BARS} bars / window"),
    ("spread", "spread_std_to_dvol", "entry spread_std (z window) / spread_dvol_long"),
    ("spread", "spread_ar1_long", "AR(1) slope of s_j on s_(j-1) (with intercept), window"),
    ("spread", f"spread_ar1_{SHORT_BARS}", f"AR(1) slope over the last {SHORT_BARS} bars"),
    ("spread", "spread_half_life_long", "-ln 2 / ln(ar1), clipped; NaN if ar1 >= 1"),
    ("spread", f"spread_half_life_{SHORT_BARS}", f"half-life from spread_ar1_{SHORT_BARS}"),
    ("spread", "spread_adf_t_long", "ADF t-stat of rho in ds_j = alpha + rho s_(j-1) + e"),
    ("spread", f"spread_adf_t_{SHORT_BARS}", f"ADF t-stat over the last {SHORT_BARS} bars"),
    *(
        ("spread", f"spread_vr{q}_long", f"variance ratio VR({q}) of the spread over the window")
        for q in VR_LAGS
    ),
    ("relationship", f"corr_{CORR_SHORT_DAYS}d", f"{CORR_SHORT_DAYS}-day return correlation"),
    *(("relationship", f"corr_{d}d", f"{d}-day return correlation") for d in CORR_DAYS),
    (
        "relationship",
        f"corr_shift_{CORR_SHORT_DAYS}d",
        f"sign(corr_{CORR_DAYS[0]}d) * (corr_{CORR_SHORT_DAYS}d - corr_{CORR_DAYS[0]}d): < 0 "
        "weakening",
    ),
    ("relationship", "beta_entry", "hedge ratio at entry"),
    ("relationship", f"beta_std_{SHORT_BARS}", f"std of beta_j over the last {SHORT_BARS} bars"),
    ("relationship", f"beta_change_{SHORT_BARS}", f"beta_t - beta_(t-{SHORT_BARS})"),
    ("relationship", "relationship_sign", f"sign of corr_{CORR_DAYS[0]}d (+1 / -1)"),
    ("regime", "vol_ratio_a", "leg A return std, short window / long window"),
    ("regime", "vol_ratio_b", "leg B return std, short window / long window"),
    ("regime", "spikes_a", "leg A bars in the short window with |r_j| > spike_sigma * vol_(j-1)"),
    ("regime", "spikes_b", "leg B spike count, same rule"),
    ("regime", "mkt_vol_ratio", "cross-sectional median of vol_ratio over the panel's assets"),
    ("regime", "mkt_dispersion", "cross-sectional std of short-window log returns"),
    ("liquidity", "qv_ratio_a", "leg A mean quote volume, short window / long window"),
    ("liquidity", "qv_ratio_b", "leg B mean quote volume, short window / long window"),
    ("liquidity", "log_qv_a", "log(1 + leg A quote volume over the short window)"),
    ("liquidity", "log_qv_b", "log(1 + leg B quote volume over the short window)"),
    ("liquidity", "log_qv_min", "min of log_qv_a and log_qv_b"),
    ("funding", "funding_diff", "latest funding rate of A minus B (each at most 24 h old)"),
    ("funding", "funding_diff_mean3", "mean of A's last 3 funding rates minus B's"),
    ("funding", "funding_carry", "sign(z_t) * (f_A - beta * f_B): funding the trade receives"),
    *(
        (
            "flow",
            f"move_{leg}_{k}",
            f"leg {leg.upper()}'s share of the last {k}-bar spread move, in entry-std units "
            "(> 0: that leg moved in the divergence direction)",
        )
        for k in FLOW_LAGS
        for leg in ("a", "b")
    ),
    *(
        ("flow", f"idio_{leg}_{FLOW_LAGS[1]}",
         f"sign(z) * (leg {leg.upper()}'s {FLOW_LAGS[1]}-bar log return - cross-sectional median)")
        for leg in ("a", "b")
    ),
    *(
        ("flow", f"breadth_new_{leg}",
         f"share of other assets whose pair with leg {leg.upper()} entered an episode in the last "
         f"{FLOW_LAGS[1]} bars (a one-asset story when high)")
        for leg in ("a", "b")
    ),
    *(
        ("flow", f"breadth_active_{leg}",
         f"share of other assets whose pair with leg {leg.upper()} is in an episode now")
        for leg in ("a", "b")
    ),
    ("flow", "mkt_breadth_active", "share of all pairs in an episode now"),
    ("calendar", "hour", "UTC hour of the entry bar's open"),
    ("calendar", "dow", "day of week of the entry bar (Monday 0)"),
    ("history", "pair_n_prev", "episodes of the pair entered before this entry"),
    ("history", "pair_n_resolved", "of those, episodes whose label was settled by this entry"),
    ("history", "pair_revert_rate", "reversion rate of the settled ones; NaN if none"),
    (
        "history",
        "pair_revert_rate_shrunk",
        "(reverted + m * prior) / (settled + m), prior: all pairs' rate settled by this entry",
    ),
)

#: Feature columns by family, in the order :func:`build_features` returns them.
FEATURE_GROUPS: dict[str, list[str]] = {
    group: [name for g, name, _ in _SPEC if g == group]
    for group in dict.fromkeys(g for g, *_ in _SPEC)
}
#: One line per feature column.
FEATURE_DESCRIPTIONS: dict[str, str] = {name: text for _, name, text in _SPEC}


def feature_names(cfg: Config) -> list[str]:
    """Columns of :func:`build_features` under ``cfg``, in a stable order.

    ``cfg.features.use_funding = False`` drops the ``funding`` group.

    Examples
    --------
    >>> from revertible.config import config_from_mapping
    >>> cfg = config_from_mapping({"data": {"path": "."}, "features": {"use_funding": False}})
    >>> names = feature_names(cfg)
    >>> names[0], "funding_diff" in names
    ('abs_z_entry', False)
    """
    return [
        n
        for g, names in FEATURE_GROUPS.items()
        if g != "funding" or cfg.features.use_funding
        for n in names
    ] + (list(TRIGGER_FEATURES) if cfg.features.use_regime else [])


# ----------------------------------------------------------------------------------------------
# compiled kernels


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


@nb.njit(cache=True, parallel=True)
def _spread_kernel(
    logp, ia, ib, t, beta, sgn, w_long, min_long, w_short, min_short, vr_lags, hl_min, out
):  # pragma: no cover
    """``out[i, :k]``: long-window stats, ``out[i, k:]``: short-window stats of episode ``i``."""
    k = out.shape[1] // 2
    for i in nb.prange(t.shape[0]):
        a = logp[:, ia[i]]
        b = logp[:, ib[i]]
        _window_stats(a, b, t[i], beta[i], w_long, min_long, sgn[i], vr_lags, hl_min, out[i, :k])
        _window_stats(
            a, b, t[i], beta[i], w_short, min_short, sgn[i], vr_lags, hl_min, out[i, k:]
        )


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


@nb.njit(cache=True)
def _funding_kernel(funding, max_age, k, last, mean_k):  # pragma: no cover
    """Latest funding rate and mean of the last ``k`` events known at each bar (carry forward).

    Nothing is known before an asset's first event or more than ``max_age`` bars after its latest
    one (NaN).
    """
    n, m = funding.shape
    ring = np.empty(k)
    for i in range(m):
        cnt = 0
        at = -1
        for t in range(n):
            x = funding[t, i]
            if np.isfinite(x):
                ring[cnt % k] = x
                cnt += 1
                at = t
            if at < 0 or t - at > max_age:
                continue
            last[t, i] = ring[(cnt - 1) % k]
            if cnt >= k:
                tot = 0.0
                for e in range(k):  # oldest to newest
                    tot += ring[(cnt - k + e) % k]
                mean_k[t, i] = tot / k


# ----------------------------------------------------------------------------------------------
# helpers


def _utc(values) -> pd.DatetimeIndex:
    """A datetime column as a UTC nanosecond index (naive means UTC)."""
    idx = pd.DatetimeIndex(values)
    return (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")


def _ns(values) -> np.ndarray:
    """Epoch nanoseconds of a datetime column; NaT -> int64 min."""
    return _utc(values).asi8


def _check_columns(df: pd.DataFrame, what: str, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; pass a table from "
            "revertible.episodes.build_episodes (DESIGN.md episode columns)"
        )


def _locate(panel: Panel, episodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry bar and the legs' columns of every episode; ValueError naming the first bad row."""
    t = panel.times.as_unit("ns").get_indexer(_utc(episodes["entry_time"]))
    if (t < 0).any():
        k = int(np.argmax(t < 0))
        raise ValueError(
            f"episodes row {k}: entry_time {episodes['entry_time'].iloc[k]} is not a bar of the "
            f"panel ({panel.times[0]} .. {panel.times[-1]}); build episodes and features from the "
            "same panel"
        )
    pos = {a: i for i, a in enumerate(panel.assets)}
    legs = []
    for col in ("asset_a", "asset_b"):
        idx = episodes[col].map(pos)
        if idx.isna().any():
            k = int(np.argmax(idx.isna().to_numpy()))
            raise ValueError(
                f"episodes row {k}: {col} {episodes[col].iloc[k]!r} is not an asset of the panel "
                f"({panel.n_assets} assets); build episodes and features from the same panel"
            )
        legs.append(idx.to_numpy(dtype=np.int64))
    return t.astype(np.int64), legs[0], legs[1]


def _pair_block_features(
    logp: np.ndarray,
    t: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    cfg: Config,
    progress: Callable[[int, int], None] | None,
) -> dict[str, np.ndarray]:
    """Features read from per-pair series: z velocity, correlations, hedge-ratio stability.

    Pairs are processed in blocks of ``cfg.compute.block_size``; each block's series live only
    while its episodes' values are extracted.
    """
    n_ep = len(t)
    n_assets = logp.shape[1]
    sc, uc = cfg.spread, cfg.universe
    codes = ia * n_assets + ib
    pairs, inv = np.unique(codes, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(pairs) + 1))
    out = {f"z_velocity_{k}": np.full(n_ep, np.nan) for k in Z_LAGS}
    for d in (CORR_SHORT_DAYS, *CORR_DAYS):
        out[f"corr_{d}d"] = np.full(n_ep, np.nan)
    beta_stab = np.full((n_ep, 2), np.nan)
    windows = [CORR_SHORT_DAYS, *CORR_DAYS]
    bs = cfg.compute.block_size
    for s in range(0, len(pairs), bs):
        e = min(s + bs, len(pairs))
        rows = order[bounds[s] : bounds[e]]
        local = inv[rows] - s
        tt = t[rows]
        pa, pb = pairs[s:e] // n_assets, pairs[s:e] % n_assets
        for w, days in enumerate(windows):
            sr = pair_series(
                logp, pa, pb, sc.beta_window, sc.z_window, sc.min_obs_frac,
                days * BARS_PER_DAY, uc.min_obs_frac,
            )
            out[f"corr_{days}d"][rows] = sr[local, 5, tt]
            if w == 0:
                zt = sr[local, 4, tt]
                sgn = np.sign(zt)
                for k in Z_LAGS:
                    lag = tt - k
                    zl = np.where(lag >= 0, sr[local, 4, np.maximum(lag, 0)], np.nan)
                    out[f"z_velocity_{k}"][rows] = sgn * (zt - zl) / k
                stab = np.empty((len(rows), 2))
                _beta_kernel(
                    sr[:, 0, :], local, tt, SHORT_BARS, min_obs(SHORT_BARS, sc.min_obs_frac), stab
                )
                beta_stab[rows] = stab
            del sr
        if progress is not None:
            progress(e, len(pairs))
    out[f"beta_std_{SHORT_BARS}"] = beta_stab[:, 0]
    out[f"beta_change_{SHORT_BARS}"] = beta_stab[:, 1]
    base = out[f"corr_{CORR_DAYS[0]}d"]
    out[f"corr_shift_{CORR_SHORT_DAYS}d"] = np.sign(base) * (
        out[f"corr_{CORR_SHORT_DAYS}d"] - base
    )
    out["relationship_sign"] = np.where(base != 0.0, np.sign(base), np.nan)
    return out


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
        arr["vol_ratio"], arr["ret_s"], MARKET_MIN_ASSETS, arr["mkt_vol_ratio"],
        arr["mkt_dispersion"],
    )
    return arr


def _funding_features(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Latest rate and mean of the last :data:`FUNDING_EVENTS` rates known at each bar."""
    n, m = panel.n_bars, panel.n_assets
    last = np.full((n, m), np.nan, order="F")
    mean_k = np.full((n, m), np.nan, order="F")
    if panel.funding is not None:
        max_age = int(FUNDING_MAX_AGE // panel.freq)
        _funding_kernel(
            np.asfortranarray(panel.funding, dtype=np.float64), max_age, FUNDING_EVENTS, last,
            mean_k,
        )
    return last, mean_k


def _flow_features(
    panel: Panel, query: pd.DataFrame, history: pd.DataFrame, t: np.ndarray, ia: np.ndarray,
    ib: np.ndarray, z: np.ndarray, beta: np.ndarray,
) -> dict[str, np.ndarray]:
    """Who moved, against the market, and how many of each leg's pairs diverge at once.

    Leg moves and idiosyncratic returns use prices at bars ``<= t``. Breadth counts episodes of
    ``history`` entered at bars ``<= t`` (detection is point-in-time) and, for "active", not yet
    exited by ``t`` (an exit at bar ``x <= t`` is observable at ``t``); the query's own episode
    is excluded.
    """
    logp = panel.log_close()
    n, m = logp.shape
    sgn = np.sign(z)
    std = query["spread_std"].to_numpy(np.float64)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in FLOW_LAGS:
            lag = t - k
            ok = lag >= 0
            lg = np.maximum(lag, 0)
            da = np.where(ok, logp[t, ia] - logp[lg, ia], np.nan)
            db = np.where(ok, logp[t, ib] - logp[lg, ib], np.nan)
            out[f"move_a_{k}"] = sgn * da / std
            out[f"move_b_{k}"] = -sgn * beta * db / std
        k = FLOW_LAGS[1]
        ret = np.full((n, m), np.nan)
        ret[k:] = logp[k:] - logp[:-k]
        med = np.full(n, np.nan)
        enough = np.isfinite(ret).sum(axis=1) >= MARKET_MIN_ASSETS
        med[enough] = np.nanmedian(ret[enough], axis=1)
        out[f"idio_a_{k}"] = sgn * (ret[t, ia] - med[t])
        out[f"idio_b_{k}"] = sgn * (ret[t, ib] - med[t])
    # breadth from the episode table
    pos = {a: i for i, a in enumerate(panel.assets)}
    h_ok = history["asset_a"].isin(pos.keys()) & history["asset_b"].isin(pos.keys())
    h = history[h_ok.to_numpy()]
    he = panel.times.get_indexer(_utc(h["entry_time"]))
    keep = he >= 0
    h, he = h[keep], he[keep]
    hx = panel.times.searchsorted(_utc(h["exit_time"].fillna(panel.times[-1] + panel.freq)))
    hx = np.asarray(hx, dtype=np.int64)
    ha = h["asset_a"].map(pos).to_numpy(np.int64)
    hb = h["asset_b"].map(pos).to_numpy(np.int64)
    new = np.zeros((n + 1, m))
    act = np.zeros((n + 1, m))
    for col in (ha, hb):
        np.add.at(new, (he + 1, col), 1.0)
        np.add.at(act, (he, col), 1.0)
        np.add.at(act, (np.minimum(hx, n), col), -1.0)
    cnew = np.cumsum(new, axis=0)  # cnew[t + 1] = entries at bars <= t
    active = np.cumsum(act, axis=0)[:n]  # active[t] = entered <= t and exit bar > t
    tot_act = np.zeros(n + 1)
    np.add.at(tot_act, he, 1.0)
    np.add.at(tot_act, np.minimum(hx, n), -1.0)
    tot_act = np.cumsum(tot_act)[:n]
    # the query's own episode, when it is in the history table, is excluded
    hkey = pd.MultiIndex.from_arrays([h["asset_a"].astype(str), h["asset_b"].astype(str), he])
    qkey = pd.MultiIndex.from_arrays([query["asset_a"].astype(str), query["asset_b"].astype(str), t])
    own = qkey.isin(hkey).astype(np.float64)
    lo = np.maximum(t + 1 - k, 0)
    others = max(m - 1, 1)
    for leg, idx in (("a", ia), ("b", ib)):
        out[f"breadth_new_{leg}"] = (cnew[t + 1, idx] - cnew[lo, idx] - own) / others
        out[f"breadth_active_{leg}"] = (active[t, idx] - own) / others
    n_pairs = max(m * (m - 1) / 2, 1)
    out["mkt_breadth_active"] = tot_act[t] / n_pairs
    return out


def _pair_history(
    query: pd.DataFrame, history: pd.DataFrame, step_ns: int
) -> dict[str, np.ndarray]:
    """Pair-history features of ``query`` rows from the episodes in ``history``.

    An episode counts as *earlier* when it entered strictly before the query's entry, and as
    *settled* when it has a label and ``max(exit_time, entry_time + 1 ns) <= entry``; open
    episodes never contribute a label. The global prior uses the same rule over all pairs.
    """
    hk = (history["asset_a"].astype(str) + "\x1f" + history["asset_b"].astype(str)).to_numpy()
    qk = (query["asset_a"].astype(str) + "\x1f" + query["asset_b"].astype(str)).to_numpy()
    codes, _ = pd.factorize(np.concatenate([hk, qk]))
    hp, qp = codes[: len(hk)].astype(np.int64), codes[len(hk) :].astype(np.int64)
    he = _ns(history["entry_time"])
    hx = _ns(history["exit_time"])
    hl = history["label"].to_numpy(dtype=np.float64, na_value=np.nan)
    qe = _ns(query["entry_time"])
    nat = np.iinfo(np.int64).min
    done = np.isfinite(hl) & (hx != nat) & (he != nat)
    hr = np.maximum(hx[done], he[done] + 1)  # time the label became known
    lab = hl[done]
    # time ranks make (pair, time) one sortable integer key
    grid = np.unique(np.concatenate([he, hr, qe]))
    span = np.int64(len(grid) + 1)
    qkey = qp * span + np.searchsorted(grid, qe)
    # earlier entries of the pair
    ekey = hp * span + np.searchsorted(grid, he)
    o = np.argsort(ekey, kind="stable")
    ekey, he_sorted = ekey[o], he[o]
    lo = np.searchsorted(ekey, qp * span, "left")
    hi = np.searchsorted(ekey, qkey, "left")
    n_prev = hi - lo
    prev = he_sorted[np.maximum(hi - 1, 0)]
    since = np.where(n_prev > 0, (qe - prev) / step_ns, np.nan)
    # settled labels of the pair
    rkey = hp[done] * span + np.searchsorted(grid, hr)
    o = np.argsort(rkey, kind="stable")
    rkey = rkey[o]
    cs = np.concatenate([[0.0], np.cumsum(lab[o])])
    lo = np.searchsorted(rkey, qp * span, "left")
    hi = np.searchsorted(rkey, qkey, "right")
    n_res = (hi - lo).astype(np.float64)
    k_res = cs[hi] - cs[lo]
    # settled labels of all pairs: the prior
    o = np.argsort(hr, kind="stable")
    gcs = np.concatenate([[0.0], np.cumsum(lab[o])])
    ng = np.searchsorted(hr[o], qe, "right")
    prior = np.where(ng > 0, gcs[ng] / np.maximum(ng, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_res > 0, k_res / n_res, np.nan)
    return {
        "bars_since_prev_episode": since,
        "pair_n_prev": n_prev.astype(np.float64),
        "pair_n_resolved": n_res,
        "pair_revert_rate": rate,
        "pair_revert_rate_shrunk": (k_res + PRIOR_STRENGTH * prior) / (n_res + PRIOR_STRENGTH),
    }


# ----------------------------------------------------------------------------------------------
# public


def build_features(
    panel: Panel,
    episodes: pd.DataFrame,
    cfg: Config,
    *,
    history: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Point-in-time features at each episode's entry bar.

    Parameters
    ----------
    panel : Panel
        The panel the episodes were detected on (or any panel holding their entry bars and the
        same asset universe).
    episodes : pandas.DataFrame
        Rows to featurise: at least ``asset_a, asset_b, entry_time, z_entry, beta, spread_std``
        (DESIGN.md episode columns). Open episodes (label null) are fine.
    cfg : Config
        ``spread`` (hedge-ratio and z windows), ``universe.min_obs_frac``, ``features`` and
        ``compute.block_size`` (pairs per block of series) are used.
    history : pandas.DataFrame, optional
        Episodes the pair-history features are counted from (needs ``label`` and ``exit_time``
        too); default ``episodes``. When scoring a subset (e.g. only open episodes), pass the full
        episode table here; only episodes entered (and labels settled) before each entry count.
    progress : callable, optional
        Called as ``progress(pairs_done, pairs_total)`` after each block of pairs.

    Returns
    -------
    pandas.DataFrame
        float64, index and row order of ``episodes``, columns :func:`feature_names` (``cfg``).
        NaN where a value is unknowable at entry; never filled with 0.

    Raises
    ------
    ValueError
        A required column is missing, or an episode's entry bar or asset is not in the panel.

    """
    names = feature_names(cfg)
    _check_columns(episodes, "episodes", _REQUIRED)
    hist = episodes if history is None else history
    _check_columns(hist, "history" if history is not None else "episodes", _HISTORY_REQUIRED)
    if len(episodes) == 0:
        return pd.DataFrame(np.empty((0, len(names))), index=episodes.index, columns=names)
    t, ia, ib = _locate(panel, episodes)
    z = episodes["z_entry"].to_numpy(dtype=np.float64)
    beta = episodes["beta"].to_numpy(dtype=np.float64)
    sgn = np.sign(z)
    values: dict[str, np.ndarray] = {"abs_z_entry": np.abs(z), "beta_entry": beta}

    entry = _utc(episodes["entry_time"])
    values["hour"] = entry.hour.to_numpy(dtype=np.float64)
    values["dow"] = entry.day_of_week.to_numpy(dtype=np.float64)

    logp = panel.log_close()
    fc, sc = cfg.features, cfg.spread
    n_stats = 5 + len(VR_LAGS)
    stats = np.empty((len(t), 2 * n_stats))
    _spread_kernel(
        logp, ia, ib, t, beta, sgn, fc.trailing_bars, min_obs(fc.trailing_bars, sc.min_obs_frac),
        SHORT_BARS, min_obs(SHORT_BARS, sc.min_obs_frac), np.asarray(VR_LAGS, np.int64),
        HALF_LIFE_MIN, stats,
    )
    long, short = stats[:, :n_stats], stats[:, n_stats:]
    for k, stat in enumerate(("spread_z", "spread_ar1", "spread_half_life", "spread_adf_t")):
        col = (0, 2, 3, 4)[k]
        values[f"{stat}_long"] = long[:, col]
        values[f"{stat}_{SHORT_BARS}"] = short[:, col]
    for k, q in enumerate(VR_LAGS):
        values[f"spread_vr{q}_long"] = long[:, 5 + k]
    values["spread_dvol_long"] = long[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        values["spread_dvol_ratio"] = short[:, 1] / long[:, 1]
        values["spread_std_to_dvol"] = episodes["spread_std"].to_numpy(np.float64) / long[:, 1]

    values.update(_pair_block_features(logp, t, ia, ib, cfg, progress))

    assets = _asset_features(panel, cfg)
    for key in ("vol_ratio", "spikes", "qv_ratio", "log_qv"):
        values[f"{key}_a"] = assets[key][t, ia]
        values[f"{key}_b"] = assets[key][t, ib]
    values["log_qv_min"] = np.minimum(values["log_qv_a"], values["log_qv_b"])
    values["mkt_vol_ratio"] = assets["mkt_vol_ratio"][t]
    values["mkt_dispersion"] = assets["mkt_dispersion"][t]
    del assets

    if fc.use_funding:
        last, mean_k = _funding_features(panel)
        values["funding_diff"] = last[t, ia] - last[t, ib]
        values["funding_diff_mean3"] = mean_k[t, ia] - mean_k[t, ib]
        values["funding_carry"] = sgn * (last[t, ia] - beta * last[t, ib])
        del last, mean_k

    if fc.use_regime:  # regime-trigger family (features/_regime.py)
        values.update(regime_trigger_features(panel, t, ia, ib, cfg))
    values.update(_flow_features(panel, episodes, hist, t, ia, ib, z, beta))
    values.update(_pair_history(episodes, hist, int(panel.freq.value)))

    data = np.empty((len(episodes), len(names)))
    for k, name in enumerate(names):
        data[:, k] = values.pop(name)
    return pd.DataFrame(data, index=episodes.index, columns=names)
