"""Row-level rules of one price file (order, values, spacing) and the panel summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError
from ._discover import _tf_text

if TYPE_CHECKING:
    from pathlib import Path

    from ._panel import Panel

__all__ = ["summarize", "stale_assets"]


@dataclass(frozen=True)
class _UtcNs:
    """A timezone-aware arrow timestamp column already converted to UTC epoch nanoseconds."""

    ns: np.ndarray

    def __len__(self) -> int:
        return len(self.ns)


_Column = pd.Series | np.ndarray | _UtcNs
_ARROW_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _ts(ns: int) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat()



def _ordered(path: Path, t: np.ndarray) -> np.ndarray:
    """Row order making ``t`` strictly increasing (reverses a strictly decreasing file)."""
    d = np.diff(t)
    if (d > 0).all():
        return np.arange(t.size)
    if (d < 0).all():
        return np.arange(t.size)[::-1]
    dup = pd.Index(t).duplicated()
    if dup.any():
        j = int(np.argmax(dup))
        first = int(np.flatnonzero(t == t[j])[0])
        raise DataError(
            f"data file {path.name}: duplicate timestamp {_ts(t[j])} at row {j + 1} (first at "
            f"row {first + 1}); keep one bar per timestamp"
        )
    back = np.flatnonzero(d < 0)
    if back.size:
        j = int(back[0]) + 1
        raise DataError(
            f"data file {path.name}: timestamps not sorted: row {j + 1} ({_ts(t[j])}) comes after "
            f"row {j} ({_ts(t[j - 1])}); sort the file by time (oldest first)"
        )
    return np.arange(t.size)



def _floats(s: _Column) -> np.ndarray:
    """Float64 view of a column; text that is not a number becomes NaN."""
    if isinstance(s, np.ndarray) and s.dtype.kind in "fiu":
        return s.astype(np.float64, copy=False)
    s = pd.Series(s.ns if isinstance(s, _UtcNs) else s)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _checked(path: Path, name: str, s: _Column, t: np.ndarray, is_volume: bool) -> np.ndarray:
    """Float64 values of a price (finite, > 0) or volume (finite, >= 0) column."""
    v = _floats(s)
    bad = ~np.isfinite(v) | ((v < 0) if is_volume else (v <= 0))
    if bad.any():
        j = int(np.argmax(bad))
        raw = s.iloc[j] if isinstance(s, pd.Series) else v[j]
        shown = repr(raw) if isinstance(raw, str) else repr(float(v[j]))
        rule = "finite and >= 0" if is_volume else "finite and > 0"
        raise DataError(
            f"data file {path.name}: column '{name}' row {j + 1} ({_ts(t[j])}) value {shown} "
            f"must be {rule}; fix or drop the row"
        )
    return v


def _check_high_low(path: Path, t: np.ndarray, high: np.ndarray, low: np.ndarray,
                    order: np.ndarray) -> None:
    """A bar's high must not be below its low (swapped columns or a corrupt row)."""
    bad = np.flatnonzero(high < low)
    if bad.size:
        j = int(bad[0])
        raise DataError(
            f"data file {path.name}: row {int(order[j]) + 1} ({_ts(t[j])}) has high "
            f"{float(high[j])!r} below low {float(low[j])!r} ({bad.size} such rows); high >= low "
            "must hold: "
            "fix the columns or drop the rows"
        )


def _check_spacing(path: Path, t: np.ndarray, step: pd.Timedelta, order: np.ndarray) -> None:
    step_ns = step.value
    if t.size < 2:
        return
    med = int(np.median(np.diff(t)))
    if med != step_ns:
        raise DataError(
            f"data file {path.name}: bar size {_tf_text(pd.Timedelta(med))} detected (median "
            f"spacing), expected {_tf_text(step)}; set data.timeframe: "
            f"{_tf_text(pd.Timedelta(med))} or use {_tf_text(step)} files"
        )
    off = np.flatnonzero((t - t[0]) % step_ns)
    if off.size:
        j = int(off[0])
        raise DataError(
            f"data file {path.name}: row {int(order[j]) + 1} timestamp {_ts(t[j])} is not a "
            f"whole number of {_tf_text(step)} bars after the first bar {_ts(t[0])}; resample "
            f"the file to {_tf_text(step)} bars"
        )



def summarize(panel: Panel) -> pd.DataFrame:
    """Per-asset summary of a loaded panel (what ``revertible validate`` prints).

    Parameters
    ----------
    panel : Panel
        A panel from :func:`load_panel` (``meta`` counts are used when present).

    Returns
    -------
    pandas.DataFrame
        One row per asset: ``asset``, ``first_bar``, ``last_bar`` (UTC), ``bars`` (bars present
        in the file, fills excluded), ``missing_bars``, ``filled_bars``,
        ``median_daily_quote_volume`` (median over complete UTC days, i.e. days where the grid
        and the asset have every bar, of the day's summed quote volume; NaN if there is no such
        day) and ``has_funding``.

    """
    close = panel.close
    present = np.isfinite(close)
    any_bar = present.any(axis=0)
    first = np.where(any_bar, present.argmax(axis=0), 0)
    last = np.where(any_bar, len(panel.times) - 1 - present[::-1].argmax(axis=0), 0)
    filled = panel.meta.get("filled_bars", {})
    missing = panel.meta.get("missing_bars", {})
    n_filled = np.array([filled.get(a, 0) for a in panel.assets], dtype=np.int64)
    n_present = present.sum(axis=0)
    gaps = np.where(any_bar, last - first + 1, 0) - n_present  # used if meta has no counts

    day = panel.times.floor("D")
    qv = pd.DataFrame(panel.quote_volume, index=day)
    grouped = qv.groupby(level=0)
    per_day = max(1, int(pd.Timedelta(days=1) / panel.freq))
    complete = grouped.count() == per_day
    daily = grouped.sum(min_count=1).where(complete)
    has_funding = (
        np.zeros(panel.n_assets, dtype=bool)
        if panel.funding is None
        else np.isfinite(panel.funding).any(axis=0)
    )
    times = panel.times
    return pd.DataFrame(
        {
            "asset": list(panel.assets),
            "first_bar": times[first].where(any_bar),
            "last_bar": times[last].where(any_bar),
            "bars": n_present - n_filled,
            "missing_bars": [missing.get(a, int(gaps[j])) for j, a in enumerate(panel.assets)],
            "filled_bars": n_filled,
            "median_daily_quote_volume": daily.median().to_numpy(),
            "has_funding": has_funding,
        }
    )



def stale_assets(summary: pd.DataFrame, last: pd.Timestamp) -> pd.DataFrame:
    """Assets whose last bar is before the panel's last bar: stale at the live bar.

    Returns ``asset``, ``last_bar`` and ``hours_behind`` (sorted, most behind first).
    """
    behind = (last - summary["last_bar"]) / pd.Timedelta(hours=1)
    out = summary.loc[behind > 0, ["asset", "last_bar"]].assign(hours_behind=behind[behind > 0])
    out = out.sort_values(["hours_behind", "asset"], ascending=[False, True])
    return out.reset_index(drop=True)
