"""Alignment on one UTC bar grid, forward fill, the real spot and futures panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import DataConfig
from revertible.data import (
    load_panel,
    summarize,
)
from revertible.errors import DataError

from .support import FIELDS, HOUR, START, cfg_for, make_bars, write


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


def test_progress_is_reported_per_file(tmp_path, two_assets):
    for asset, df in two_assets.items():
        write(df, tmp_path, asset, "feather")
    calls = []
    load_panel(cfg_for(tmp_path), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]


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
