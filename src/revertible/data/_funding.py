"""Funding rates: one event per settlement put on the bar it belongs to (never earlier)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ._discover import _TIME_COLUMNS, FUNDING_JITTER, _base_quote
from ._read import _missing, _read_columns, _time_column, _timestamps_ns
from ._validate import _floats, _ordered

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

__all__: list[str] = []

_FUNDING_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)(?:_(?P<settle>[A-Za-z0-9]+))?"
    r"-(?P<tf>[A-Za-z0-9]+)-funding_rate\.feather$"
)


def _read_funding(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Funding times (epoch ns, increasing) and rates (the ``open`` column) of one file."""
    cols = _read_columns(path)
    need = [] if any(c in cols for c in _TIME_COLUMNS) else ["date"]
    need += [] if "open" in cols else ["open"]
    if need:
        _missing(path, need, [orig for orig, _ in cols.values()])
    tname, tvalues = _time_column(cols)
    t = _timestamps_ns(path, tname, tvalues)
    order = _ordered(path, t)
    rate = _floats(cols["open"][1])
    bad = np.flatnonzero(~np.isfinite(rate))
    if bad.size:
        raise DataError(
            f"data file {path.name}: column 'open' (funding rate) row {bad[0] + 1} value "
            f"{float(rate[bad[0]])!r} is not finite; fix or drop the row"
        )
    return t[order], rate[order]


def _funding_bars(t: np.ndarray, start: int, step_ns: int) -> np.ndarray:
    """Grid position of each funding time: its own bar (within the jitter), else the next one."""
    rel = t - start
    below = rel // step_ns  # floor: the bar open at or before the event
    late = rel - below * step_ns  # how long after that bar's open the event happened
    return np.where(late <= FUNDING_JITTER.value, below, below + 1)


def _attach_funding(
    folder: Path, times: pd.DatetimeIndex, assets: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, str]]:
    """Put each funding event on its grid bar; NaN where there is none.

    An event goes to the bar whose open time equals its timestamp (within
    :data:`FUNDING_JITTER`); an event between bars goes to the *next* bar, never an earlier one,
    so no bar sees funding before it happened. Several events on one bar (a grid coarser than
    the funding interval) are summed. Events whose bar would lie outside the grid are
    dropped. A file ``BTC_USDT_USDT-8h-funding_rate.feather`` feeds ``BTC/USDT`` and
    ``BTC/USDT:USDT``; assets without a file stay all-NaN (unknown, not zero).
    """
    if not folder.is_dir():
        raise DataError(
            f"data.funding_path {folder} does not exist; point it at a folder of "
            "<BASE>_<QUOTE>_<SETTLE>-8h-funding_rate.feather files or set it to null"
        )
    matches = [(p, _FUNDING_RE.match(p.name)) for p in sorted(folder.iterdir())]
    matches = [(p, m) for p, m in matches if m is not None]
    if not matches:
        raise DataError(
            f"data.funding_path {folder}: no funding files; expected "
            "<BASE>_<QUOTE>_<SETTLE>-8h-funding_rate.feather"
        )
    funding = np.full((len(times), len(assets)), np.nan, order="F")
    used: dict[str, str] = {}
    start, step_ns, n = int(times.asi8[0]), int((times[1] - times[0]).value), len(times)
    for path, m in matches:
        cols = [
            j
            for j, a in enumerate(assets)
            if _base_quote(a) == (m.group("base"), m.group("quote"))
            and (":" not in a or m.group("settle") in (None, a.split(":")[1]))
        ]
        if not cols:
            continue
        t, rate = _read_funding(path)
        pos = _funding_bars(t, start, step_ns)
        inside = (pos >= 0) & (pos < n)
        column = np.zeros(n)
        np.add.at(column, pos[inside], rate[inside])
        hit = np.zeros(n, dtype=bool)
        hit[pos[inside]] = True
        column[~hit] = np.nan
        for j in cols:
            funding[:, j] = column
            used[assets[j]] = str(path)
    return funding, used

