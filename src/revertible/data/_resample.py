"""Coarser bars from finer ones (``data.resample``), point in time.

A coarse bar covers the fine bars whose open times fall in ``[T, T + coarse)``, with ``T`` on the
UTC grid of the coarse size counted from the epoch (4h bars open at 00, 04, ... UTC; daily bars at
midnight UTC). It is labelled by its open time ``T`` like every bar of the panel, and its close is
the close of its last fine bar, known at ``T + coarse``: a decision at the coarse bar is made when
the last fine bar of it closes, never earlier. A coarse bar exists only once complete: the panel
ends at the last coarse bar whose whole span lies inside the fine data (a trailing partial bar is
dropped, and so is a leading one). Per asset: ``open`` of its first fine bar in the span,
``high``/``low`` the max/min, ``close`` of its last, volumes summed, funding summed (the events
paid within the span); NaN where the asset has no fine bar in the span.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError
from ._discover import _tf_text

if TYPE_CHECKING:
    from ._panel import Panel

__all__ = ["resample_panel"]


def _first_last(x: np.ndarray, group: np.ndarray, n: int, last: bool) -> np.ndarray:
    """The first (or last) finite value of each column within each group."""
    out = np.full((n, x.shape[1]), np.nan)
    for j in range(x.shape[1]):
        ok = np.flatnonzero(np.isfinite(x[:, j]))
        if not ok.size:
            continue
        g = group[ok]
        pick = np.r_[g[1:] != g[:-1], True] if last else np.r_[True, g[1:] != g[:-1]]
        out[g[pick], j] = x[ok[pick], j]
    return out


def _reduce(x: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """Sum, max or min of each column over each group (groups start at ``starts``); NaN if empty."""
    has = np.add.reduceat(np.isfinite(x).astype(np.int64), starts, axis=0) > 0
    if how == "sum":
        v = np.add.reduceat(np.nan_to_num(x), starts, axis=0)
    elif how == "max":
        v = np.fmax.reduceat(x, starts, axis=0)
    else:
        v = np.fmin.reduceat(x, starts, axis=0)
    return np.where(has, v, np.nan)


def resample_panel(panel: Panel, rule: str | pd.Timedelta) -> Panel:
    """Aggregate ``panel`` to bars of size ``rule`` (a multiple of its own bar size).

    Parameters
    ----------
    panel : Panel
        Fine bars on a regular grid.
    rule : str or pandas.Timedelta
        Coarse bar size, e.g. ``"4h"`` or ``"1d"``.

    Returns
    -------
    Panel
        Coarse bars (see the module docstring for the rules); ``meta["timeframe"]`` is the coarse
        size and ``meta["resampled_from"]`` the fine one.

    Raises
    ------
    DataError
        If ``rule`` is not a multiple of the bar size, or no complete coarse bar exists.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from revertible.data import Panel
    >>> t = pd.date_range("2024-01-01", periods=10, freq="1h", tz="UTC")
    >>> x = np.arange(1.0, 11.0)[:, None]
    >>> p = Panel(t, ("A/USDT",), x, x + 0.5, x - 0.5, x, x, x)
    >>> q = resample_panel(p, "4h")
    >>> q.close[:, 0].tolist(), q.high[:, 0].tolist(), q.volume[:, 0].tolist()
    ([4.0, 8.0], [4.5, 8.5], [10.0, 26.0])
    """
    from ..config import duration

    fine = panel.freq
    coarse = duration(rule) if isinstance(rule, str) else pd.Timedelta(rule)
    if coarse is None or coarse <= fine or coarse % fine != pd.Timedelta(0):
        raise DataError(
            f"data.resample={rule!r}: not a multiple of the files' bar size {_tf_text(fine)}; use "
            f"a coarser multiple, e.g. 4h or 1d"
        )
    ns = panel.times.as_unit("ns").asi8
    key = ns // coarse.value
    span_end = (key + 1) * coarse.value  # open time of the next coarse bar
    # the whole span lies inside the fine data: no partial first or last coarse bar
    complete = (key * coarse.value >= ns[0]) & (span_end <= ns[-1] + fine.value)
    keep = np.flatnonzero(complete)
    if not keep.size:
        raise DataError(
            f"data.resample={rule!r}: the {_tf_text(fine)} data ({panel.n_bars} bars) holds no "
            f"complete {_tf_text(coarse)} bar; use a finer resample or more data"
        )
    key = key[keep]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(key)]))
    n = len(starts)

    def sl(x: np.ndarray) -> np.ndarray:
        return np.asarray(x[keep], dtype=np.float64)

    out = {
        "open": _first_last(sl(panel.open), group, n, last=False),
        "close": _first_last(sl(panel.close), group, n, last=True),
        "high": _reduce(sl(panel.high), starts, "max"),
        "low": _reduce(sl(panel.low), starts, "min"),
        "volume": _reduce(sl(panel.volume), starts, "sum"),
        "quote_volume": _reduce(sl(panel.quote_volume), starts, "sum"),
    }
    # a coarse bar with a close: one fine bar at least; volumes of bars without a price stay NaN
    priced = np.isfinite(out["close"])
    for f in ("volume", "quote_volume"):
        out[f] = np.where(priced, out[f], np.nan)
    funding = None
    if panel.funding is not None:
        funding = np.asfortranarray(_reduce(sl(panel.funding), starts, "sum"))
    first = int(key[0])
    times = pd.date_range(pd.Timestamp(first * coarse.value, unit="ns", tz="UTC"), periods=n,
                          freq=coarse, unit="ns")  # fmt: skip
    meta = dict(panel.meta)
    meta.update(timeframe=_tf_text(coarse), resampled_from=_tf_text(fine))
    return replace(
        panel, times=times, funding=funding, meta=meta,
        **{k: np.asfortranarray(v) for k, v in out.items()},
    )
