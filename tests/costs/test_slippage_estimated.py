"""Per-asset slippage from the Abdi-Ranaldo high-low spread: point in time, larger when illiquid."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from revertible.config import CostConfig
from revertible.costs import abdi_ranaldo_spread, signal_round_trip, slippage_per_fill, volume_cap
from revertible.data import Panel


def _market(rng, spreads, n=3000):
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.005, (n, len(spreads))), axis=0))
    side = rng.choice([-1.0, 1.0], size=mid.shape)
    close = mid * (1 + side * np.asarray(spreads) / 2)
    t = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    names = tuple(f"X{i}/USDT" for i in range(len(spreads)))
    return Panel(t, names, close, mid * 1.004, mid / 1.004, close, close, close)


def test_estimate_recovers_spreads_and_is_point_in_time(rng):
    p = _market(rng, [0.0005, 0.002, 0.008])
    s = abdi_ranaldo_spread(p, 30)
    med = np.nanmedian(s[1000:], axis=0)
    assert med[0] < med[1] < med[2]
    assert med[2] == pytest.approx(0.008, rel=0.25) and med[1] == pytest.approx(0.002, rel=0.5)
    np.testing.assert_array_equal(abdi_ranaldo_spread(p.slice_bars(0, 1500), 30), s[:1500])
    assert np.isnan(s[:360]).all()  # fewer than half of the 720-bar window's terms


def test_slippage_models(rng):
    p = _market(rng, [0.0001, 0.008])
    const = slippage_per_fill(p, CostConfig())
    assert (const == 2e-4).all()
    est = slippage_per_fill(p, CostConfig(slippage_model="estimated"))
    assert (est >= 2e-4).all()  # slippage_bps is the floor, and stands in before the window
    assert np.median(est[1000:, 1]) == pytest.approx(0.004, rel=0.25)
    rt = signal_round_trip(CostConfig(), est[2000, :1], est[2000, 1:], np.array([1.0]))
    assert rt[0] == pytest.approx(2 * (0.001 + est[2000, 0]) + 2 * (0.001 + est[2000, 1]))
    assert volume_cap(np.array([1e5]), np.array([2e5]), 0.25)[0] == 5e4


@pytest.mark.realdata
def test_least_liquid_quintile_pays_more(spot_dir):
    sys.path.insert(0, str(REPO / "research"))
    try:
        from slippage_quintiles import quintile_table
    finally:
        sys.path.pop(0)
    tab = quintile_table(str(spot_dir), 30)
    assert len(tab) == 5 and tab["median_daily_qv"].is_monotonic_increasing
    assert tab["mean_slip_bp"].iloc[0] > 3 * tab["mean_slip_bp"].iloc[-1]
