"""``revertible download``: fill or extend freqtrade-layout files up to the last closed bar.

For each asset and market the files already on disk are read; only the bars missing before their
first bar (an earlier ``--since``) and after their last one are fetched, so a download in one go
and a download followed by updates give identical files. On Binance, whole months come from the
public archive's monthly zips (a month not yet published: its daily zips), checksum verified; the
tail after the archive, and every other venue's whole history, comes from the REST API through
ccxt. Each file is written atomically after its archive part and again after its REST part, so
a killed run keeps what it finished and the next run goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ._archive import (
    ARCHIVE_URL,
    LISTING_URL,
    days_of,
    fetch_csv,
    has_symbol,
    list_symbols,
    parse_funding,
    parse_klines,
    periods,
    zip_url,
)
from ._files import STANDARD, clean_parts, file_name, merge, read_existing, write_atomic
from ._http import DownloadError, RateLimiter, Retry
from ._rest import Venue

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["DownloadRequest", "Added", "download", "parse_asset"]

_FUNDING_STEP = pd.Timedelta(minutes=1)


@dataclass(frozen=True)
class DownloadRequest:
    """What to download and where (see :func:`download`)."""

    dirs: dict[str, Path]
    exchange: str = "binance"
    markets: tuple[str, ...] = ("spot",)
    assets: tuple[str, ...] | None = None
    top_volume: int | None = None
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    funding: bool = False
    timeframe: str = "1h"
    archive_url: str | None = None
    api_url: str | None = None
    rate: float = 5.0
    retries: int = 4
    backoff: float = 1.0
    now: pd.Timestamp | None = None


@dataclass
class Added:
    """What one run added to one file."""

    asset: str
    market: str
    kind: str
    file: str
    rows_before: int = 0
    rows_added: int = 0
    first_new: pd.Timestamp | None = None
    last_new: pd.Timestamp | None = None
    archive_rows: int = 0
    rest_rows: int = 0
    last_bar: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One summary line."""
        what = f"{self.asset} {self.market}{'' if self.kind == 'klines' else ' ' + self.kind}"
        if not self.rows_added:
            return f"{what}: up to date ({self.rows_before} rows) {self.file}" + \
                "".join(f"; {n}" for n in self.notes)
        return (f"{what}: +{self.rows_added} rows {self.first_new:%Y-%m-%d %H:%M} to "
                f"{self.last_new:%Y-%m-%d %H:%M} UTC (archive {self.archive_rows}, REST "
                f"{self.rest_rows}; {self.rows_before} before) -> {self.file}"
                + "".join(f"; {n}" for n in self.notes))


def parse_asset(text: str, quote: str = "USDT") -> tuple[str, str]:
    """``BTC``, ``BTC/USDT``, ``BTC_USDT`` or ``BTC/USDT:USDT`` -> ``("BTC", "USDT")``."""
    t = text.strip().upper().split(":")[0].replace("_", "/")
    base, _, q = t.partition("/")
    if not base or not base.replace("1000", "").isalnum():
        raise DownloadError(f"--assets {text!r}: not an asset name; use e.g. BTC,ETH or BTC/USDT")
    return base, q or quote


def _existing_assets(req: DownloadRequest) -> list[str]:
    found: set[str] = set()
    for market in req.markets:
        folder = req.dirs[market]
        suffix = (f"-{req.timeframe}.feather" if market == "spot"
                  else f"-{req.timeframe}-futures.feather")
        for p in folder.glob(f"*{suffix}") if folder.is_dir() else []:
            parts = p.name[: -len(suffix)].split("_")
            if (market == "spot" and len(parts) == 2) or (market == "perp" and len(parts) == 3):
                found.add(f"{parts[0]}/{parts[1]}")
    return sorted(found)


def _top_volume(req: DownloadRequest, retry: Retry, listing: str, archive: str,
                log: Callable[[str], None]) -> list[str]:
    """The ``top_volume`` symbols by quote volume over the last whole month before ``since``."""
    if req.exchange != "binance":
        raise DownloadError(f"--top-volume ranks from the Binance archive (delisted symbols "
                            f"included); with --exchange {req.exchange} name --assets instead")
    if req.since is None:
        raise DownloadError("--top-volume needs --since (the ranking date)")
    market = req.markets[0]
    month = str(req.since.tz_convert(None).to_period("M") - 1)
    symbols = [s for s in list_symbols(listing, market, retry) if s.endswith("USDT")
               and len(s) > 4]
    log(f"ranking {len(symbols)} {market} USDT symbols of the archive by {month} quote volume")
    volume: dict[str, float] = {}
    for sym in symbols:
        csv = fetch_csv(zip_url(archive, market, "klines", sym, "1h", month), retry)
        if csv is not None:
            volume[sym] = float(parse_klines(csv)["quote_volume"].sum())
    ranked = sorted(volume, key=lambda s: (-volume[s], s))[: req.top_volume]
    if not ranked:
        raise DownloadError(f"--top-volume: the archive has no {market} USDT klines for {month}; "
                            "pick a later --since")
    return [f"{s[:-4]}/USDT" for s in ranked]


