"""Baskets: planted clusters recovered, size band and weights held, stress by hand, correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from revertible.baskets import (
    basket_table,
    basket_weights,
    corr_matrix,
    stress_losses,
)
from revertible.config import config_from_mapping


def test_planted_clusters_are_recovered(clusters, table):
    panel, truth = clusters
    lab = table.set_index("asset")["basket"]
    planted = truth[truth > 0]
    pred = [lab.get(a, f"none:{a}") for a in planted.index]
    assert adjusted_rand_score(planted.to_numpy(), pred) >= 0.9
    # noise assets (market factor only, corr 0.2) join no basket
    assert not set(truth[truth == 0].index) & set(table["asset"])
    assert table["basket"].nunique() == 4


def test_baskets_respect_size_band_and_weights(clusters, table, cfg):
    panel, _ = clusters
    low, high = cfg.baskets.corr_band
    sizes = table.groupby("basket").size()
    assert sizes.between(cfg.baskets.min_size, cfg.baskets.max_size).all()
    assert (table["min_corr"] >= low).all() and (table["max_corr"] <= high).all()
    np.testing.assert_allclose(table.groupby("basket")["weight"].sum(), 1.0, rtol=0, atol=1e-12)
    assert (table["weight"] > 0).all()
    # the band is checked on the mean of the 30/60/90-day correlations, recomputed here directly
    r = np.diff(np.log(panel.close), axis=0)
    for _, g in table.groupby("basket"):
        cols = [panel.asset_index(a) for a in g["asset"]]
        mats = [np.corrcoef(r[-d * 24:, cols].T) for d in cfg.baskets.windows_days]
        off = np.mean(mats, axis=0)[~np.eye(len(cols), dtype=bool)]
        assert low <= off.min() and off.max() <= high
        np.testing.assert_allclose(g["mean_corr"].iloc[0], off.mean(), rtol=1e-9)


def test_band_too_tight_or_size_too_large_gives_no_or_smaller_baskets(clusters):
    panel, _ = clusters
    strict = config_from_mapping({"data": {"path": "."}, "baskets": {"corr_band": [0.8, 0.9]}})
    assert basket_table(panel, strict).empty  # planted within-cluster correlation is 0.75
    big = config_from_mapping({"data": {"path": "."}, "baskets": {"min_size": 5}})
    assert basket_table(panel, big).empty  # clusters have 4 members
    pairs = config_from_mapping(
        {"data": {"path": "."}, "baskets": {"min_size": 2, "max_size": 2}})
    t = basket_table(panel, pairs)
    assert (t.groupby("basket").size() == 2).all() and t["basket"].nunique() == 8


def test_one_asset_twice_is_skipped():
    # A and A' correlate at 0.97 (above the band): only one of them enters the basket
    c = np.array([[1, .97, .7, .7], [.97, 1, .7, .7], [.7, .7, 1, .7], [.7, .7, .7, 1.]])
    from revertible.baskets import build_baskets

    cfg = config_from_mapping({"data": {"path": "."}}).baskets
    out = build_baskets(c, cfg)
    assert len(out) == 1
    members = out[0][1]
    assert len(members) == 3 and not {0, 1} <= set(members)


def test_weights_by_hand():
    c = np.array([[1, .8, .6], [.8, 1, .7], [.6, .7, 1.]])
    # 1 - mean corr with the rest: 0.3, 0.25, 0.35; sum 0.9
    np.testing.assert_allclose(basket_weights(c), [0.3 / 0.9, 0.25 / 0.9, 0.35 / 0.9])


def test_stress_loss_by_hand_three_assets():
    w = np.array([0.5, 0.3, 0.2])
    v = np.array([0.02, 0.03, 0.05])
    c = np.array([[1, .6, .7], [.6, 1, .8], [.7, .8, 1.]])
    # w_i v_i = 0.010, 0.009, 0.010
    y = [0.010, 0.009, 0.010]
    var = (y[0] ** 2 + y[1] ** 2 + y[2] ** 2
           + 2 * (y[0] * y[1] * .6 + y[0] * y[2] * .7 + y[1] * y[2] * .8))
    var95 = y[0] ** 2 + y[1] ** 2 + y[2] ** 2 + 2 * .95 * (y[0] * y[1] + y[0] * y[2] + y[1] * y[2])
    now, stress = stress_losses(w, v, c, shock_sigma=3.0, stress_corr=0.95)
    assert now == pytest.approx(3 * np.sqrt(var), rel=1e-12)
    assert stress == pytest.approx(3 * np.sqrt(var95), rel=1e-12)
    assert stress > now


def test_corr_matrix_matches_pandas_with_gaps(rng):
    x = rng.standard_normal((300, 5))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:200, 4] = np.nan
    got = corr_matrix(x, min_obs=150)
    want = pd.DataFrame(x).corr(min_periods=150).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
