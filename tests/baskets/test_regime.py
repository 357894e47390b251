"""Regime triggers: correlations by hand, planted spikes and breaks, point in time on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.baskets import (
    abs_return_z,
    basket_regime,
    basket_table,
    regime_events,
    rolling_pair_corr,
)


def test_rolling_pair_corr_and_vol_z_match_direct(rng):
    x = rng.standard_normal((500, 3)) * 0.01
    x[37, 1] = np.nan
    c = rolling_pair_corr(x, np.array([0, 1]), np.array([1, 2]), 100, 0.9)
    for t in (99, 150, 499):
        for p, (i, j) in enumerate(((0, 1), (1, 2))):
            w = pd.DataFrame(x[t - 99: t + 1, [i, j]])
            assert c[t, p] == pytest.approx(w.corr().iloc[0, 1], rel=1e-9)
    assert np.isnan(c[98]).all()
    z = abs_return_z(x[:, 0], 100)
    a = np.abs(x[:, 0])
    t = 321
    assert z[t] == pytest.approx((a[t] - a[t - 100:t].mean()) / a[t - 100:t].std(ddof=1))
    assert np.isnan(z[:100]).all()


def test_planted_spike_and_correlation_break_fire_the_triggers(clusters, table, cfg):
    panel, _ = clusters
    b1 = table[table["basket"] == "B01"]
    t_spike = panel.n_bars - 200
    close = panel.close.copy()
    cols = [panel.asset_index(a) for a in b1["asset"]]
    close[t_spike:, cols] *= 0.9  # a 10% drop of the whole basket in one hour
    # last 72 bars: the basket's first member decorrelates (its own noise)
    k = cols[0]
    r = np.diff(np.log(close[:, k]))
    rng = np.random.default_rng(0)
    r[-72:] = rng.standard_normal(72) * np.std(r)
    close[1:, k] = close[0, k] * np.exp(np.cumsum(r))
    from dataclasses import replace

    p2 = replace(panel, close=np.asfortranarray(close))
    reg = basket_regime(p2, b1[["basket", "asset", "weight"]], cfg.baskets)
    assert reg["vol_trigger"].iloc[t_spike] and reg["vol_z"].iloc[t_spike] > 10
    assert not reg["vol_trigger"].iloc[t_spike + 1]
    assert reg["corr_trigger"].iloc[-1] and reg["corr_shift"].iloc[-1] < -0.15
    assert reg["trigger"].iloc[-1]
    ev = regime_events(reg)
    assert pd.Timestamp(panel.times[t_spike]) in set(ev.loc[ev["trigger"] == "vol_spike", "time"])
    # untouched data: the same basket rarely fires
    quiet = basket_regime(panel, b1[["basket", "asset", "weight"]], cfg.baskets)
    assert quiet["vol_trigger"].mean() < 0.02


def test_baskets_and_triggers_unchanged_when_cut_at_t(real):
    panel, c = real
    at = pd.Timestamp("2024-06-15 13:00", tz="UTC")
    full = basket_table(panel, c, at)
    cut = basket_table(panel.cut(at), c, at)
    assert len(full) >= 9 and full["basket"].nunique() >= 3
    pd.testing.assert_frame_equal(full, cut)
    # the regime history over the full data agrees at T with the data cut at T
    cols = full[["basket", "asset", "weight"]]
    reg_full = basket_regime(panel, cols, c.baskets)
    reg_cut = basket_regime(panel.cut(at), cols, c.baskets)
    a = reg_full[reg_full["time"] <= at].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, reg_cut.reset_index(drop=True), rtol=1e-9)


def test_august_5_crash_fires_the_volatility_trigger(real):
    panel, c = real
    tab = basket_table(panel, c, "2024-07-01")
    reg = basket_regime(panel, tab[["basket", "asset", "weight"]], c.baskets)
    day = reg[(reg["time"] >= "2024-08-05") & (reg["time"] < "2024-08-06")]
    fired = day.groupby("basket")["vol_trigger"].any()
    assert fired.all()  # every basket formed on July 1 sees a spike on August 5
