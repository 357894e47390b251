"""The Binance public data archive (``data.binance.vision``): zips, checksums, CSV rows, listings.

Layout (one zip per symbol and period, each with a ``.CHECKSUM`` file holding
``<sha256>  <zip name>``)::

    data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip
    data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-05.zip
    data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip
    data/futures/um/monthly/markPriceKlines/BTCUSDT/8h/BTCUSDT-8h-2024-01.zip
    data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip

A kline CSV has 12 columns (open time, open, high, low, close, volume, close time, quote volume,
number of trades, taker-buy base volume, taker-buy quote volume, ignore); futures files start
with a header row, spot files do not, and spot open times are in microseconds from 2025 on
(milliseconds before): the unit is told by the magnitude, never by the date. A funding CSV has
``calc_time, funding_interval_hours, last_funding_rate``. The symbol listing is the bucket's S3
``ListBucketResult`` (``?delimiter=/&prefix=...``, paged by ``marker``).
"""

from __future__ import annotations

import hashlib
import io
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pandas as pd

from ._http import DownloadError, Retry, get

__all__ = [
    "ARCHIVE_URL",
    "LISTING_URL",
    "FLOW",
    "zip_url",
    "fetch_csv",
    "parse_klines",
    "parse_funding",
    "list_symbols",
    "has_symbol",
    "periods",
]

ARCHIVE_URL = "https://data.binance.vision"
#: The bucket behind the archive answers S3 listings; a mirror given by --archive-url must too.
LISTING_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
#: Order-flow columns kept after the six standard ones (quote volume first: the readers use it).
FLOW = ("quote_volume", "trades", "taker_buy_volume", "taker_buy_quote_volume")
_ROOT = {"spot": "data/spot", "perp": "data/futures/um"}
_S3 = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def zip_url(base: str, market: str, kind: str, symbol: str, interval: str, period: str) -> str:
    """URL of one archive zip; ``period`` is ``YYYY-MM`` (monthly) or ``YYYY-MM-DD`` (daily)."""
    freq = "monthly" if len(period) == 7 else "daily"
    if kind == "fundingRate":
        return f"{base}/{_ROOT[market]}/{freq}/{kind}/{symbol}/{symbol}-{kind}-{period}.zip"
    return (f"{base}/{_ROOT[market]}/{freq}/{kind}/{symbol}/{interval}/"
            f"{symbol}-{interval}-{period}.zip")


def fetch_csv(url: str, retry: Retry) -> bytes | None:
    """The CSV inside the zip at ``url`` after checking its SHA-256; ``None`` if there is no zip.

    Raises
    ------
    DownloadError
        When the checksum file is missing or does not match, or the zip is unreadable.

    """
    blob = get(url, retry)
    if blob is None:
        return None
    check = get(url + ".CHECKSUM", retry)
    name = url.rsplit("/", 1)[-1]
    if check is None:
        raise DownloadError(f"archive file {name}: no {name}.CHECKSUM next to it, so it cannot be "
                            "verified; retry later or check --archive-url")
    expected = check.decode("ascii", "replace").split()[0].lower() if check.strip() else ""
    actual = hashlib.sha256(blob).hexdigest()
    if actual != expected:
        raise DownloadError(f"archive file {name}: checksum mismatch (sha256 {actual[:12]}..., "
                            f"CHECKSUM says {expected[:12]}...); a corrupt or tampered download: "
                            "rerun later; files written so far are kept")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            return zf.read(zf.namelist()[0])
    except (zipfile.BadZipFile, IndexError, KeyError) as exc:
        raise DownloadError(f"archive file {name}: not a readable zip ({exc}); rerun "
                            "later") from None


def _table(csv: bytes, ncols: int) -> np.ndarray:
    text = csv.decode("ascii", "replace").strip()
    if not text:
        return np.empty((0, ncols))
    lines = text.splitlines()
    if not lines[0][:1].isdigit() and not lines[0][:1] == "-":
        lines = lines[1:]  # futures files have a header row, spot files do not
    if not lines:
        return np.empty((0, ncols))
    rows = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2, usecols=range(ncols))
    return rows


