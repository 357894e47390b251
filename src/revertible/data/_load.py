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
- Prices are finite and positive, volumes finite and non-negative, the median bar spacing equals
  ``data.timeframe`` and every bar lies a whole number of bars after the file's first bar.
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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as pa_feather
import pyarrow.parquet as pa_parquet

from ..config import DataConfig
from ..errors import DataError
from ._panel import Panel

__all__ = ["load_panel", "discover_files", "read_bars", "summarize", "parse_timeframe"]

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
    secs = step.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs > 0 and secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return str(step)


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
    if not folder.is_dir():
        raise DataError(
            f"data folder {folder} does not exist; set data.path (or --data DIR) to a folder "
            f"of {expected} files"
        )
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        kind = _EXT.get(path.suffix.lower())
        if kind is None or (fmt != "auto" and kind != fmt) or not path.is_file():
            continue
        asset = _asset_of(path, step)
        if asset is None:
            continue
        if asset in found:
            raise DataError(
                f"data folder {folder}: asset {asset} found in two files ({found[asset].name}, "
                f"{path.name}); remove one or set data.format"
            )
        found[asset] = path
    if not found:
        raise DataError(
            f"data folder {folder}: no {fmt if fmt != 'auto' else 'price'} files for timeframe "
            f"{timeframe}; expected {expected}"
        )
    return sorted(found.items())


# ----------------------------------------------------------------------------------------------
# reading one file


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


@dataclass(frozen=True)
class _UtcNs:
    """A timezone-aware arrow timestamp column already converted to UTC epoch nanoseconds."""

    ns: np.ndarray

    def __len__(self) -> int:
        return len(self.ns)


_Column = pd.Series | np.ndarray | _UtcNs
_ARROW_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _from_arrow(col: pa.ChunkedArray) -> _Column:
    """Fast path for arrow columns: numbers and aware timestamps straight to numpy."""
    if col.null_count == 0:
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            return col.to_numpy()
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            return _UtcNs(col.cast(pa.int64()).to_numpy() * _ARROW_NS[col.type.unit])
    return col.to_pandas()


def _read_columns(path: Path) -> dict[str, tuple[str, _Column]]:
    """Raw columns keyed by lower-cased, stripped name: ``{key: (original name, values)}``."""
    kind = _EXT.get(path.suffix.lower(), "csv")
    try:
        if kind == "csv":
            with path.open("rb") as fh:
                first = fh.readline().lstrip(b"\xef\xbb\xbf").strip().lower()
            skip = 1 if first.startswith((b"http://", b"https://", b"www.")) else 0
            df = pd.read_csv(path, skiprows=skip)
            cols = {str(c): df[c] for c in df.columns}
        else:
            reader = pa_feather if kind == "feather" else pa_parquet
            table = reader.read_table(path)
            cols = {n: _from_arrow(table.column(i)) for i, n in enumerate(table.column_names)}
    except pd.errors.EmptyDataError:
        raise DataError(
            f"data file {path.name}: file is empty (no header, no rows); re-download or remove it"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a corrupt/unreadable file
        raise DataError(
            f"data file {path.name}: cannot be read as {kind} ({_one_line(exc)}); re-download "
            "or re-export the file"
        ) from None
    return {name.strip().lower(): (name, values) for name, values in cols.items()}


def _epoch_to_ns(values: np.ndarray) -> np.ndarray:
    """Epoch integers to ns, unit chosen per value by magnitude (s, ms, us or ns)."""
    v = values.astype(np.int64)
    mag = np.abs(v)
    scale = np.where(
        mag < 10**11, 10**9, np.where(mag < 10**14, 10**6, np.where(mag < 10**17, 10**3, 1))
    )
    return v * scale


def _time_column(cols: dict[str, tuple[str, _Column]]) -> tuple[str, _Column]:
    """Pick the timestamp column, an epoch-integer one first (CryptoDataDownload's ``Unix``)."""
    present = [c for c in _TIME_COLUMNS if c in cols]
    numeric = [
        c for c in present if pd.api.types.is_numeric_dtype(getattr(cols[c][1], "dtype", None))
    ]
    return cols[(numeric or present)[0]]


def _timestamps_ns(path: Path, name: str, s: _Column) -> np.ndarray:
    """UTC epoch nanoseconds of a timestamp column; DataError if naive, unparsable or null."""
    if isinstance(s, _UtcNs):
        return s.ns
    s = pd.Series(s) if isinstance(s, np.ndarray) else s
    fix = "store UTC-aware timestamps (e.g. 2024-01-01T00:00:00Z) or epoch milliseconds"
    nulls = np.flatnonzero(s.isna().to_numpy())
    if nulls.size:
        raise DataError(
            f"data file {path.name}: column '{name}' row {nulls[0] + 1} has no timestamp; {fix}"
        )
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(s).tz_convert("UTC").as_unit("ns").asi8
    if pd.api.types.is_datetime64_dtype(s.dtype):
        raise DataError(
            f"data file {path.name}: column '{name}' has timezone-naive timestamps (row 1: "
            f"{s.iloc[0]}); {fix}"
        )
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(v) | (v != np.round(v)))
        if bad.size:
            raise DataError(
                f"data file {path.name}: column '{name}' row {bad[0] + 1} value "
                f"{float(v[bad[0]])!r} is not a whole epoch number; {fix}"
            )
        return _epoch_to_ns(s.to_numpy())
    text = s.astype(str).str.strip()
    naive = np.flatnonzero(~text.str.contains(_AWARE_RE, regex=True).to_numpy())
    if naive.size:
        raise DataError(
            f"data file {path.name}: column '{name}' row {naive[0] + 1} timestamp "
            f"{text.iloc[naive[0]]!r} has no timezone; {fix}"
        )
    text = text.str.replace(r"\s*UTC$", "+00:00", regex=True)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise DataError(
            f"data file {path.name}: column '{name}' row {bad[0] + 1} timestamp "
            f"{text.iloc[bad[0]]!r} is not ISO 8601; {fix}"
        )
    return pd.DatetimeIndex(parsed).as_unit("ns").asi8


