"""Reading one price file: every format loads the same bars; each bad input is one DataError."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.feather as pa_feather
import pytest

from revertible.data import (
    load_panel,
    read_bars,
)
from revertible.errors import DataError

from .support import FIELDS, START, bad_file, cfg_for, make_bars, write


@pytest.mark.parametrize("fmt", ["csv_iso", "csv_ms", "csv_s", "cdd", "parquet"])
def test_formats_load_identically(tmp_path, two_assets, fmt):
    for asset, df in two_assets.items():
        write(df, tmp_path / "feather", asset, "feather")
        write(df, tmp_path / fmt, asset, fmt)
    ref = load_panel(cfg_for(tmp_path / "feather"))
    got = load_panel(cfg_for(tmp_path / fmt))
    assert got.assets == ref.assets == ("BTC/USDT", "ETH/USDT")
    assert got.times.equals(ref.times)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-12, equal_nan=True)
    assert got.meta["missing_bars"] == ref.meta["missing_bars"] == {"BTC/USDT": 0, "ETH/USDT": 3}


def test_cdd_newest_first_is_reversed_and_quote_volume_column_used(tmp_path, rng):
    df = make_bars(rng, 24)
    path = write(df, tmp_path, "BTC/USDT", "cdd")
    got = read_bars(path)
    assert got["date"].is_monotonic_increasing and got["date"].iloc[0] == START
    np.testing.assert_allclose(got["close"], df["close"], rtol=1e-12)
    np.testing.assert_allclose(got["volume"], df["volume"], rtol=1e-12)  # "Volume BTC"
    np.testing.assert_allclose(  # "Volume USDT", not volume * close
        got["quote_volume"], (df["volume"] * df["close"] * 1.01).round(4), rtol=1e-12
    )


def test_quote_volume_falls_back_to_volume_times_close(tmp_path, rng):
    df = make_bars(rng, 24)
    p = load_panel(bad_file(tmp_path, df))
    np.testing.assert_allclose(p.quote_volume[:, 0], df["volume"] * df["close"], rtol=1e-15)


def test_quote_volume_column_is_used_when_present(tmp_path, rng):
    df = make_bars(rng, 24).assign(quote_asset_volume=7.5)
    p = load_panel(bad_file(tmp_path, df))
    assert (p.quote_volume[:, 0] == 7.5).all()


def test_csv_iso_with_offsets_is_converted_to_utc(tmp_path, rng):
    df = make_bars(rng, 6)
    local = df["date"].dt.tz_convert("Europe/Berlin").map(lambda t: t.isoformat())
    df.assign(date=local, Open=df["open"]).drop(columns="open").to_csv(
        tmp_path / "BTC_USDT-1h.csv", index=False
    )
    got = read_bars(tmp_path / "BTC_USDT-1h.csv")
    assert list(got["date"]) == list(df["date"])  # +01:00 offsets, case-insensitive 'Open'
    np.testing.assert_allclose(got["open"], df["open"])


def test_corrupt_feather(tmp_path):
    (tmp_path / "BTC_USDT-1h.feather").write_bytes(b"this is not arrow data at all")
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: cannot be read as feather \("
        r".*\); re-download",
    ):
        load_panel(cfg_for(tmp_path))


def test_corrupt_parquet(tmp_path):
    (tmp_path / "BTC_USDT-1h.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.parquet: cannot be read as parquet"):
        load_panel(cfg_for(tmp_path))


def test_empty_csv_file(tmp_path):
    (tmp_path / "BTC_USDT-1h.csv").write_text("")
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv: file is empty"):
        load_panel(cfg_for(tmp_path))


def test_zero_rows(tmp_path, rng):
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.feather: no rows"):
        load_panel(bad_file(tmp_path, make_bars(rng, 4).iloc[:0]))


def test_fewer_rows_than_min_rows(tmp_path, rng):
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: 3 rows, fewer than "
        r"data\.min_rows=5",
    ):
        load_panel(bad_file(tmp_path, make_bars(rng, 3), min_rows=5))


def test_missing_column(tmp_path, rng):
    df = make_bars(rng, 4).drop(columns="close")
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: column 'close' missing \(has: "
        r"date, open, high, low, volume\); files need date, "
        r"open, high, low, close, volume",
    ):
        load_panel(bad_file(tmp_path, df))


def test_missing_date_and_volume_columns(tmp_path, rng):
    make_bars(rng, 4).drop(columns=["date", "volume"]).to_csv(
        tmp_path / "BTC_USDT-1h.csv", index=False
    )
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv: columns 'date', 'volume' missing"):
        load_panel(cfg_for(tmp_path))


def test_naive_timestamps_feather(tmp_path, rng):
    df = make_bars(rng, 4)
    df["date"] = df["date"].dt.tz_localize(None)
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: column 'date' has timezone-naive "
        r"timestamps.*store UTC-aware timestamps.*epoch",
    ):
        load_panel(bad_file(tmp_path, df))


def test_naive_timestamps_csv(tmp_path, rng):
    df = make_bars(rng, 4)
    df.assign(date=df["date"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(
        tmp_path / "BTC_USDT-1h.csv", index=False
    )
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.csv: column 'date' row 1 timestamp "
        r"'2024-01-01 00:00:00' has no timezone",
    ):
        load_panel(cfg_for(tmp_path))


def test_non_numeric_price_in_csv(tmp_path, rng):
    df = make_bars(rng, 10).astype({"close": object})
    df.loc[2, "close"] = "n/a?"
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv: column 'close' row 3 .* value 'n/a\?'"):
        load_panel(bad_file(tmp_path, df, "csv_iso"))


def test_arrow_timestamp_units_are_respected(tmp_path, rng):
    df = make_bars(rng, 6)
    ms = df["date"].dt.as_unit("ns").astype("int64").to_numpy() // 10**6
    table = pa.table(
        {
            "date": pa.array(ms, pa.timestamp("ms", tz="UTC")),
            **{f: pa.array(df[f].to_numpy()) for f in FIELDS},
        }
    )
    pa_feather.write_feather(table, tmp_path / "BTC_USDT-1h.feather")
    assert list(read_bars(tmp_path / "BTC_USDT-1h.feather")["date"]) == list(df["date"])
