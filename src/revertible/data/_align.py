"""Data layer: find, read and validate per-asset price files, align them on one UTC bar grid.

This is the only pipeline stage that reads market data from disk. It returns a :class:`Panel`
whose every array is ``(T, N)`` float64 in Fortran order on one regular UTC grid running from
the earliest first bar to the latest last bar of the selected assets, at ``data.timeframe``.

Rules (each broken rule is a one-line :class:`DataError` naming the file and the fix):

- Timestamps are bar *open* times and must be timezone-aware (or epoch integers, which are
  UTC by definition). Epoch integers are read per value by magnitude: seconds below ``1e11``,
  milliseconds below ``1e14``, microseconds below ``1e17``, nanoseconds above.
- Rows must be strictly increasing in time. A file that is strictly *decreasing* (newest first,
  as CryptoDataDownload publishes) is reversed; any other order is rejected.
- Prices are finite and positive, ``high >= low``, volumes finite and non-negative, the median
  bar spacing equals ``data.timeframe`` and every bar lies a whole number of bars after the
  file's first bar. Files of another bar size in the folder are skipped with a warning.
- A gap inside an asset's history longer than ``data.max_gap_days`` (a relisting, a reused
  ticker) is refused unless ``data.join_gaps`` is true.
- Missing bars and bars before a listing stay NaN; nothing is ever back-filled. With
  ``data.ffill_limit = k > 0`` the first ``k`` bars of each gap *inside* an asset's history are
  forward-filled (``close`` carried, ``open = high = low = close``, ``volume = 0``) and counted
  in ``panel.meta["filled_bars"]``.
- ``quote_volume`` comes from a quote-volume column when the file has one (``quote_volume``,
  ``quote_asset_volume``, or CryptoDataDownload's ``Volume <QUOTE>``); otherwise it is
  ``volume * close``, an approximation that prices the whole bar's volume at its close.

Row numbers in messages count data rows from 1 in file order (header and URL line excluded).
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError
from ._discover import PRICES, discover_files, parse_timeframe
from ._funding import _attach_funding
from ._panel import Panel
from ._read import _Bars, _read_bars
from ._resample import resample_panel
from ._validate import _ts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ..config import DataConfig

__all__ = ["load_panel"]

_log = logging.getLogger("revertible.data")


def _select(
    found: list[tuple[str, Path]], wanted: Iterable[str] | None, folder: Path
) -> list[tuple[str, Path]]:
    """Keep the discovered files of ``data.assets``, in that order (all files if None)."""
    if wanted is None:
        return found
    by_name = dict(found)
    wanted = list(dict.fromkeys(wanted))
    unknown = [a for a in wanted if a not in by_name]
    if unknown:
        hints = [h for a in unknown for h in difflib.get_close_matches(a, by_name, n=1)]
        extra = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise DataError(
            f"data.assets: {', '.join(unknown)} not found in {folder} ({len(found)} assets "
            f"available{extra}); fix data.assets or add the files"
        )
    return [(a, by_name[a]) for a in wanted]


def load_panel(cfg: DataConfig, *, progress: Callable[[int, int], None] | None = None) -> Panel:
    """Load, validate and align a folder of per-asset price files (and optional funding).

    Parameters
    ----------
    cfg : DataConfig
        ``path``, ``format``, ``timeframe``, ``assets``, ``funding_path``, ``ffill_limit`` and
        ``min_rows`` are used.
    progress : callable, optional
        Called as ``progress(done, total)`` after each price file is read.

    Returns
    -------
    Panel
        Grid from the earliest first bar to the latest last bar at ``cfg.timeframe``; NaN
        before an asset's first bar, after its last and in its gaps (unless forward-filled).
        ``meta`` holds per-asset ``missing_bars`` (gaps between first and last bar, before any
        fill), ``filled_bars``, ``files`` and ``funding_files`` (asset -> path), and
        ``timeframe``. With ``cfg.resample``, the panel of coarser bars built from them
        (:func:`~revertible.data.resample_panel`). ``funding`` is ``None`` unless
        ``cfg.funding_path`` is set; see :func:`_attach_funding` for the timing rule.

    Raises
    ------
    DataError
        A missing folder, no matching files, unknown ``cfg.assets``, any invalid file, or a
        panel of fewer than 2 bars.

    Notes
    -----
    Timing: row ``t`` of the panel holds the bar that *opens* at ``times[t]``; nothing from a
    later bar is ever copied into it (forward-fill only, never back-fill).

    """
    step = parse_timeframe(cfg.timeframe)
    folder = Path(cfg.path)
    files = _select(discover_files(folder, cfg.format, cfg.timeframe), cfg.assets, folder)
    bars: list[_Bars] = []
    for i, (asset, path) in enumerate(files):
        bars.append(_read_bars(path, asset, step, cfg.min_rows))
        if progress is not None:
            progress(i + 1, len(files))

    step_ns = step.value
    start = min(int(b.time[0]) for b in bars)
    end = max(int(b.time[-1]) for b in bars)
    n_bars = (end - start) // step_ns + 1
    if n_bars < 2:
        raise DataError(
            f"data folder {folder}: the panel has {n_bars} bar; need at least 2 {cfg.timeframe} "
            "bars across the files"
        )
    shape = (n_bars, len(files))
    arrays = {f: np.full(shape, np.nan, order="F") for f in (*PRICES, "volume", "quote_volume")}
    missing: dict[str, int] = {}
    filled: dict[str, int] = {}
    for j, ((asset, path), b) in enumerate(zip(files, bars, strict=True)):
        if (b.time[0] - start) % step_ns:
            raise DataError(
                f"data file {path.name}: first bar {_ts(b.time[0])} is not on the "
                f"{cfg.timeframe} grid starting {_ts(start)}; align all files to the same bar "
                "boundaries"
            )
        pos = (b.time - start) // step_ns
        for f in arrays:
            arrays[f][pos, j] = getattr(b, f)
        gaps = np.diff(pos) - 1
        _check_gaps(path, b.time, gaps, step, cfg)
        missing[asset] = int(gaps.sum())
        filled[asset] = _ffill(arrays, j, pos, gaps, cfg.ffill_limit)

    times = pd.date_range(
        pd.Timestamp(start, unit="ns", tz="UTC"), periods=n_bars, freq=step, unit="ns"
    )
    assets = tuple(a for a, _ in files)
    funding = None
    meta: dict = {
        "timeframe": cfg.timeframe,
        "missing_bars": missing,
        "filled_bars": filled,
        "files": {a: str(p) for a, p in files},
        "funding_files": {},
    }
    if cfg.funding_path is not None:
        funding, meta["funding_files"] = _attach_funding(Path(cfg.funding_path), times, assets)
    panel = Panel(
        times=times,
        assets=assets,
        funding=funding,
        source=Panel.source_name(folder),
        meta=meta,
        **arrays,
    )
    return panel if cfg.resample is None else resample_panel(panel, cfg.resample)


def _check_gaps(path: Path, t: np.ndarray, gaps: np.ndarray, step: pd.Timedelta,
                cfg: DataConfig) -> None:
    """Refuse (or, with ``data.join_gaps``, report) gaps longer than ``data.max_gap_days``.

    A long hole inside one asset's history is most often a delisting and a relisting, or a
    ticker reused by another coin: returns, correlations and hedge ratios across it are
    meaningless, so the default is to refuse the file.
    """
    limit = pd.Timedelta(days=cfg.max_gap_days)
    long = np.flatnonzero((gaps + 1) * step > limit)
    if not long.size:
        return
    j = int(long[np.argmax(gaps[long])])
    span = pd.Timedelta(int(gaps[j] + 1) * step)
    what = (f"data file {path.name}: {long.size} gap(s) longer than data.max_gap_days="
            f"{cfg.max_gap_days:g}, the longest {span.days} days from {_ts(t[j])} to "
            f"{_ts(t[j + 1])} (a relisting or a reused ticker?)")
    if cfg.join_gaps:
        _log.warning(f"{what}; joined across it because data.join_gaps is true")
        return
    raise DataError(f"{what}; keep only one side of the gap in the file, raise "
                    "data.max_gap_days, or set data.join_gaps: true to join across it")


def _ffill(
    arrays: dict[str, np.ndarray], j: int, pos: np.ndarray, gaps: np.ndarray, limit: int
) -> int:
    """Forward-fill the first ``limit`` bars of each gap of column ``j``; return the count."""
    idx = np.flatnonzero(gaps > 0)
    if limit <= 0 or idx.size == 0:
        return 0
    k = np.minimum(gaps[idx], limit)
    src = np.repeat(pos[idx], k)
    dst = src + np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
    carried = arrays["close"][src, j]
    for f in PRICES:
        arrays[f][dst, j] = carried
    arrays["volume"][dst, j] = 0.0
    arrays["quote_volume"][dst, j] = 0.0
    return int(k.sum())

