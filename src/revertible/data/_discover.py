"""Finding price files: bar sizes, file-name conventions, one file per asset."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from ..config import bar_text
from ..errors import DataError

__all__ = ["discover_files", "parse_timeframe"]

_log = logging.getLogger("revertible.data")

REQUIRED = ("date", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
#: Quote currencies recognised when splitting a glued symbol such as ``BTCUSDT``.
KNOWN_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH", "EUR", "USD")
#: Funding timestamps within this much of a bar's open time belong to that bar. Binance stamps
#: the 00/08/16 UTC settlements a few milliseconds late (up to 15 ms in the shared data).
FUNDING_JITTER = pd.Timedelta(seconds=1)

_EXT = {".feather": "feather", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_TIME_COLUMNS = ("date", "timestamp", "unix", "time", "datetime", "open_time")
_QUOTE_VOLUME_COLUMNS = ("quote_volume", "quote_asset_volume")
_TF_RE = re.compile(r"^(\d+)([smhdw])$")
_TF_ALIASES = {"minute": "1m", "hour": "1h", "h": "1h", "d": "1d", "day": "1d", "w": "1w"}
_TF_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FREQTRADE_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)(?:_(?P<settle>[A-Za-z0-9]+))?"
    r"-(?P<tf>[A-Za-z0-9]+)(?:-(?P<kind>[A-Za-z_]+))?$"
)
_CDD_RE = re.compile(r"^(?P<exchange>[A-Za-z]+)_(?P<symbol>[A-Za-z0-9]+)_(?P<tf>[A-Za-z0-9]+)$")
_AWARE_RE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|UTC|[+-]\d{2}(?::?\d{2})?)$"


def parse_timeframe(timeframe: str) -> pd.Timedelta:
    """Bar size of a freqtrade-style timeframe string.

    Parameters
    ----------
    timeframe : str
        ``<n><unit>`` with unit ``s``, ``m``, ``h``, ``d`` or ``w`` (``"1h"``, ``"15m"``), or a
        CryptoDataDownload token (``"d"``, ``"minute"``).

    Returns
    -------
    pandas.Timedelta

    Raises
    ------
    DataError
        If the string is not understood.

    Examples
    --------
    >>> parse_timeframe("4h")
    Timedelta('0 days 04:00:00')

    """
    token = _TF_ALIASES.get(timeframe, timeframe)
    m = _TF_RE.match(token)
    if m is None or int(m.group(1)) == 0:
        raise DataError(
            f"data.timeframe {timeframe!r} is not understood; use <n><unit> with unit s, m, h, "
            "d or w, e.g. 15m, 1h, 4h, 1d"
        )
    return pd.Timedelta(**{_TF_UNITS[m.group(2)]: int(m.group(1))})


def _tf_text(step: pd.Timedelta) -> str:
    """Short text of a bar size: 1h, 15m, 1d, or pandas' form when irregular."""
    return bar_text(step)


def _tf_matches(token: str, step: pd.Timedelta) -> bool:
    try:
        return parse_timeframe(token) == step
    except DataError:
        return False


# ----------------------------------------------------------------------------------------------
# discovery


def _expected(fmt: str, timeframe: str) -> str:
    pats = {
        "feather": f"<BASE>_<QUOTE>-{timeframe}.feather "
        f"(futures: <BASE>_<QUOTE>_<SETTLE>-{timeframe}-futures.feather)",
        "csv": f"<BASE>_<QUOTE>-{timeframe}.csv or <Exchange>_<BASEQUOTE>_{timeframe}.csv",
        "parquet": f"<BASE>_<QUOTE>-{timeframe}.parquet",
    }
    return "; ".join(pats.values()) if fmt == "auto" else pats[fmt]


