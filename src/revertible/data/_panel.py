"""The point-in-time panel: every asset aligned on one regular UTC bar grid.

Arrays are ``(T, N)`` float64 in Fortran (column-major) order so one asset's history is contiguous
for the per-pair kernels. Missing bars are NaN; nothing is back-filled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import duration

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Panel"]

_FIELDS = ("open", "high", "low", "close", "volume", "quote_volume")


@dataclass(frozen=True, eq=False)
class Panel:
    """Aligned market data.

    Attributes
    ----------
    times : pandas.DatetimeIndex
        Bar open times, UTC, strictly increasing and regularly spaced (``freq``).
    assets : tuple of str
        Asset names (``BTC/USDT``), column order of every array.
    open, high, low, close, volume, quote_volume : numpy.ndarray
        ``(T, N)`` float64, NaN where an asset has no bar (not listed yet, gap, delisted).
    funding : numpy.ndarray or None
        ``(T, N)`` funding rate paid at that bar (perpetuals, 8-hourly); NaN where no
        funding event or no funding data. ``None`` when no funding folder was given.
    source : str
        Where the data came from (folder or ``"synthetic"``).
    """

    times: pd.DatetimeIndex
    assets: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    funding: np.ndarray | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_bars(self) -> int:
        """Number of bars T."""
        return len(self.times)

    @property
    def n_assets(self) -> int:
        """Number of assets N."""
        return len(self.assets)

    @property
    def freq(self) -> pd.Timedelta:
        """Bar spacing."""
        if len(self.times) < 2:
            tf = self.meta.get("timeframe") if self.meta else None
            return (duration(tf) if tf else None) or pd.Timedelta(hours=1)
        return self.times[1] - self.times[0]

    @property
    def bars_per_day(self) -> float:
        """Bars in one day at this panel's bar size (24 hourly, 6 at 4h, 96 at 15m)."""
        return float(pd.Timedelta(days=1) / self.freq)

    @property
    def bars_per_year(self) -> float:
        """Bars in 365 days (the annualisation factor of per-bar returns)."""
        return 365.0 * self.bars_per_day

    @property
    def day_bars(self) -> int:
        """Whole bars in one day (at least 1): the step of daily sampling and day blocks."""
        return max(1, int(round(self.bars_per_day)))

    def days_to_bars(self, days: float) -> int:
        """The number of bars (at least 1) spanning ``days`` days at this bar size."""
        return max(1, int(round(days * self.bars_per_day)))

    def log_close(self) -> np.ndarray:
        """Log close prices, ``(T, N)`` Fortran-ordered."""
        return np.asfortranarray(np.log(self.close))

    def asset_index(self, name: str) -> int:
        """Column of asset ``name``; KeyError naming the known assets otherwise."""
        try:
            return self.assets.index(name)
        except ValueError:
            raise KeyError(f"asset {name!r} not in panel ({len(self.assets)} assets)") from None

    def cut(self, until: pd.Timestamp | str) -> Panel:
        """The panel as it was known at ``until``: every bar with time ``<= until``."""
        until = pd.Timestamp(until)
        if until.tzinfo is None:
            until = until.tz_localize("UTC")
        n = int(self.times.searchsorted(until, side="right"))
        return self.slice_bars(0, n)

    def slice_bars(self, start: int, stop: int) -> Panel:
        """Bars ``start:stop`` (positional)."""
        sl = slice(start, stop)
        arrays = {f: np.asfortranarray(getattr(self, f)[sl]) for f in _FIELDS}
        funding = None if self.funding is None else np.asfortranarray(self.funding[sl])
        return replace(self, times=self.times[sl], funding=funding, **arrays)

    def select(self, assets: list[str] | tuple[str, ...]) -> Panel:
        """Only these assets, in this order."""
        idx = [self.asset_index(a) for a in assets]
        arrays = {f: np.asfortranarray(getattr(self, f)[:, idx]) for f in _FIELDS}
        funding = None if self.funding is None else np.asfortranarray(self.funding[:, idx])
        return replace(self, assets=tuple(assets), funding=funding, **arrays)

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of times, assets, prices, volumes and funding."""
        h = hashlib.sha256()
        h.update(np.asarray(self.times.asi8).tobytes())
        h.update("\x1f".join(self.assets).encode())
        for f in _FIELDS:
            h.update(np.ascontiguousarray(getattr(self, f)).tobytes())
        if self.funding is not None:
            h.update(np.ascontiguousarray(self.funding).tobytes())
        return h.hexdigest()[:16]

    def frame(self, name: str = "close") -> pd.DataFrame:
        """One field as a DataFrame indexed by time with one column per asset."""
        return pd.DataFrame(getattr(self, name), index=self.times, columns=list(self.assets))

    @staticmethod
    def source_name(path: str | Path) -> str:
        """Printable data source."""
        return str(path)