class _Run:
    def __init__(self, req: DownloadRequest, log: Callable[[str], None]) -> None:
        self.req, self.log = req, log
        self.retry = Retry(RateLimiter(req.rate), req.retries, req.backoff)
        self.archive = (req.archive_url or ARCHIVE_URL).rstrip("/")
        self.listing = (req.archive_url or LISTING_URL).rstrip("/")
        self.step = pd.Timedelta(req.timeframe)
        now = req.now if req.now is not None else pd.Timestamp.now(tz="UTC")
        self.now = now
        self.end = now.floor(self.step)  # bars opening before this are closed
        if req.until is not None:
            self.end = min(self.end, req.until.ceil(self.step))
        self.venue: Venue | None = None

    def _archived(self, market: str, kind: str, symbol: str, interval: str,
                  lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        parse = parse_funding if kind == "fundingRate" else parse_klines
        frames = []
        today = self.now.floor("D")
        for month in periods(lo, hi):
            # a month's zip is published after the month ends: this month's days come daily
            ended = pd.Timestamp(month + "-01", tz="UTC") + pd.offsets.MonthBegin(1) <= today
            csv = fetch_csv(zip_url(self.archive, market, kind, symbol, interval, month),
                            self.retry) if ended else None
            if csv is not None:
                frames.append(parse(csv))
                continue
            days = days_of(month, lo, hi) if kind != "fundingRate" else []
            if not days:
                continue
            last = fetch_csv(zip_url(self.archive, market, kind, symbol, interval, days[-1]),
                             self.retry)
            if last is None and len(days) == 1:  # (it was asked for a second time below)
                continue
            if last is None:  # the archive may end before the month does
                last = fetch_csv(zip_url(self.archive, market, kind, symbol, interval, days[0]),
                                 self.retry)
                if last is None:
                    continue
                frames.append(parse(last))
                days = days[1:-1]
            elif last is not None:
                frames.append(parse(last))
                days = days[:-1]
            for day in days:
                csv = fetch_csv(zip_url(self.archive, market, kind, symbol, interval, day),
                                self.retry)
                if csv is None:
                    break
                frames.append(parse(csv))
        if not frames:
            return parse(b"")
        out = pd.concat(frames, ignore_index=True)
        out = out[(out["date"] >= lo) & (out["date"] < hi)]
        return out.drop_duplicates("date").sort_values("date", ignore_index=True)

    def _series(self, base: str, quote: str, market: str, kind: str) -> Added:
        req = self.req
        name = file_name(base, quote, market, req.timeframe, kind)
        path = req.dirs[market] / name
        symbol = f"{base}/{quote}" if market == "spot" else f"{base}/{quote}:{quote}"
        rec = Added(f"{base}/{quote}", market, kind, name)
        old = read_existing(path)
        step = _FUNDING_STEP if kind == "funding" else pd.Timedelta("8h") if kind == "mark" \
            else self.step
        rec.rows_before = 0 if old is None else len(old)
        before = pd.DatetimeIndex([] if old is None else old["date"])
        # an 8h mark bar is closed 8 hours after it opens: one still forming (an hourly run at
        # 17:07 sees the 16:00 bar) is left for a later run, never stored with partial values
        end = min(self.end, self.now.floor(step)) if kind == "mark" else self.end
        ranges = []
        if old is None:
            ranges.append((req.since, end))
        else:
            first, last = old["date"].iloc[0], old["date"].iloc[-1]
            if req.since is not None and req.since < first:
                ranges.append((req.since, first))
            ranges.append((last + step, end))
        assert self.venue is not None
        listed = self.venue.lists(symbol)
        interval = "8h" if kind == "mark" else req.timeframe
        archive_kind = {"klines": "klines", "mark": "markPriceKlines", "funding": "fundingRate"}
        for lo, hi in ranges:
            if lo >= hi:
                continue
            tail = lo
            # the archive a quarter at a time, written after each: a killed run keeps them
            cuts = [lo, *pd.date_range(lo.floor("D"), hi, freq="QS", inclusive="neither"), hi]
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                # a day's zip is published after the day ends: today's bars (an hourly cron
                # run's) are on REST only, so the archive is not asked for them, also where
                # the missing range runs over midnight
                b = min(b, self.now.floor("D"))
                if req.exchange != "binance" or a >= b:
                    continue
                got = self._archived(market, archive_kind[kind], base + quote, interval, a, b)
                got = got[list(STANDARD)] if kind == "mark" else got
                rec.archive_rows += len(got)
                if len(got):
                    old = merge(old, got)
                    write_atomic(old, path)
                    tail = got["date"].iloc[-1] + step
            if tail < hi and listed:
                if kind == "funding":
                    more = self.venue.funding(symbol, tail, hi)
                else:
                    more = self.venue.klines(symbol, interval, tail, hi, mark=kind == "mark")
                    more = more[list(STANDARD)] if kind == "mark" else more
                rec.rest_rows += len(more)
                if len(more):
                    old = merge(old, more)
                    write_atomic(old, path)
            elif tail < hi:
                rec.notes.append(f"not listed on {req.exchange} now (delisted?): archive only")
        if old is None and req.since is not None and kind == "klines":
            raise DownloadError(
                f"{rec.asset} {market}{'' if kind == 'klines' else ' ' + kind}: {req.exchange} "
                f"has no bars from --since {req.since:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
                " UTC (after its last bar, or before its listing?); pick another --since")
        if old is None and kind != "klines":
            rec.notes.append("none in the range (funding history starts later?)")
        rec.rows_added = (0 if old is None else len(old)) - rec.rows_before
        rec.last_bar = None if old is None else old["date"].iloc[-1]
        if rec.rows_added and old is not None:
            new = pd.DatetimeIndex(old["date"]).difference(before)
            rec.first_new, rec.last_new = new.min(), new.max()
        return rec

    def run(self) -> list[Added]:
        req = self.req
        # what needs no network is checked first: offline, a typo is named, not the network
        if req.since is not None and req.since >= self.end:
            raise DownloadError(
                f"--since {req.since:%Y-%m-%d %H:%M} is at or after the last closed bar "
                f"({self.end - self.step:%Y-%m-%d %H:%M} UTC); pick an earlier --since")
        names = None if req.top_volume else list(req.assets or _existing_assets(req))
        if names == []:
            raise DownloadError(
                "no asset to download: the folder(s) "
                f"{', '.join(str(req.dirs[m]) for m in req.markets)} hold no "
                "files yet; name them with --assets BTC,ETH or --top-volume N")
        for name in names if req.since is None and names else ():
            base, quote = parse_asset(name)
            for market in req.markets:
                path = req.dirs[market] / file_name(base, quote, market, req.timeframe)
                if not path.exists():
                    raise DownloadError(
                        f"{path.name}: no file yet and no --since; pass --since DATE for the "
                        "first download")
        for folder in {req.dirs[m] for m in req.markets}:
            folder.mkdir(parents=True, exist_ok=True)
            if clean_parts(folder):
                self.log(f"removed partial files a killed run left in {folder}")
        self.venue = Venue(req.exchange, set(req.markets), self.retry, req.api_url)
        if names is None:
            names = _top_volume(req, self.retry, self.listing, self.archive, self.log)
        pairs = [parse_asset(n) for n in dict.fromkeys(names)]
        for base, quote in pairs:  # every name is checked before anything is written
            for market in req.markets:
                symbol = self.venue.symbol(base, quote, market)
                if self.venue.lists(symbol):
                    continue
                if req.exchange == "binance" and has_symbol(self.listing, market, base + quote,
                                                            self.retry):
                    continue
                raise DownloadError(
                    f"asset {base}/{quote}: {req.exchange} does not list {symbol} ({market})"
                    + (" and the archive has no such symbol" if req.exchange == "binance" else "")
                    + "; check the name (e.g. --assets BTC,ETH) or --market")
        done: list[Added] = []
        for base, quote in pairs:
            for market in req.markets:
                kinds = ["klines"] + (["funding", "mark"] if req.funding and market == "perp"
                                      else [])
                for kind in kinds:
                    rec = self._series(base, quote, market, kind)
                    self.log(rec.line())
                    done.append(rec)
        return done


def download(req: DownloadRequest, log: Callable[[str], None] = print) -> list[Added]:
    """Fill or extend the files of ``req`` up to the last closed bar (module docstring).

    Parameters
    ----------
    req : DownloadRequest
        Venue, markets, assets, range, folders, archive/API bases and the request rate.
    log : callable
        Receives one summary line per file written (and progress notes).

    Returns
    -------
    list of Added
        One record per file: rows before, rows added, their range and source.

    Raises
    ------
    DownloadError
        On bad input (unknown venue or asset, ``since`` after the last bar) before anything is
        written, or when a download fails (files finished before stay as written).

    """
    return _Run(req, log).run()
