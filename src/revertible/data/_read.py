"""Reading one price file: columns, timestamps, bars (the rules themselves are in _validate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as pa_feather
import pyarrow.parquet as pa_parquet

from ..errors import DataError
from ._discover import (
    _AWARE_RE,
    _EXT,
    _QUOTE_VOLUME_COLUMNS,
    _TIME_COLUMNS,
    PRICES,
    REQUIRED,
    _asset_of,
    _base_quote,
    parse_timeframe,
)
from ._validate import (
    _ARROW_NS,
    _check_high_low,
    _check_spacing,
    _checked,
    _Column,
    _ordered,
    _UtcNs,
)

__all__ = ["read_bars"]


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


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
        shown = text.iloc[naive[0]]
        if pd.isna(pd.to_datetime(shown, errors="coerce", format="mixed")):
            raise DataError(
                f"data file {path.name}: column '{name}' row {naive[0] + 1} value {shown!r} is "
                "not a timestamp at all (a garbage or truncated row?); fix or drop the row"
            )
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
    now = pd.Timestamp.now(tz="UTC")
    if t[-1] > (now + step).value:
        late = pd.Timestamp(t[-1], tz="UTC")
        raise DataError(
            f"data file {path.name}: last bar {late:%Y-%m-%d %H:%M} UTC is after the current "
            f"time {now:%Y-%m-%d %H:%M} UTC (a wrong clock or a wrong year); fix its "
            "timestamps or remove the file"
        )
    _check_spacing(path, t, step, order)
    _check_high_low(path, t, data["high"], data["low"], order)
    return _Bars(time=t, **data)



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