def _split_symbol(symbol: str, path: Path) -> tuple[str, str]:
    upper = symbol.upper()
    for quote in sorted(KNOWN_QUOTES, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise DataError(
        f"data file {path.name}: cannot split symbol {symbol!r} into base and quote (known "
        f"quotes: {', '.join(KNOWN_QUOTES)}); rename the file to <BASE>_<QUOTE>-<timeframe>.csv"
    )


def _asset_of(path: Path, step: pd.Timedelta) -> str | None:
    """Asset name of a price file, or None if the name is not a price file of this bar size."""
    stem = path.name[: -len(path.suffix)]
    m = _FREQTRADE_RE.match(stem)
    if m is not None:
        kind = m.group("kind")
        if kind not in (None, "futures", "spot") or not _tf_matches(m.group("tf"), step):
            return None
        name = f"{m.group('base')}/{m.group('quote')}"
        return f"{name}:{m.group('settle')}" if m.group("settle") else name
    m = _CDD_RE.match(stem)
    if m is not None and path.suffix.lower() == ".csv" and _tf_matches(m.group("tf"), step):
        base, quote = _split_symbol(m.group("symbol"), path)
        return f"{base}/{quote}"
    return None


def _subfolders_with_prices(folder: Path, fmt: str, step: pd.Timedelta) -> list[str]:
    """Paths of ``folder``'s direct subfolders holding a price file of this bar size (a hint)."""
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            if any(p.is_file() and _EXT.get(p.suffix.lower()) in (
                    (fmt,) if fmt != "auto" else tuple(_EXT.values()))
                   and _asset_of(p, step) is not None for p in sub.iterdir()):
                out.append(str(sub))
        except OSError:  # an unreadable subfolder is no hint
            continue
    return out


def discover_files(folder: Path, fmt: str, timeframe: str) -> list[tuple[str, Path]]:
    """Find the price files of one bar size in a folder and name their assets.

    Parameters
    ----------
    folder : pathlib.Path
        Folder holding one file per asset.
    fmt : {"auto", "feather", "csv", "parquet"}
        File format; ``"auto"`` takes every supported extension.
    timeframe : str
        Bar size; files of other bar sizes are ignored, as are freqtrade's ``-mark``,
        ``-index``, ``-premiumIndex`` and ``-funding_rate`` files.

    Returns
    -------
    list of (str, pathlib.Path)
        ``(asset, path)`` sorted by asset. ``BTC_USDT-1h.feather`` -> ``BTC/USDT``,
        ``BTC_USDT_USDT-1h-futures.feather`` -> ``BTC/USDT:USDT``,
        ``Binance_BTCUSDT_1h.csv`` -> ``BTC/USDT``.

    Raises
    ------
    DataError
        If the folder is missing, holds no matching file, or two files name the same asset.

    """
    folder = Path(folder)
    step = parse_timeframe(timeframe)
    expected = _expected(fmt, timeframe)
    if folder.is_file():
        raise DataError(
            f"data folder {folder} is a file, not a folder; set data.path (or --data DIR) to "
            f"the folder holding it ({folder.parent})"
        )
    if not folder.is_dir():
        raise DataError(
            f"data folder {folder} does not exist; set data.path (or --data DIR) to a folder "
            f"of {expected} files"
        )
    found: dict[str, Path] = {}
    skipped: list[str] = []
    unknown: list[str] = []
    for path in sorted(folder.iterdir()):
        kind = _EXT.get(path.suffix.lower())
        if kind is None or (fmt != "auto" and kind != fmt) or not path.is_file():
            continue
        asset = _asset_of(path, step)
        if asset is None:
            if _other_bar_size(path):
                skipped.append(path.name)
            elif not _side_file(path) and _looks_like_prices(path, kind):
                unknown.append(path.name)
            continue
        if asset in found:
            raise DataError(
                f"data folder {folder}: asset {asset} found in two files ({found[asset].name}, "
                f"{path.name}); remove one or set data.format"
            )
        found[asset] = path
    if not found:
        below = _subfolders_with_prices(folder, fmt, step)
        raise DataError(
            f"data folder {folder}: no {fmt if fmt != 'auto' else 'price'} files for timeframe "
            f"{timeframe}; expected {expected}"
            + (f" (skipped {len(skipped)} files of other bar sizes, e.g. {skipped[0]}: set "
               "data.timeframe to their bar size; with data.resample: "
               f"{timeframe} to build {timeframe} bars from finer ones)" if skipped else "")
            + (f"; its subfolder{'s' if len(below) > 1 else ''} {', '.join(below)} "
               f"{'hold' if len(below) > 1 else 'holds'} them: set data.path (or --data DIR) "
               f"to {'one of them' if len(below) > 1 else 'it'}" if below else "")
        )
    if unknown:
        _log.warning(
            f"data folder {folder}: ignored {len(unknown)} file(s) whose name is not a price "
            f"file name ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}); name "
            f"them like <BASE>_<QUOTE>-{timeframe}{Path(unknown[0]).suffix} to use them"
        )
    if skipped:
        _log.warning(
            f"data folder {folder}: skipped {len(skipped)} price file(s) of another bar size "
            f"than data.timeframe={timeframe}: {', '.join(skipped[:5])}"
            + (", ..." if len(skipped) > 5 else "")
        )
    return sorted(found.items())


def _other_bar_size(path: Path) -> bool:
    """A price file name of another bar size (not freqtrade's mark/index/funding side files)."""
    stem = path.name[: -len(path.suffix)]
    m = _FREQTRADE_RE.match(stem)
    if m is not None:
        return m.group("kind") in (None, "futures", "spot")
    return _CDD_RE.match(stem) is not None and path.suffix.lower() == ".csv"


def _looks_like_prices(path: Path, kind: str) -> bool:
    """A feather/parquet file, or a CSV whose header names a ``close`` column."""
    if kind != "csv":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).split(b"\n")[:2]
    except OSError:
        return False
    return any(b"close" in line.lower() for line in head)


def _side_file(path: Path) -> bool:
    """Freqtrade's side files (``-mark``, ``-index``, ``-premiumIndex``, ``-funding_rate``)."""
    m = _FREQTRADE_RE.match(path.name[: -len(path.suffix)])
    return m is not None and m.group("kind") not in (None, "futures", "spot")


def _base_quote(asset: str) -> tuple[str, str]:
    pair = asset.split(":")[0]
    base, _, quote = pair.partition("/")
    return base, quote

