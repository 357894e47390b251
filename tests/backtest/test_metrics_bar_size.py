"""Annualised figures of one equity curve are the same whatever bar size it is sampled at."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import bars_per_year_of, performance_metrics


def test_sharpe_same_at_any_sampling():
    rng = np.random.default_rng(3)
    n = 96 * 365 * 2  # two years of 15-minute bars
    r = rng.normal(1.5 / (96 * 365), 0.4 / np.sqrt(96 * 365), n)  # Sharpe about 3.75
    times = pd.date_range("2024-01-01", periods=n + 1, freq="15min", tz="UTC")
    eq = pd.Series(100.0 * np.exp(np.r_[0.0, np.cumsum(r)]), index=times)
    fine = performance_metrics(eq)
    assert bars_per_year_of(eq.index) == 96 * 365
    assert fine["sharpe"] == pytest.approx(3.75, abs=1.5)
    for step, bpy in ((4, 8760), (16, 2190), (96, 365)):
        coarse = eq.iloc[::step]
        assert bars_per_year_of(coarse.index) == bpy
        m = performance_metrics(coarse)
        # the same path sampled coarser: the Sharpe moves by its estimation error only (~1/sqrt(2n)
        # of the volatility: 2.6% at 730 daily bars)
        assert m["sharpe"] == pytest.approx(fine["sharpe"], rel=0.08), step
        assert m["volatility"] == pytest.approx(fine["volatility"], rel=0.08), step
        assert m["annual_return"] == pytest.approx(fine["annual_return"], rel=0.02), step
    # an explicit factor still wins; a bare array is hourly
    arr = eq.iloc[::4].to_numpy()
    assert performance_metrics(arr)["sharpe"] == pytest.approx(
        performance_metrics(eq.iloc[::4])["sharpe"])
