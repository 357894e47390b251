"""Signals of a backtest: the episodes in range, their seeded order, and their exit paths.

The exit path of a signal (entry fill, exit signal, exit fill) depends on neither size nor book,
so it is computed once per signal and direction by a compiled loop (see :mod:`._engine` for the
timing rules). A *continuation* trade uses the same kernel on the negated z' with the negated
``continue`` barriers: take-profit when ``z' >= continue.take_profit``, stop when
``z' <= continue.stop``, time stop after ``continue.horizon`` bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np
import pandas as pd

from ..config import Config
from ..data import Panel
from ..decision import Exit
from ..errors import RevertibleError

__all__ = ["EXIT_REASONS", "PATH_COLUMNS", "exit_paths", "order_keys", "continue_horizon"]

EXIT_REASONS = np.array([e.name.lower() for e in Exit], dtype=object)
"""Exit reason names, indexed by :class:`revertible.decision.Exit` code."""

PATH_COLUMNS = ["entry_bar", "exit_signal_bar", "exit_bar", "path_reason", "at_close",
                "open_a", "open_b", "exit_px_a", "exit_px_b"]  # fmt: skip
"""Columns of :func:`exit_paths` (continuation paths: the same with a ``c_`` prefix)."""


def continue_horizon(cfg: Config) -> int:
    """Time stop of a continuation trade in bars (``continue.horizon``, else the label's)."""
    h = cfg.continue_.horizon
    return cfg.label.horizon if h is None else h


def _signals(
    panel: Panel, episodes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Episodes entered in ``[start, end]`` with bar and asset positions and sizing prices."""
    sel = (episodes["entry_time"] >= start) & (episodes["entry_time"] <= end)
    sig = episodes.loc[sel].copy()
    sig["t"] = panel.times.get_indexer(pd.DatetimeIndex(sig["entry_time"])).astype(np.int64)
    if (sig["t"] < 0).any():
        raise RevertibleError("episodes do not match the panel's bars: build them from the panel")
    pos = {a: i for i, a in enumerate(panel.assets)}
    sig["ia"] = sig["asset_a"].map(pos).to_numpy(np.int64)
    sig["ib"] = sig["asset_b"].map(pos).to_numpy(np.int64)
    sig["price_a"] = panel.close[sig["t"].to_numpy(), sig["ia"].to_numpy()]
    sig["price_b"] = panel.close[sig["t"].to_numpy(), sig["ib"].to_numpy()]
    return sig


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 -> uint64, wrapping)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def order_keys(sig: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded pseudo-random key per signal that ignores names and row order.

    The key hashes the signal's own numbers (entry bar, ``z_entry``, ``beta``,
    ``spread_std``) with ``seed``, so the order of the signals within a bar is random (each
    ``seed`` gives another order) but neither the data's row order nor the asset names, which
    sort the episode table, can move it: renaming the assets leaves every trade unchanged.
    """
    with np.errstate(over="ignore"):
        h = _mix(np.full(len(sig), np.uint64(seed & 0xFFFFFFFFFFFFFFFF)) + np.uint64(0x9E37))
        for col in ("t", "z_entry", "beta", "spread_std"):
            v = sig[col].to_numpy(np.float64 if col != "t" else np.int64)
            h = _mix(h ^ np.ascontiguousarray(v).view(np.uint64))
    return h


@nb.njit(cache=True, parallel=True)
def _exit_kernel(
    t, ia, ib, sgn, beta, mean, std, logc, opn, close, corr, horizon, tp, stop, min_corr,
    out_i, out_p,
):  # pragma: no cover
    """Entry fill, exit signal, exit fill of each signal (see :mod:`._engine`).

    ``out_i[i]``: entry bar, exit-signal bar, exit bar (first bar *not* held), reason, at-close
    flag; ``out_p[i]``: entry open A, B, exit price A, B (raw, before slippage).
    """
    n = logc.shape[0]
    for i in nb.prange(t.shape[0]):
        ti, a, b = t[i], ia[i], ib[i]
        out_i[i, :] = -1
        out_p[i, :] = np.nan
        e = ti + 1
        if e >= n or not (np.isfinite(opn[e, a]) and np.isfinite(opn[e, b])):
            out_i[i, 3] = Exit.NO_ENTRY
            continue
        sig = -1
        reason = Exit.END_OF_DATA
        for j in range(e, min(ti + horizon, n - 1) + 1):
            la = logc[j, a]
            lb = logc[j, b]
            if np.isfinite(la) and np.isfinite(lb):
                zz = sgn[i] * (la - beta[i] * lb - mean[i]) / std[i]
                if zz <= tp:
                    sig, reason = j, Exit.TAKE_PROFIT
                    break
                if zz >= stop:
                    sig, reason = j, Exit.STOP
                    break
            c = corr[i, j - ti]
            if np.isfinite(c) and abs(c) < min_corr:
                sig, reason = j, Exit.CORRELATION
                break
            if j == ti + horizon:
                sig, reason = j, Exit.TIME
                break
        x = -1
        if sig >= 0:
            for k in range(sig + 1, n):
                if np.isfinite(opn[k, a]) and np.isfinite(opn[k, b]):
                    x = k
                    break
        out_i[i, 0] = e
        out_i[i, 1] = sig
        out_p[i, 0] = opn[e, a]
        out_p[i, 1] = opn[e, b]
        if x >= 0:
            out_i[i, 2] = x
            out_i[i, 3] = reason
            out_i[i, 4] = 0
            out_p[i, 2] = opn[x, a]
            out_p[i, 3] = opn[x, b]
            continue
        last = -1
        for k in range(n - 1, e - 1, -1):
            if np.isfinite(close[k, a]) and np.isfinite(close[k, b]):
                last = k
                break
        out_i[i, 3] = Exit.END_OF_DATA
        out_i[i, 4] = 1
        if last < 0:  # no close after the entry fill: flat at the entry open
            out_i[i, 2] = e + 1
            out_p[i, 2] = opn[e, a]
            out_p[i, 3] = opn[e, b]
        else:
            out_i[i, 2] = last + 1
            out_p[i, 2] = close[last, a]
            out_p[i, 3] = close[last, b]


def _exit_corr(
    panel: Panel, t: np.ndarray, ia: np.ndarray, ib: np.ndarray, cfg: Config, horizon: int,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``(n, horizon + 1)``: return correlation of each signal's pair at bars ``t .. t+H``.

    The values are those of :func:`revertible.spread.pair_series` (bit for bit), read at only
    these bars by :func:`revertible.spread.entry_values` (one pass per block of pairs).
    """
    from ..spread import entry_values

    n_bars, n_assets = panel.n_bars, panel.n_assets
    out = np.full((len(t), horizon + 1), np.nan)
    if len(t) == 0:
        return out
    logp = panel.log_close()
    cols = t[:, None] + np.arange(horizon + 1)[None, :]
    inside = cols < n_bars
    cols = np.minimum(cols, n_bars - 1)
    pairs, inv = np.unique(ia * n_assets + ib, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(pairs) + 1))
    bs = max(1, min(cfg.compute.block_size, 512))
    win = int(round(pd.Timedelta(days=cfg.backtest.corr_exit_days) / panel.freq))
    for s in range(0, len(pairs), bs):
        e = min(s + bs, len(pairs))
        rows = order[bounds[s] : bounds[e]]
        local = np.repeat(inv[rows] - s, horizon + 1)
        corr, _ = entry_values(logp, pairs[s:e] // n_assets, pairs[s:e] % n_assets, local,
                               cols[rows].ravel(), [win], cfg.universe.min_obs_frac,
                               spread=False)  # fmt: skip
        out[rows] = corr[:, 0].reshape(len(rows), horizon + 1)
        if progress is not None:
            progress(e, len(pairs))
    out[~inside] = np.nan
    return out


def exit_paths(
    panel: Panel, signals: pd.DataFrame, cfg: Config,
    progress: Callable[[int, int], None] | None = None, *, continuation: bool = False,
    corr: np.ndarray | None = None,
) -> pd.DataFrame:
    """Entry and exit of every signal under the exit rules (:mod:`._engine`), size-free.

    ``signals`` needs ``t, ia, ib`` (bar and asset columns) and ``z_entry, beta, spread_mean,
    spread_std``. Returns :data:`PATH_COLUMNS` (same index); ``exit_bar`` is the first bar not
    held. ``continuation=True``: the paths of a trade with the divergence (module docstring).
    ``corr``: the exit correlations (:func:`_exit_corr`) when already computed.
    """
    t = signals["t"].to_numpy(np.int64)
    ia = signals["ia"].to_numpy(np.int64)
    ib = signals["ib"].to_numpy(np.int64)
    horizon = continue_horizon(cfg) if continuation else cfg.label.horizon
    if corr is None or corr.shape[1] < horizon + 1:
        corr = _exit_corr(panel, t, ia, ib, cfg, horizon, progress)
    out_i = np.empty((len(t), 5), dtype=np.int64)
    out_p = np.empty((len(t), 4))
    sgn = np.sign(signals["z_entry"].to_numpy(float))
    if continuation:
        sgn, tp, stop = -sgn, -float(cfg.continue_.take_profit), -float(cfg.continue_.stop)
    else:
        tp, stop = float(cfg.label.exit), float(cfg.label.stop)
    if len(t):
        _exit_kernel(
            t, ia, ib, sgn, signals["beta"].to_numpy(float),
            signals["spread_mean"].to_numpy(float), signals["spread_std"].to_numpy(float),
            panel.log_close(), np.asfortranarray(panel.open), np.asfortranarray(panel.close),
            np.ascontiguousarray(corr), horizon, tp, stop, float(cfg.sizing.min_abs_corr_exit),
            out_i, out_p,
        )
    return pd.DataFrame(
        {
            "entry_bar": out_i[:, 0], "exit_signal_bar": out_i[:, 1], "exit_bar": out_i[:, 2],
            "path_reason": out_i[:, 3], "at_close": out_i[:, 4].astype(bool),
            "open_a": out_p[:, 0], "open_b": out_p[:, 1],
            "exit_px_a": out_p[:, 2], "exit_px_b": out_p[:, 3],
        },
        index=signals.index,
    )  # fmt: skip
