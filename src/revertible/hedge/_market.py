"""Load what a hedge needs: spot of the held asset, the hedge perpetual's klines and its funding.

Spot comes from ``data.path``; the perpetual (``<BASE>_<QUOTE>_<QUOTE>-<tf>-futures.feather``) and
its funding (``-8h-funding_rate.feather``) from ``data.funding_path``, both through
:func:`revertible.data.load_panel`, aligned on the spot grid. Inside the overlap of the series a
missing bar carries the previous close forward (counted in ``filled_bars``), never backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["HedgeMarket", "spot_name", "load_hedge_market"]


def spot_name(asset: str, quote: str = "USDT") -> str:
    """``BTC`` / ``btc/usdt`` / ``BTC/USDT:USDT`` -> ``BTC/USDT``."""
    name = asset.strip().upper().split(":")[0]
    if not name:
        raise ConfigError("--asset is empty; pass an asset such as BTC or BTC/USDT")
    return name if "/" in name else f"{name}/{quote}"


@dataclass(frozen=True)
class HedgeMarket:
    """Aligned bars of the held asset, the hedge asset's spot and the hedge perpetual.

    Arrays cover the whole overlap of the three series (history before ``since`` is kept for the
    trailing beta and volatility); ``start``/``stop`` index the requested replay range.
    """

    asset: str
    hedge_asset: str
    perp: str
    times: pd.DatetimeIndex
    spot_close: np.ndarray
    hedge_open: np.ndarray
    hedge_close: np.ndarray
    perp_open: np.ndarray
    perp_high: np.ndarray
    perp_close: np.ndarray
    funding: np.ndarray
    start: int
    stop: int
    filled_bars: int
    funding_file: str

    @property
    def basis_open(self) -> np.ndarray:
        """Perp open minus the hedge asset's spot open."""
        return self.perp_open - self.hedge_open

    @property
    def basis_close(self) -> np.ndarray:
        """Perp close minus the hedge asset's spot close."""
        return self.perp_close - self.hedge_close


def _ts(value: str | None, flag: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"{flag} {value!r} is not a date/time; use e.g. 2024-03-01") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _ffill(x: np.ndarray) -> tuple[np.ndarray, int]:
    bad = ~np.isfinite(x)
    if not bad.any():
        return x, 0
    idx = np.where(bad, 0, np.arange(x.size))
    np.maximum.accumulate(idx, out=idx)
    return x[idx], int(bad.sum())