def _missing(path: Path, missing: list[str], has: list[str]) -> None:
    what = ", ".join(f"'{c}'" for c in missing)
    noun = "column" if len(missing) == 1 else "columns"
    raise DataError(
        f"data file {path.name}: {noun} {what} missing (has: {', '.join(has)}); files need "
        f"{', '.join(REQUIRED)}"
    )


def _ts(ns: int) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat()


@dataclass(frozen=True)
class _Bars:
    """One validated file: strictly increasing UTC bars (epoch ns) and float64 columns."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray

    def frame(self) -> pd.DataFrame:
        out = {"date": pd.to_datetime(self.time, unit="ns", utc=True)}
        out.update({f: getattr(self, f) for f in (*PRICES, "volume", "quote_volume")})
        return pd.DataFrame(out)


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


def _read_bars(path: Path, asset: str | None, step: pd.Timedelta, min_rows: int) -> _Bars:
    cols = _read_columns(path)
    has = [orig for orig, _ in cols.values()]
    base, quote = _base_quote(asset) if asset else ("", "")
    if "volume" not in cols and f"volume {base.lower()}" in cols:
        cols["volume"] = cols[f"volume {base.lower()}"]  # CryptoDataDownload: "Volume BTC"
    need = [c for c in REQUIRED[1:] if c not in cols]
    if not any(c in cols for c in _TIME_COLUMNS):
        need.insert(0, "date")
    if need:
        _missing(path, need, has)
    tname, tvalues = _time_column(cols)
    n = len(tvalues)
    if n == 0:
        raise DataError(f"data file {path.name}: no rows; re-download it or remove it")
    if n < min_rows:
        raise DataError(
            f"data file {path.name}: {n} rows, fewer than data.min_rows={min_rows}; remove the "
            "file or lower data.min_rows"
        )
    t = _timestamps_ns(path, tname, tvalues)
    order = _ordered(path, t)
    data = {f: _checked(path, *cols[f], t, f == "volume")[order] for f in (*PRICES, "volume")}
    qv_keys = [*_QUOTE_VOLUME_COLUMNS, *([f"volume {quote.lower()}"] if quote else [])]
    qv_key = next((k for k in qv_keys if k in cols), None)
    if qv_key is not None:
        data["quote_volume"] = _checked(path, *cols[qv_key], t, True)[order]
    else:
        data["quote_volume"] = data["volume"] * data["close"]
    t = t[order]
    _check_spacing(path, t, step, order)
    return _Bars(time=t, **data)


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


def read_bars(
    path: str | Path, asset: str | None = None, *, timeframe: str = "1h", min_rows: int = 2
) -> pd.DataFrame:
    """Read and validate one price file.

    Parameters
    ----------
    path : str or pathlib.Path
        A feather, CSV or parquet file (format by extension).
    asset : str, optional
        ``BASE/QUOTE`` name; lets CryptoDataDownload's ``Volume <BASE>`` / ``Volume <QUOTE>``
        columns be recognised. Defaults to the name derived from the file name, if any.
    timeframe : str
        Expected bar size.
    min_rows : int
        Fewer rows than this is an error.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (UTC, ns), ``open``, ``high``, ``low``, ``close``, ``volume``,
        ``quote_volume``; strictly increasing in ``date``.

    Raises
    ------
    DataError
        On any broken rule listed in the module docstring.

    """
    path = Path(path)
    step = parse_timeframe(timeframe)
    if asset is None:
        try:
            asset = _asset_of(path, step)
        except DataError:
            asset = None
    return _read_bars(path, asset, step, min_rows).frame()


def _base_quote(asset: str) -> tuple[str, str]:
    pair = asset.split(":")[0]
    base, _, quote = pair.partition("/")
    return base, quote


# ----------------------------------------------------------------------------------------------
# panel


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
        ``timeframe``. ``funding`` is ``None`` unless ``cfg.funding_path`` is set; see
        :func:`_attach_funding` for the timing rule.

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
    return Panel(
        times=times,
        assets=assets,
        funding=funding,
        source=Panel.source_name(folder),
        meta=meta,
        **arrays,
    )


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


# ----------------------------------------------------------------------------------------------
# funding

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


# ----------------------------------------------------------------------------------------------
# summary


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
