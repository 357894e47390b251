"""Funding rates: on the grid, to perpetuals by settle, validated; real 8-hour funding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.feather as pa_feather
import pytest

from revertible.data import (
    load_panel,
    summarize,
)
from revertible.errors import DataError

from .support import HOUR, START, cfg_for, make_bars, write


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
