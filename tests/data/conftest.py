"""Fixtures of the data tests: two generated assets, the real spot panel."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from revertible.config import DataConfig
from revertible.data import load_panel

from .support import HOUR, START, make_bars


@pytest.fixture
def two_assets(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """BTC: 48 full bars. ETH: lists at bar 5, 3-bar gap at bars 20-22, ends at bar 40."""
    btc = make_bars(rng, 48, price=40_000.0)
    eth = make_bars(rng, 36, start=START + 5 * HOUR, price=2_000.0)
    eth = eth.drop(index=[15, 16, 17]).reset_index(drop=True)
    return {"BTC/USDT": btc, "ETH/USDT": eth}


@pytest.fixture(scope="session")
def spot_panel(spot_dir, futures_dir):
    t0 = time.perf_counter()
    panel = load_panel(DataConfig(path=spot_dir, funding_path=futures_dir))
    panel.meta["_load_seconds"] = time.perf_counter() - t0
    return panel
