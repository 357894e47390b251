"""Trade outcomes of each divergence episode (docs/design.md "Trade outcomes").

For an episode entered at bar ``t`` of ordered pair (A, B), with ``beta_t``, ``mean_t`` and
``std_t`` frozen at ``t`` and ``z'_j = sign(z_t) (a_j - beta_t b_j - mean_t) / std_t`` on log
closes (the label's spread), two trades are replayed, both per unit of gross notional (leg A
``1/(1+|beta|)``, leg B ``|beta|/(1+|beta|)`` of it, valued at the entry fill):

* ``revert_return``: leg A ``-sign(z_t)``, leg B ``sign(z_t) sign(beta_t)`` (the spread is faded);
  exit signal at the first close ``j = t+1 .. t+H`` with ``z'_j <= label.exit`` (take profit) or
  ``z'_j >= label.stop`` (stop), else at ``j = t + label.horizon`` (time stop);
* ``continue_return``: the opposite sides; exit signal at ``z'_j >= continue.take_profit`` or
  ``z'_j <= continue.stop``, else at ``j = t + continue.horizon``.

Timing, exactly as the backtest (:func:`revertible.backtest.exit_paths`) realises a trade: entry
fill at the open of ``t + 1`` (no open for either leg there: no trade, NaN); a bar without both
closes cannot touch a barrier; the exit fills at the open of the first bar after the exit signal
where both legs have an open; with no such bar, at the last close where both legs have one. The
return is ``sum_leg w * side * (exit / entry - 1)``, gross, before costs. An episode whose time
stop lies beyond the pair's last bar with both closes and that touched no barrier is open: NaN
(the label's ``open``).

With the defaults (``continue`` barriers the mirror of the label's, same horizon) the two trades
exit together and ``continue_return == -revert_return``; they differ once the continuation
barriers or horizon are set apart.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
import pandas as pd

from ..data import Panel
from ..spread import min_obs

__all__ = ["trade_outcomes", "trade_outcome_legs", "split_returns", "outcome_targets",
           "outcome_returns", "LEG_VOL_DAYS", "leg_vols", "entry_targets",
           "LEG_COLUMNS"]


#: Trailing window of the per-leg return volatility, in days (bars: the panel's bar size).
LEG_VOL_DAYS = 30


def leg_vols(panel: Panel, window: int | None = None, min_obs_frac: float = 0.9) -> np.ndarray:
    """``(T, N)`` std (ddof 1) of one-bar log returns over the trailing ``window`` bars.

    ``window`` None: :data:`LEG_VOL_DAYS` days of the panel's bars. The window ends at ``t``
    inclusive (the return into bar ``t`` counts); NaN unless at least
    ``ceil(min_obs_frac * window)`` returns are valid. Computed in one forward pass, so the value
    at ``t`` is the same on any panel that holds bars ``0..t``.
    """
    if window is None:
        window = panel.days_to_bars(LEG_VOL_DAYS)
    ret = np.diff(panel.log_close(), axis=0, prepend=np.nan)
    df = pd.DataFrame(ret)
    vol = df.rolling(window, min_periods=min_obs(window, min_obs_frac)).std(ddof=1)
    return vol.to_numpy()


@nb.njit(cache=True, nogil=True)
def _exit_signal(logc, t, a, b, sgn, beta, mean, std, lo, hi, horizon):  # pragma: no cover
    """Bar of the exit signal (first barrier touched, else the time stop); -1 while open."""
    n = logc.shape[0]
    for j in range(t + 1, min(t + horizon, n - 1) + 1):
        la = logc[j, a]
        lb = logc[j, b]
        if np.isfinite(la) and np.isfinite(lb):
            zz = sgn * (la - beta * lb - mean) / std
            if zz <= lo or zz >= hi:
                return j
    # time stop at t + horizon if the pair still has a bar with both closes there or later
    for j in range(t + horizon, n):
        if np.isfinite(logc[j, a]) and np.isfinite(logc[j, b]):
            return t + horizon
    return -1


@nb.njit(cache=True, nogil=True)
def _realise(opn, close, t, a, b, sgn, beta, sig, side):  # pragma: no cover
    """``(gross return, leg A's return, leg B's return)`` of a trade exiting on signal ``sig``.

    The gross return is per unit of gross notional; each leg's is per unit of that leg's
    notional, signed by its side.
    """
    n = opn.shape[0]
    e = t + 1
    if sig < 0 or e >= n or not (np.isfinite(opn[e, a]) and np.isfinite(opn[e, b])):
        return np.nan, np.nan, np.nan  # open, or no entry fill
    xa = np.nan
    xb = np.nan
    for k in range(sig + 1, n):
        if np.isfinite(opn[k, a]) and np.isfinite(opn[k, b]):
            xa = opn[k, a]
            xb = opn[k, b]
            break
    if not np.isfinite(xa):
        for k in range(n - 1, e - 1, -1):
            if np.isfinite(close[k, a]) and np.isfinite(close[k, b]):
                xa = close[k, a]
                xb = close[k, b]
                break
        if not np.isfinite(xa):  # no close after the entry fill: flat at the entry open
            return 0.0, 0.0, 0.0
    ab = abs(beta)
    sa = -side * sgn
    sb = -sa * (1.0 if beta > 0 else -1.0 if beta < 0 else 0.0)
    oa = opn[e, a]
    ob = opn[e, b]
    la = sa * (xa - oa) / oa
    lb = sb * (xb - ob) / ob
    return (la + ab * lb) / (1.0 + ab), la, lb


@nb.njit(cache=True, parallel=True)
def outcome_returns(
    logc, opn, close, t, ia, ib, z, beta, mean, std, lo, hi, horizon, side, given, out, out_a,
    out_b,
):  # pragma: no cover
    """Write each episode's trade return into ``out`` (one trade kind, parallel over episodes).

    ``out_a``/``out_b`` receive each leg's signed return (any leg split's return is
    ``(out_a + r * out_b) / (1 + r)`` for leg ratio ``r``; ``r = |beta|`` gives ``out``).
    ``side`` is +1 for the reversion trade (barriers ``z' <= lo`` take profit, ``z' >= hi``
    stop), -1 for the continuation trade (``z' >= hi`` take profit, ``z' <= lo`` stop).
    ``given``: the exit-signal bars when already known (the label's exit), else an empty array.
    """
    known = given.shape[0] == t.shape[0]
    for i in nb.prange(t.shape[0]):
        zi = z[i]
        if not (np.isfinite(zi) and np.isfinite(beta[i]) and std[i] > 0.0):
            out[i] = np.nan
            out_a[i] = np.nan
            out_b[i] = np.nan
            continue
        sgn = 1.0 if zi > 0 else -1.0
        if known:
            sig = given[i]
        else:
            sig = _exit_signal(logc, t[i], ia[i], ib[i], sgn, beta[i], mean[i], std[i], lo, hi,
                               horizon)
        out[i], out_a[i], out_b[i] = _realise(opn, close, t[i], ia[i], ib[i], sgn, beta[i], sig,
                                              side)


def trade_outcomes(
    logc: np.ndarray,
    opn: np.ndarray,
    close: np.ndarray,
    t: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    z: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    label_exit: float,
    label_stop: float,
    label_horizon: int,
    continue_take_profit: float,
    continue_stop: float,
    continue_horizon: int,
    revert_exit: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(revert_return, continue_return)`` of episodes (see the module docstring).

    Parameters
    ----------
    logc : numpy.ndarray
        ``(T, N)`` log closes (the label's prices: :meth:`revertible.data.Panel.log_close`).
    opn, close : numpy.ndarray
        ``(T, N)`` opens and closes (NaN where missing).
    t, ia, ib : numpy.ndarray
        Entry bar and asset columns of each episode.
    z, beta, mean, std : numpy.ndarray
        ``z_entry``, ``beta``, ``spread_mean``, ``spread_std`` of each episode.
    label_exit, label_stop, label_horizon, continue_take_profit, continue_stop, \
continue_horizon
        The two trades' barriers (``cfg.label`` and ``cfg.continue_``).
    revert_exit : numpy.ndarray, optional
        The label's exit bar of each episode (-1 while open), when known: the reversion trade's
        exit signal, so it is not searched again. The continuation trade then reuses it too when
        its barriers and horizon mirror the label's (the defaults): ``continue_return`` is
        ``-revert_return`` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.full((6, 2), 100.0); p[3:, 0] = 90.0      # leg A falls from the open of bar 3
    >>> r, c = trade_outcomes(np.log(p), p, p, np.array([1]), np.array([0]), np.array([1]),
    ...                       np.array([2.5]), np.array([1.0]), np.array([0.0]), np.array([0.04]),
    ...                       0.5, 4.0, 3, 4.0, 0.5, 3)
    >>> round(float(r[0]), 6), round(float(c[0]), 6)      # short A, long B: +5% of gross
    (0.05, -0.05)
    """
    out = trade_outcome_legs(logc, opn, close, t, ia, ib, z, beta, mean, std, label_exit,
                             label_stop, label_horizon, continue_take_profit, continue_stop,
                             continue_horizon, revert_exit)
    return out["revert_return"], out["continue_return"]


LEG_COLUMNS = ("revert_leg_a", "revert_leg_b", "continue_leg_a", "continue_leg_b")
"""Episode columns of each trade's per-leg signed returns (:func:`split_returns`)."""


def trade_outcome_legs(
    logc: np.ndarray, opn: np.ndarray, close: np.ndarray, t: np.ndarray, ia: np.ndarray,
    ib: np.ndarray, z: np.ndarray, beta: np.ndarray, mean: np.ndarray, std: np.ndarray,
    label_exit: float, label_stop: float, label_horizon: int, continue_take_profit: float,
    continue_stop: float, continue_horizon: int, revert_exit: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """:func:`trade_outcomes` plus each trade's per-leg returns (:data:`LEG_COLUMNS`).

    Keys ``revert_return``, ``continue_return`` and :data:`LEG_COLUMNS`; a leg's return is per
    unit of that leg's notional, signed by its side, so the trade's return with leg B ``r``
    times leg A is ``(leg_a + r * leg_b) / (1 + r)`` (:func:`split_returns`).
    """
    t = np.ascontiguousarray(t, dtype=np.int64)
    args = (
        np.ascontiguousarray(logc, dtype=np.float64), np.ascontiguousarray(opn, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64), t,
        np.ascontiguousarray(ia, dtype=np.int64), np.ascontiguousarray(ib, dtype=np.int64),
        *(np.ascontiguousarray(x, dtype=np.float64) for x in (z, beta, mean, std)),
    )
    n = len(t)
    rev, rev_a, rev_b = np.empty(n), np.empty(n), np.empty(n)
    con, con_a, con_b = np.empty(n), np.empty(n), np.empty(n)
    none = np.empty(0, np.int64)
    given = none if revert_exit is None else np.ascontiguousarray(revert_exit, dtype=np.int64)
    mirror = (continue_stop == label_exit and continue_take_profit == label_stop
              and continue_horizon == label_horizon)
    if n:
        outcome_returns(*args, float(label_exit), float(label_stop), int(label_horizon), 1.0,
                        given, rev, rev_a, rev_b)
        if mirror and revert_exit is not None:
            con, con_a, con_b = -rev, -rev_a, -rev_b
        else:
            outcome_returns(*args, float(continue_stop), float(continue_take_profit),
                            int(continue_horizon), -1.0, none, con, con_a, con_b)
    return {"revert_return": rev, "continue_return": con, "revert_leg_a": rev_a,
            "revert_leg_b": rev_b, "continue_leg_a": con_a, "continue_leg_b": con_b}


def split_returns(legs_a: np.ndarray, legs_b: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """A trade's gross return per unit of gross notional when leg B is ``ratio`` x leg A.

    ``(leg_a + ratio * leg_b) / (1 + ratio)``; with ``ratio = |beta|`` it is the episode's
    ``<direction>_return`` to the last bit.

    Examples
    --------
    >>> split_returns(np.array([0.02]), np.array([-0.01]), np.array([1.0])).tolist()
    [0.005]
    """
    r = np.asarray(ratio, dtype=float)
    return (np.asarray(legs_a, dtype=float) + r * np.asarray(legs_b, dtype=float)) / (1.0 + r)



def outcome_targets(
    episodes: pd.DataFrame, split: str, vol_a: Any = None, vol_b: Any = None
) -> pd.DataFrame:
    """Realised gross return of both trades for the legs ``split`` trades.

    Columns ``revert`` and ``continue``, on ``episodes``' index.
    ``"beta"``: the episodes' ``revert_return``/``continue_return``; ``"dollar"``: 1:1 legs;
    ``"vol_parity"``: leg B ``vol_a / vol_b`` x leg A with each leg's return vol at the entry
    bar (``vol_a``/``vol_b``, required). Computed from :data:`LEG_COLUMNS` exactly as
    ``revert_return`` is (:func:`split_returns`).

    Raises
    ------
    ValueError
        On an unknown split, missing leg columns or missing vols for ``vol_parity``.
    """
    if split == "beta":
        return pd.DataFrame({"revert": episodes["revert_return"].to_numpy(float),
                             "continue": episodes["continue_return"].to_numpy(float)},
                            index=episodes.index)
    missing = [c for c in LEG_COLUMNS if c not in episodes.columns]
    if missing:
        raise ValueError(f"sizing.split={split!r} needs the episode columns {missing}: rebuild "
                         "the episodes with this version (`revertible episodes CONFIG`)")
    if split == "dollar":
        ratio = np.ones(len(episodes))
    elif split == "vol_parity":
        if vol_a is None or vol_b is None:
            raise ValueError("sizing.split='vol_parity' needs each leg's return vol at entry")
        va, vb = np.asarray(vol_a, float), np.asarray(vol_b, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where((va > 0) & (vb > 0), va / vb, np.nan)
    else:
        raise ValueError(f"split={split!r}: use 'beta', 'dollar' or 'vol_parity'")
    return pd.DataFrame(
        {d: split_returns(episodes[f"{d}_leg_a"].to_numpy(float),
                          episodes[f"{d}_leg_b"].to_numpy(float), ratio)
         for d in ("revert", "continue")}, index=episodes.index)


def entry_targets(
    panel: Panel, episodes: pd.DataFrame, split: str, min_obs_frac: float = 0.9
) -> pd.DataFrame:
    """:func:`outcome_targets` of ``episodes`` of ``panel`` (leg vols at each entry bar).

    The vols (``vol_parity`` only) are :func:`leg_vols` at the entry bar: point in time.
    """
    if split != "vol_parity":
        return outcome_targets(episodes, split)
    vols = leg_vols(panel, None, min_obs_frac)
    t = panel.times.get_indexer(pd.DatetimeIndex(episodes["entry_time"]))
    index = pd.Index(list(panel.assets), dtype=object)
    ia = index.get_indexer(pd.Index(episodes["asset_a"], dtype=object))
    ib = index.get_indexer(pd.Index(episodes["asset_b"], dtype=object))
    return outcome_targets(episodes, split, vols[t, ia], vols[t, ib])
