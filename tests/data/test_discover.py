"""Discovery: file names -> assets, ignored files, asset selection, timeframes."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from revertible.data import (
    discover_files,
    load_panel,
    parse_timeframe,
)
from revertible.errors import DataError

from .support import HOUR, START, cfg_for, make_bars, write


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


def test_discover_a_parent_folder_names_the_subfolder_that_holds_the_files(tmp_path, rng):
    (tmp_path / "spot").mkdir()
    (tmp_path / "other").mkdir()
    make_bars(rng, 4).to_feather(tmp_path / "spot" / "BTC_USDT-1h.feather")
    make_bars(rng, 4).to_feather(tmp_path / "other" / "BTC_USDT-4h.feather")  # not this bar size
    with pytest.raises(DataError, match=r"no price files for timeframe 1h; .*; its subfolder "
                       + re.escape(str(tmp_path / "spot")) + r" holds them: set data\.path "
                       r"\(or --data DIR\) to it$"):
        discover_files(tmp_path, "auto", "1h")


def test_discover_only_other_timeframes(tmp_path, rng):
    make_bars(rng, 4).to_feather(tmp_path / "BTC_USDT-4h.feather")
    with pytest.raises(
        DataError,
        match=r"no feather files for timeframe 1h; expected "
        r"<BASE>_<QUOTE>-1h\.feather",
    ):
        load_panel(cfg_for(tmp_path, format="feather"))


def test_files_of_a_finer_bar_size_point_at_resample(tmp_path, rng):
    # data.timeframe: 4h on 1h files: the way to 4h bars (data.resample) was not said
    make_bars(rng, 4).to_feather(tmp_path / "BTC_USDT-1h.feather")
    with pytest.raises(DataError) as err:
        load_panel(cfg_for(tmp_path, timeframe="4h"))
    text = str(err.value)
    assert "e.g. BTC_USDT-1h.feather: set data.timeframe to their bar size" in text, text
    assert "data.resample: 4h to build 4h bars from finer ones" in text, text


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


def test_parse_timeframe():
    assert parse_timeframe("15m") == pd.Timedelta(minutes=15)
    assert parse_timeframe("d") == pd.Timedelta(days=1)
    with pytest.raises(DataError, match=r"data\.timeframe '1M' is not understood"):
        parse_timeframe("1M")
