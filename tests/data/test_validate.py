"""Per-file validation (order, duplicates, prices, volumes, bar spacing) and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.data import (
    load_panel,
    summarize,
)
from revertible.errors import DataError

from .support import HOUR, START, bad_file, cfg_for, make_bars, write


def test_duplicate_timestamp(tmp_path, rng):
    df = make_bars(rng, 10)
    df.loc[6, "date"] = df.loc[5, "date"]
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: duplicate timestamp "
        r"2024-01-01T05:00:00\+00:00 at row 7 \(first at row 6\)",
    ):
        load_panel(bad_file(tmp_path, df))


def test_unsorted_timestamps(tmp_path, rng):
    df = make_bars(rng, 10)
    df.loc[[3, 4], "date"] = df.loc[[4, 3], "date"].to_numpy()
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: timestamps not sorted: row 5 "
        r"\(2024-01-01T03:00:00\+00:00\) comes after row 4",
    ):
        load_panel(bad_file(tmp_path, df))


def test_mostly_decreasing_file_is_still_unsorted(tmp_path, rng):
    df = make_bars(rng, 10).iloc[::-1].reset_index(drop=True)
    df.loc[[0, 1], "date"] = df.loc[[1, 0], "date"].to_numpy()
    with pytest.raises(DataError, match=r"timestamps not sorted: row 3 "):
        load_panel(bad_file(tmp_path, df, "csv_ms"))


@pytest.mark.parametrize(
    ("column", "row", "value", "shown"),
    [
        ("close", 9, 0.0, "0.0"),
        ("low", 3, -2.5, "-2.5"),
        ("high", 5, np.nan, "nan"),
        ("open", 1, np.inf, "inf"),
    ],
)
def test_bad_price(tmp_path, rng, column, row, value, shown):
    df = make_bars(rng, 10)
    df.loc[row - 1, column] = value
    ts = (START + (row - 1) * HOUR).isoformat().replace("+", r"\+")
    with pytest.raises(
        DataError,
        match=rf"BTC_USDT-1h\.feather: column '{column}' row {row} "
        rf"\({ts}\) value {shown} must be finite and > 0",
    ):
        load_panel(bad_file(tmp_path, df))


def test_high_below_low_names_the_row_with_plain_numbers(tmp_path, rng):
    # the message showed "high np.float64(0.41) below low np.float64(0.82)"
    df = make_bars(rng, 10)
    df.loc[6, "high"] = df.loc[6, "low"] * 0.5
    hi, lo = float(df.loc[6, "high"]), float(df.loc[6, "low"])
    with pytest.raises(DataError) as err:
        load_panel(bad_file(tmp_path, df))
    text = str(err.value)
    assert f"row 7 (2024-01-01T06:00:00+00:00) has high {hi!r} below low {lo!r}" in text, text
    assert "np.float64" not in text


@pytest.mark.parametrize(("value", "shown"), [(-1.0, "-1.0"), (np.nan, "nan")])
def test_bad_volume(tmp_path, rng, value, shown):
    df = make_bars(rng, 10)
    df.loc[3, "volume"] = value
    with pytest.raises(
        DataError,
        match=rf"BTC_USDT-1h\.feather: column 'volume' row 4 .* value "
        rf"{shown} must be finite and >= 0",
    ):
        load_panel(bad_file(tmp_path, df))


def test_bar_size_mismatch(tmp_path, rng):
    df = make_bars(rng, 10, freq=pd.Timedelta(hours=4))
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: bar size 4h detected \(median "
        r"spacing\), expected 1h; set data\.timeframe: 4h",
    ):
        load_panel(bad_file(tmp_path, df))


def test_off_grid_timestamp(tmp_path, rng):
    df = make_bars(rng, 20)
    df.loc[11, "date"] += pd.Timedelta(minutes=30)
    with pytest.raises(
        DataError,
        match=r"BTC_USDT-1h\.feather: row 12 timestamp "
        r"2024-01-01T11:30:00\+00:00 is not a whole number of 1h "
        r"bars after the first bar",
    ):
        load_panel(bad_file(tmp_path, df))


def test_summarize_known_numbers(tmp_path, rng):
    df = make_bars(rng, 24 * 3 + 5, start=START - 2 * HOUR)  # partial first and last day
    df["quote_volume"] = np.select(
        [df["date"] < START + 24 * HOUR, df["date"] < START + 48 * HOUR], [1.0, 2.0], 10.0
    )
    write(df, tmp_path, "BTC/USDT", "parquet")
    s = summarize(load_panel(cfg_for(tmp_path))).iloc[0]
    assert s["asset"] == "BTC/USDT" and s["bars"] == 77 and s["missing_bars"] == 0
    assert s["first_bar"] == START - 2 * HOUR and s["last_bar"] == START + 74 * HOUR
    # complete days: Jan 1 (24 x 1), Jan 2 (24 x 2), Jan 3 (24 x 10) -> median 48
    assert s["median_daily_quote_volume"] == pytest.approx(48.0)
    assert not s["has_funding"]


@pytest.mark.realdata
def test_real_summary_numbers(spot_panel):
    s = summarize(spot_panel).set_index("asset")
    assert len(s) == 136
    span = (s["last_bar"] - s["first_bar"]) / HOUR + 1
    assert (s["bars"] + s["missing_bars"] == span).all()
    assert (s["median_daily_quote_volume"] > 0).all()
    assert 1e8 < s.loc["BTC/USDT", "median_daily_quote_volume"] < 1e11
    assert s["median_daily_quote_volume"].idxmax() == "BTC/USDT"
    assert s["median_daily_quote_volume"].min() < 1e6  # a few very illiquid assets
    assert s["has_funding"].sum() == 7 and s.loc["BTC/USDT", "has_funding"]