def _ms(values: np.ndarray) -> np.ndarray:
    """Epoch times to milliseconds: microsecond values (spot from 2025) divided by 1,000."""
    t = values.astype(np.int64)
    return np.where(np.abs(t) >= 10**14, t // 1000, t)


def klines_frame(rows: np.ndarray) -> pd.DataFrame:
    """Frame of kline rows ``[open time, o, h, l, c, v, close time?, qv, trades, tbv, tbqv]``.

    Rows with fewer than 11 columns (other venues through ccxt: the six standard ones) get NaN
    order-flow columns.
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1) if len(rows) else \
        np.empty((0, 11))
    out = {"date": pd.to_datetime(_ms(rows[:, 0]), unit="ms", utc=True).as_unit("ns")}
    for i, col in enumerate(("open", "high", "low", "close", "volume")):
        out[col] = rows[:, 1 + i]
    for i, col in enumerate(FLOW):
        out[col] = rows[:, 7 + i] if rows.shape[1] >= 11 else np.full(len(rows), np.nan)
    return pd.DataFrame(out)


def parse_klines(csv: bytes) -> pd.DataFrame:
    """An archive kline CSV as a frame (see :func:`klines_frame`)."""
    return klines_frame(_table(csv, 11))


def funding_frame(times_ms: np.ndarray, rates: np.ndarray) -> pd.DataFrame:
    """Freqtrade's funding layout: the rate in ``open``, the other columns 0.

    Funding times are kept as the exchange stamps them (often a few ms after the hour, as in
    freqtrade's files); the readers put them on their bar.
    """
    t = np.asarray(times_ms, dtype=np.int64)
    n = len(t)
    return pd.DataFrame({"date": pd.to_datetime(t, unit="ms", utc=True).as_unit("ns"),
                         "open": np.asarray(rates, dtype=np.float64), "high": np.zeros(n),
                         "low": np.zeros(n), "close": np.zeros(n), "volume": np.zeros(n)})


def parse_funding(csv: bytes) -> pd.DataFrame:
    """An archive funding CSV (``calc_time, funding_interval_hours, last_funding_rate``)."""
    rows = _table(csv, 3)
    return funding_frame(_ms(rows[:, 0]), rows[:, 2])


def _listing(listing: str, prefix: str, retry: Retry) -> list[str]:
    """Sub-folder names under ``prefix`` (all pages)."""
    names: list[str] = []
    marker = ""
    while True:
        query = urllib.parse.urlencode({"delimiter": "/", "prefix": prefix, "marker": marker})
        blob = get(f"{listing}/?{query}", retry)
        if blob is None:
            raise DownloadError(f"archive listing {listing}: no answer for prefix {prefix}; "
                                "check --archive-url")
        try:
            root = ET.fromstring(blob)
        except ET.ParseError as exc:
            raise DownloadError(f"archive listing {listing}: not an S3 listing ({exc})") from None
        found = [p.text or "" for p in root.iter(f"{_S3}Prefix") if p.text != prefix]
        names += [p[len(prefix):].strip("/") for p in found if p.startswith(prefix)]
        truncated = (root.findtext(f"{_S3}IsTruncated") or "false").lower() == "true"
        if not truncated or not found:
            return names
        marker = root.findtext(f"{_S3}NextMarker") or found[-1]


def list_symbols(listing: str, market: str, retry: Retry) -> list[str]:
    """Every symbol the archive has monthly klines for (delisted ones included)."""
    return _listing(listing, f"{_ROOT[market]}/monthly/klines/", retry)


def has_symbol(listing: str, market: str, symbol: str, retry: Retry) -> bool:
    """Whether the archive has monthly klines of ``symbol`` (a delisted one too)."""
    return bool(_listing(listing, f"{_ROOT[market]}/monthly/klines/{symbol}/", retry))


def periods(start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The months ``YYYY-MM`` holding bars in ``[start, end)``, oldest first."""
    last = end - pd.Timedelta(1, "ns")
    months = pd.period_range(start.tz_convert(None).to_period("M"),
                             last.tz_convert(None).to_period("M"), freq="M")
    return [str(m) for m in months]


def days_of(month: str, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The days ``YYYY-MM-DD`` of ``month`` holding bars in ``[start, end)``."""
    first = max(pd.Timestamp(month + "-01", tz="UTC"), start.floor("D"))
    stop = min(pd.Timestamp(month + "-01", tz="UTC") + pd.offsets.MonthBegin(1), end)
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(first, stop, freq="D", inclusive="left")]
