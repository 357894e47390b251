"""Data layer: discovery, per-file validation, grid alignment, forward-fill, funding, summary."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as pa_feather
import pytest

from revertible.config import DataConfig
from revertible.data import (
    discover_files,
    load_panel,
    parse_timeframe,
    read_bars,
    summarize,
)
from revertible.errors import DataError

START = pd.Timestamp("2024-01-01", tz="UTC")
HOUR = pd.Timedelta(hours=1)
FIELDS = ("open", "high", "low", "close", "volume")


# ------------------------------------------------------------------------------------------------
# generated files


def make_bars(
    rng: np.random.Generator,
    n: int = 48,
    start: pd.Timestamp = START,
    freq: pd.Timedelta = HOUR,
    price: float = 100.0,
) -> pd.DataFrame:
    """A valid OHLCV frame: random-walk close, open = previous close, UTC-aware dates."""
    close = price * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[price, close[:-1]]
    return pd.DataFrame(
        {
            "date": pd.date_range(start, periods=n, freq=freq, unit="ns"),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n)),
            "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n)),
            "close": close,
            "volume": rng.uniform(1.0, 10.0, n).round(6),
        }
    )


def fname(asset: str, fmt: str, tf: str = "1h") -> str:
    base, quote = asset.split("/")
    if fmt == "cdd":
        return f"Binance_{base}{quote}_{tf}.csv"
    ext = {"csv_iso": "csv", "csv_ms": "csv", "csv_s": "csv"}.get(fmt, fmt)
    return f"{base}_{quote}-{tf}.{ext}"


def write(df: pd.DataFrame, folder: Path, asset: str, fmt: str, tf: str = "1h") -> Path:
    """Write ``df`` in one of the supported layouts; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / fname(asset, fmt, tf)
    if fmt == "feather":
        df.to_feather(path)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "csv_iso":
        out = df.assign(date=df["date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.to_csv(path, index=False)
    elif fmt in ("csv_ms", "csv_s"):
        div = 10**6 if fmt == "csv_ms" else 10**9
        epoch = df["date"].dt.as_unit("ns").astype("int64") // div
        df.drop(columns="date").assign(timestamp=epoch).to_csv(path, index=False)
    elif fmt == "cdd":  # CryptoDataDownload: URL line, newest first, Unix ms + naive Date
        base, quote = asset.split("/")
        out = pd.DataFrame(
            {
                "Unix": df["date"].dt.as_unit("ns").astype("int64") // 10**6,
                "Date": df["date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                "Symbol": base + quote,
                "Open": df["open"],
                "High": df["high"],
                "Low": df["low"],
                "Close": df["close"],
                f"Volume {base}": df["volume"],
                f"Volume {quote}": (df["volume"] * df["close"] * 1.01).round(4),
                "tradecount": 7,
            }
        ).iloc[::-1]
        path.write_text("https://www.CryptoDataDownload.com\n" + out.to_csv(index=False))
    else:  # pragma: no cover
        raise ValueError(fmt)
    return path


def cfg_for(folder: Path, **kw) -> DataConfig:
    return DataConfig(path=folder, **kw)


@pytest.fixture
def two_assets(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """BTC: 48 full bars. ETH: lists at bar 5, 3-bar gap at bars 20-22, ends at bar 40."""
    btc = make_bars(rng, 48, price=40_000.0)
    eth = make_bars(rng, 36, start=START + 5 * HOUR, price=2_000.0)
    eth = eth.drop(index=[15, 16, 17]).reset_index(drop=True)
    return {"BTC/USDT": btc, "ETH/USDT": eth}


def bad_file(tmp_path: Path, df: pd.DataFrame, fmt: str = "feather", **kw) -> DataConfig:
    write(df, tmp_path, "BTC/USDT", fmt)
    return cfg_for(tmp_path, **kw)


# ------------------------------------------------------------------------------------------------
# formats load identically


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


def test_panel_grid_alignment_and_layout(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path, asset, "feather")
    p = load_panel(cfg_for(tmp_path))
    assert p.n_bars == 48 and p.times[0] == START and p.freq == HOUR
    assert str(p.times.dtype) == "datetime64[ns, UTC]"
    for f in (*FIELDS, "quote_volume"):
        arr = getattr(p, f)
        assert arr.shape == (48, 2) and arr.dtype == np.float64 and arr.flags.f_contiguous
    eth = p.close[:, 1]
    assert np.isnan(eth[:5]).all()  # pre-listing stays NaN (no back-fill)
    assert np.isnan(eth[20:23]).all()  # gap stays NaN with ffill_limit=0
    assert np.isnan(eth[41:]).all()  # after the last bar
    assert np.isfinite(eth[5:20]).all() and np.isfinite(eth[23:41]).all()
    np.testing.assert_array_equal(p.close[:, 0], two_assets["BTC/USDT"]["close"].to_numpy())
    assert p.meta["filled_bars"] == {"BTC/USDT": 0, "ETH/USDT": 0}
    assert p.meta["files"]["ETH/USDT"] == str(tmp_path / "ETH_USDT-1h.feather")
    assert p.source == str(tmp_path) and p.funding is None


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


# ------------------------------------------------------------------------------------------------
# forward-fill


def test_ffill_limit_fills_inside_history_only_and_counts(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path, asset, "feather")
    p = load_panel(cfg_for(tmp_path, ffill_limit=2))
    j = p.asset_index("ETH/USDT")
    last_close = p.close[19, j]
    for f in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(p, f)[20:22, j], [last_close, last_close])
    assert (p.volume[20:22, j] == 0).all() and (p.quote_volume[20:22, j] == 0).all()
    assert np.isnan(p.close[22, j])  # third missing bar is beyond the limit
    assert np.isnan(p.close[:5, j]).all() and np.isnan(p.close[41:, j]).all()
    assert p.meta["filled_bars"] == {"BTC/USDT": 0, "ETH/USDT": 2}
    assert p.meta["missing_bars"]["ETH/USDT"] == 3
    s = summarize(p).set_index("asset")
    assert s.loc["ETH/USDT", "filled_bars"] == 2 and s.loc["ETH/USDT", "bars"] == 33


# ------------------------------------------------------------------------------------------------
# discovery and asset selection


def test_discover_names_and_ignores(tmp_path, rng):
    df = make_bars(rng, 4)
    df.to_feather(tmp_path / "BTC_USDT-1h.feather")
    df.to_feather(tmp_path / "ETH_USDT_USDT-1h-futures.feather")
    df.to_feather(tmp_path / "ETH_USDT_USDT-8h-mark.feather")
    df.to_feather(tmp_path / "ETH_USDT_USDT-8h-funding_rate.feather")
    df.to_feather(tmp_path / "SOL_USDT-4h.feather")
    df.to_csv(tmp_path / "Binance_PEPEFDUSD_1h.csv")
    df.to_csv(tmp_path / "Binance_ETHBTC_4h.csv")
    df.to_parquet(tmp_path / "XRP_EUR-1h.parquet")
    (tmp_path / "README.md").write_text("x")
    got = discover_files(tmp_path, "auto", "1h")
    assert [a for a, _ in got] == ["BTC/USDT", "ETH/USDT:USDT", "PEPE/FDUSD", "XRP/EUR"]
    assert dict(got)["PEPE/FDUSD"].name == "Binance_PEPEFDUSD_1h.csv"
    assert [a for a, _ in discover_files(tmp_path, "feather", "1h")] == [
        "BTC/USDT",
        "ETH/USDT:USDT",
    ]
    assert [a for a, _ in discover_files(tmp_path, "csv", "4h")] == ["ETH/BTC"]


def test_discover_missing_folder(tmp_path):
    with pytest.raises(
        DataError, match=r"data folder .*nope does not exist; set data\.path .*<BASE>_<QUOTE>-1h"
    ):
        discover_files(tmp_path / "nope", "auto", "1h")


def test_discover_empty_folder_names_folder_and_pattern(tmp_path):
    with pytest.raises(
        DataError,
        match=re.escape(str(tmp_path)) + r": no price files for timeframe 1h; "
        r"expected <BASE>_<QUOTE>-1h\.feather",
    ):
        discover_files(tmp_path, "auto", "1h")


def test_discover_only_other_timeframes(tmp_path, rng):
    make_bars(rng, 4).to_feather(tmp_path / "BTC_USDT-4h.feather")
    with pytest.raises(
        DataError,
        match=r"no feather files for timeframe 1h; expected "
        r"<BASE>_<QUOTE>-1h\.feather",
    ):
        load_panel(cfg_for(tmp_path, format="feather"))


def test_discover_same_asset_twice(tmp_path, rng):
    df = make_bars(rng, 4)
    write(df, tmp_path, "BTC/USDT", "feather")
    write(df, tmp_path, "BTC/USDT", "csv_iso")
    with pytest.raises(
        DataError,
        match=r"BTC/USDT found in two files \(BTC_USDT-1h\.csv, "
        r"BTC_USDT-1h\.feather\).*data\.format",
    ):
        discover_files(tmp_path, "auto", "1h")
    assert len(discover_files(tmp_path, "csv", "1h")) == 1


def test_discover_unsplittable_cdd_symbol(tmp_path, rng):
    make_bars(rng, 4).to_csv(tmp_path / "Binance_FOOXYZ_1h.csv")
    with pytest.raises(DataError, match=r"Binance_FOOXYZ_1h\.csv: cannot split symbol 'FOOXYZ'"):
        discover_files(tmp_path, "csv", "1h")


def test_assets_select_in_order_and_unknown_named(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path, asset, "feather")
    p = load_panel(cfg_for(tmp_path, assets=("ETH/USDT", "BTC/USDT")))
    assert p.assets == ("ETH/USDT", "BTC/USDT")
    only = load_panel(cfg_for(tmp_path, assets=("ETH/USDT",)))
    assert only.assets == ("ETH/USDT",) and only.times[0] == START + 5 * HOUR
    with pytest.raises(
        DataError,
        match=r"data\.assets: BTC/USDC, XYZ/USDT not found .*2 assets "
        r"available; did you mean BTC/USDT",
    ):
        load_panel(cfg_for(tmp_path, assets=("BTC/USDC", "XYZ/USDT")))


def test_progress_is_reported_per_file(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path, asset, "feather")
    calls = []
    load_panel(cfg_for(tmp_path), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]


def test_parse_timeframe():
    assert parse_timeframe("15m") == pd.Timedelta(minutes=15)
    assert parse_timeframe("d") == pd.Timedelta(days=1)
    with pytest.raises(DataError, match=r"data\.timeframe '1M' is not understood"):
        parse_timeframe("1M")


# ------------------------------------------------------------------------------------------------
# one DataError per bad input


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


def test_non_numeric_price_in_csv(tmp_path, rng):
    df = make_bars(rng, 10).astype({"close": object})
    df.loc[2, "close"] = "n/a?"
    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv: column 'close' row 3 .* value 'n/a\?'"):
        load_panel(bad_file(tmp_path, df, "csv_iso"))


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


def test_files_on_different_bar_boundaries(tmp_path, rng):
    write(make_bars(rng, 10), tmp_path, "BTC/USDT", "feather")
    write(
        make_bars(rng, 10, start=START + pd.Timedelta(minutes=30)), tmp_path, "ETH/USDT", "feather"
    )
    with pytest.raises(
        DataError,
        match=r"ETH_USDT-1h\.feather: first bar "
        r"2024-01-01T00:30:00\+00:00 is not on the 1h grid",
    ):
        load_panel(cfg_for(tmp_path))


def test_panel_needs_two_bars(tmp_path, rng):
    write(make_bars(rng, 1), tmp_path, "BTC/USDT", "feather")
    cfg = DataConfig.model_construct(path=tmp_path, min_rows=1)  # bypasses min_rows >= 2
    with pytest.raises(DataError, match=r"the panel has 1 bar; need at least 2 1h bars"):
        load_panel(cfg)


# ------------------------------------------------------------------------------------------------
# funding (generated)


def write_funding(folder: Path, name: str, times: list[pd.Timestamp], rates: list[float]) -> None:
    n = len(times)
    pd.DataFrame(
        {
            "date": pd.DatetimeIndex(times).as_unit("ns"),
            "open": rates,
            "high": np.zeros(n),
            "low": np.zeros(n),
            "close": np.zeros(n),
            "volume": np.zeros(n),
        }
    ).to_feather(folder / name)


def test_funding_on_grid_jitter_and_next_bar(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path / "px", asset, "feather")
    fund = tmp_path / "fund"
    fund.mkdir()
    ms = pd.Timedelta(milliseconds=1)
    write_funding(
        fund,
        "BTC_USDT_USDT-8h-funding_rate.feather",
        [
            START - 8 * HOUR,
            START,
            START + 8 * HOUR + 7 * ms,
            START + 16 * HOUR - 3 * ms,
            START + 24 * HOUR + 30 * pd.Timedelta(minutes=1),
            START + 100 * HOUR,
        ],
        [9.0, 1e-4, 2e-4, 3e-4, 4e-4, 5.0],
    )
    write_funding(fund, "SOL_USDT_USDT-8h-funding_rate.feather", [START], [1e-4])
    p = load_panel(cfg_for(tmp_path / "px", funding_path=fund))
    f = p.funding[:, p.asset_index("BTC/USDT")]
    assert p.funding.shape == (48, 2) and p.funding.flags.f_contiguous
    expected = np.full(48, np.nan)
    expected[[0, 8, 16, 25]] = [1e-4, 2e-4, 3e-4, 4e-4]  # 24:30 goes to the *next* bar, 25:00
    np.testing.assert_array_equal(f, expected)  # before-start and after-end events dropped
    assert np.isnan(p.funding[:, p.asset_index("ETH/USDT")]).all()  # no file: NaN, not zero
    assert set(p.meta["funding_files"]) == {"BTC/USDT"}
    s = summarize(p).set_index("asset")["has_funding"]
    assert s["BTC/USDT"] and not s["ETH/USDT"]


def test_funding_maps_to_perpetuals_by_settle(tmp_path, rng):
    df = make_bars(rng, 24)
    df.to_feather(tmp_path / "BTC_USDT_USDT-1h-futures.feather")
    df.to_feather(tmp_path / "BTC_USDT-1h.feather")
    write_funding(tmp_path, "BTC_USDT_USDT-8h-funding_rate.feather", [START + 8 * HOUR], [1e-4])
    p = load_panel(cfg_for(tmp_path, funding_path=tmp_path))
    assert p.assets == ("BTC/USDT", "BTC/USDT:USDT")
    assert (p.funding[8] == 1e-4).all() and np.isnan(p.funding[9]).all()


def test_funding_path_missing(tmp_path, two_assets):
    write(two_assets["BTC/USDT"], tmp_path, "BTC/USDT", "feather")
    with pytest.raises(DataError, match=r"data\.funding_path .*nowhere does not exist"):
        load_panel(cfg_for(tmp_path, funding_path=tmp_path / "nowhere"))


def test_funding_folder_without_funding_files(tmp_path, two_assets):
    write(two_assets["BTC/USDT"], tmp_path, "BTC/USDT", "feather")
    with pytest.raises(DataError, match=r"no funding files; expected <BASE>_<QUOTE>_<SETTLE>-8h"):
        load_panel(cfg_for(tmp_path, funding_path=tmp_path))


def test_funding_file_validated(tmp_path, two_assets):
    write(two_assets["BTC/USDT"], tmp_path, "BTC/USDT", "feather")
    write_funding(
        tmp_path,
        "BTC_USDT_USDT-8h-funding_rate.feather",
        [START + 8 * HOUR, START + 8 * HOUR],
        [1e-4, 2e-4],
    )
    with pytest.raises(
        DataError,
        match=r"BTC_USDT_USDT-8h-funding_rate\.feather: duplicate "
        r"timestamp",
    ):
        load_panel(cfg_for(tmp_path, funding_path=tmp_path))


# ------------------------------------------------------------------------------------------------
# summary (generated, known answer)


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


# ------------------------------------------------------------------------------------------------
# real data (../shared/data)


@pytest.fixture(scope="module")
def spot_panel(spot_dir, futures_dir):
    t0 = time.perf_counter()
    panel = load_panel(DataConfig(path=spot_dir, funding_path=futures_dir))
    panel.meta["_load_seconds"] = time.perf_counter() - t0
    return panel


@pytest.mark.realdata
def test_real_spot_loads_fast_and_aligned(spot_panel):
    p = spot_panel
    assert p.n_assets == 136 and "BTC/USDT" in p.assets
    assert p.meta["_load_seconds"] < 2.0, p.meta["_load_seconds"]
    assert p.times[0] == START and p.times[-1] == pd.Timestamp("2024-09-07 01:00", tz="UTC")
    assert (np.diff(p.times.asi8) == HOUR.value).all()
    assert p.close.flags.f_contiguous and p.close.dtype == np.float64
    assert sum(p.meta["missing_bars"].values()) == 0  # the shared spot files have no gaps


@pytest.mark.realdata
def test_real_listings_and_two_end_times(spot_panel):
    s = summarize(spot_panel).set_index("asset")
    assert s.loc["ENA/USDT", "first_bar"] == pd.Timestamp("2024-04-02 08:00", tz="UTC")
    assert s.loc["DOGS/USDT", "first_bar"] == pd.Timestamp("2024-08-26 12:00", tz="UTC")
    ends = set(s["last_bar"])
    assert ends == {
        pd.Timestamp("2024-09-06 03:00", tz="UTC"),
        pd.Timestamp("2024-09-07 01:00", tz="UTC"),
    }
    ena = spot_panel.close[:, spot_panel.asset_index("ENA/USDT")]
    first = spot_panel.times.get_loc(pd.Timestamp("2024-04-02 08:00", tz="UTC"))
    assert np.isnan(ena[:first]).all() and np.isfinite(ena[first:]).all()
    early = s.index[s["last_bar"] == pd.Timestamp("2024-09-06 03:00", tz="UTC")][0]
    assert np.isnan(spot_panel.close[-22:, spot_panel.asset_index(early)]).all()


@pytest.mark.realdata
def test_real_funding_on_8h_bars_and_nan_before_history(spot_panel, futures_dir):
    p = spot_panel
    btc = p.funding[:, p.asset_index("BTC/USDT")]
    hit = np.isfinite(btc)
    assert set(p.times[hit].hour) == {0, 8, 16}
    raw = pa_feather.read_table(futures_dir / "BTC_USDT_USDT-8h-funding_rate.feather")
    np.testing.assert_array_equal(btc[hit], raw.column("open").to_numpy())  # every event, once
    eth = p.funding[:, p.asset_index("ETH/USDT")]
    start = p.times.get_loc(pd.Timestamp("2024-02-15 08:00", tz="UTC"))
    assert np.isnan(eth[:start]).all() and np.isfinite(eth[start])
    assert set(p.times[np.isfinite(eth)].hour) == {0, 8, 16}
    assert np.isnan(p.funding[:, p.asset_index("ENA/USDT")]).all()
    assert sorted(p.meta["funding_files"]) == [
        "BTC/USDT",
        "DOGE/USDT",
        "ETH/USDT",
        "SOL/USDT",
        "TON/USDT",
        "TRX/USDT",
        "XRP/USDT",
    ]


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


@pytest.mark.realdata
def test_real_futures_perpetuals(futures_dir):
    p = load_panel(
        DataConfig(
            path=futures_dir, funding_path=futures_dir, assets=("BTC/USDT:USDT", "TON/USDT:USDT")
        )
    )
    assert p.assets == ("BTC/USDT:USDT", "TON/USDT:USDT")
    ton = p.asset_index("TON/USDT:USDT")
    assert p.times[np.isfinite(p.close[:, ton])][0] == pd.Timestamp("2024-03-01 12:00", tz="UTC")
    assert np.isfinite(p.funding).sum(axis=0).tolist() == [751, 229]
    assert p.times[np.isfinite(p.funding[:, ton])][0] == pd.Timestamp("2024-07-31", tz="UTC")


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