def load_hedge_market(
    cfg: Config, asset: str, hedge_with: str | None = None, since: str | None = None,
    until: str | None = None,
) -> HedgeMarket:
    """Load and align the spot, perpetual and funding series of one hedge.

    Raises
    ------
    ConfigError
        ``data.funding_path`` is not set, or a bad ``--since``/``--until``.
    DataError
        No spot file, no perpetual or no funding file for the hedge asset, or no bar where spot
        and perpetual both exist inside the requested range.
    """
    from ..data import discover_files, load_panel

    held = spot_name(asset)
    hedge_asset = spot_name(hedge_with) if hedge_with else held
    base, _, quote = hedge_asset.partition("/")
    perp = f"{hedge_asset}:{quote}"
    if cfg.data.funding_path is None:
        raise ConfigError(
            "data.funding_path is null: hedge needs the perpetual klines and funding; set it to "
            "a folder of <BASE>_<QUOTE>_<QUOTE>-1h-futures.feather and -8h-funding_rate.feather"
        )
    folder = cfg.data.funding_path
    perps = dict(discover_files(folder, cfg.data.format, cfg.data.timeframe))
    if perp not in perps:
        have = ", ".join(sorted(a.split("/")[0] for a in perps if ":" in a)) or "none"
        raise DataError(
            f"data.funding_path {folder}: no perpetual for {hedge_asset} (expected "
            f"{base}_{quote}_{quote}-{cfg.data.timeframe}-futures.feather; perpetuals there: "
            f"{have}); pick one of them with --asset or --hedge-with"
        )
    spots = tuple(dict.fromkeys((held, hedge_asset)))
    have_spot = dict(discover_files(cfg.data.path, cfg.data.format, cfg.data.timeframe))
    for name in spots:
        if name not in have_spot:
            raise DataError(
                f"data.path {cfg.data.path}: no spot prices for {name} (expected "
                f"{name.replace('/', '_')}-{cfg.data.timeframe}.feather); the hedge replays a spot "
                "holding, so add its spot file or pick an asset that has one"
            )
    spot = load_panel(cfg.data.model_copy(update={"assets": spots, "funding_path": None}))
    fut = load_panel(cfg.data.model_copy(update={"path": folder, "assets": (perp,),
                                                 "funding_path": folder}))
    funding_file = fut.meta["funding_files"].get(perp)
    if funding_file is None:
        raise DataError(
            f"data.funding_path {folder}: no funding file for {perp} (expected "
            f"{base}_{quote}_{quote}-8h-funding_rate.feather); add it or hedge with another asset"
        )
    times = spot.times
    pf = fut.frame("close").reindex(times)[perp].to_numpy()
    po = fut.frame("open").reindex(times)[perp].to_numpy()
    ph = fut.frame("high").reindex(times)[perp].to_numpy()
    assert fut.funding is not None
    fr = pd.Series(fut.funding[:, 0], index=fut.times).reindex(times).to_numpy()
    sc = spot.close[:, spot.asset_index(held)]
    hc = spot.close[:, spot.asset_index(hedge_asset)]
    ho = spot.open[:, spot.asset_index(hedge_asset)]
    ok = np.isfinite(sc) & np.isfinite(hc) & np.isfinite(pf)
    lo_ts, hi_ts = _ts(since, "--since"), _ts(until, "--until")
    if lo_ts is not None and hi_ts is not None and hi_ts <= lo_ts:
        raise ConfigError(f"--until {until} must be after --since {since}")
    both = np.flatnonzero(ok)
    if both.size < 2:
        raise DataError(
            f"spot {held} ({_span(spot.times, sc)}) and perpetual {perp} "
            f"({_span(fut.times, fut.close[:, 0])}) share fewer than 2 bars; no hedge to replay"
        )
    first, last = both[0], both[-1] + 1
    in_range = np.zeros(times.size, dtype=bool)
    in_range[first:last] = True
    if lo_ts is not None:
        in_range &= times >= lo_ts
    if hi_ts is not None:
        in_range &= times <= hi_ts
    sel = np.flatnonzero(in_range & ok)
    if sel.size < 2:
        asked = " ".join(f"{flag} {v}" for flag, v in (("--since", since), ("--until", until))
                         if v is not None)
        raise DataError(
            f"range {asked}: fewer than 2 bars where spot {held} and "
            f"perpetual {perp} overlap (overlap {_ts_text(times[first])} to "
            f"{_ts_text(times[last - 1])}); choose a range inside it"
        )
    span = slice(first, last)
    filled = 0
    arrays = []
    for x in (sc, hc, pf):
        y, k = _ffill(x[span])
        arrays.append(y)
        filled = max(filled, k)
    sc_f, hc_f, pf_f = arrays

    def _or(x: np.ndarray, fill: np.ndarray) -> np.ndarray:  # a filled bar: open=high=close
        return np.where(np.isfinite(x[span]), x[span], fill)

    fund = fr[span]
    return HedgeMarket(
        asset=held, hedge_asset=hedge_asset, perp=perp, times=times[span],
        spot_close=sc_f, hedge_open=_or(ho, hc_f), hedge_close=hc_f,
        perp_open=_or(po, pf_f), perp_high=_or(ph, pf_f), perp_close=pf_f,
        funding=fund, start=int(sel[0] - first), stop=int(sel[-1] - first + 1),
        filled_bars=filled, funding_file=str(funding_file),
    )


def _ts_text(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M")


def _span(times: pd.DatetimeIndex, x: np.ndarray) -> str:
    idx = np.flatnonzero(np.isfinite(x))
    if idx.size == 0:
        return "no bars"
    return f"{_ts_text(times[idx[0]])} to {_ts_text(times[idx[-1]])}"
