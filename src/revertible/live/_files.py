"""freqtrade's file layout, reading what is there, merging new rows and writing atomically.

Names: spot ``BTC_USDT-1h.feather``, perpetual ``BTC_USDT_USDT-1h-futures.feather``, funding
``BTC_USDT_USDT-8h-funding_rate.feather``, mark ``BTC_USDT_USDT-8h-mark.feather``. A file is
written to ``.<name>.part`` in the same folder, flushed to disk and renamed over the old one, so a
killed run leaves either the old or the new file, never a partial one; leftover ``.part`` files
of a killed run are removed by the next run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from ._http import DownloadError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["file_name", "read_existing", "merge", "write_atomic", "clean_parts", "STANDARD"]

STANDARD = ("date", "open", "high", "low", "close", "volume")


def file_name(base: str, quote: str, market: str, timeframe: str, kind: str = "klines") -> str:
    """Freqtrade's file name of one series (``kind``: klines, funding or mark)."""
    if market == "spot":
        return f"{base}_{quote}-{timeframe}.feather"
    stem = f"{base}_{quote}_{quote}"
    return {"klines": f"{stem}-{timeframe}-futures.feather",
            "funding": f"{stem}-8h-funding_rate.feather",
            "mark": f"{stem}-8h-mark.feather"}[kind]


def read_existing(path: Path) -> pd.DataFrame | None:
    """The rows already in ``path`` (None when there is no file)."""
    if not path.exists():
        return None
    try:
        frame = feather.read_table(path).to_pandas()
    except Exception as exc:  # noqa: BLE001 - any reader failure: the file is unusable
        raise DownloadError(f"data file {path}: cannot be read ({type(exc).__name__}); move it "
                            "away and rerun to download it anew") from None
    if "date" not in frame.columns or len(frame) == 0:
        raise DownloadError(f"data file {path}: no 'date' column or no rows; move it away and "
                            "rerun to download it anew")
    frame["date"] = pd.to_datetime(frame["date"], utc=True).dt.as_unit("ns")
    return frame


def merge(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Old rows plus new ones, by time; a bar already on disk is kept as it is."""
    if old is None or len(old) == 0:
        out = new
    else:
        extra = [c for c in new.columns if c not in old.columns]
        old = old.assign(**{c: float("nan") for c in extra})
        out = pd.concat([old, new[new["date"].isin(old["date"]) == False]],  # noqa: E712
                        ignore_index=True)
    cols = [*STANDARD, *[c for c in out.columns if c not in STANDARD]]
    return out[cols].sort_values("date", ignore_index=True)


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as feather to ``path`` via a ``.part`` file and a rename."""
    tmp = path.with_name(f".{path.name}.part")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    try:
        feather.write_feather(table, tmp, compression="lz4")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def clean_parts(folder: Path) -> int:
    """Remove ``.part`` files a killed run left in ``folder``; return how many."""
    n = 0
    if folder.is_dir():
        for part in folder.glob(".*.feather.part"):
            part.unlink(missing_ok=True)
            n += 1
    return n
