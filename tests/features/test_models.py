"""Spread-model feature family: the OU fit in time units, the same at any bar size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import config_from_mapping
from revertible.data import Panel, resample_panel
from revertible.features import MODEL_FEATURES, build_features, feature_names, ou_fit
from revertible.synthetic import generate_market, simulate_ou_pair


def test_ou_fit_half_life_in_hours_at_any_bar_size():
    a, b = simulate_ou_pair(96 * 600, half_life=4 * 24, sigma_spread=0.001, seed=11)  # 24 h
    t = pd.date_range("2024-01-01", periods=len(a), freq="15min", tz="UTC")
    x = np.exp(np.column_stack([a, b]))
    fine = Panel(t, ("A/USDT", "B/USDT"), x, x, x, x, x, x)
    fits = {}
    for rule in (None, "1h", "4h"):
        p = fine if rule is None else resample_panel(fine, rule)
        s = np.log(p.close[:, 0]) - np.log(p.close[:, 1])
        fits[rule] = ou_fit(s, p.freq)
    for rule, f in fits.items():
        assert f["ou_half_life_hours"] == pytest.approx(24.0, rel=0.15), rule
        assert f["ou_speed_per_day"] == pytest.approx(np.log(2.0), rel=0.15), rule
        assert f["ou_eq_std"] == pytest.approx(fits[None]["ou_eq_std"], rel=0.05), rule


def test_ou_fit_random_walk_is_nan_or_slow(rng):
    f = ou_fit(np.cumsum(rng.normal(0, 0.01, 5000)))
    assert np.isnan(f["ou_half_life_hours"]) or f["ou_half_life_hours"] > 200


def test_family_in_the_feature_table(tmp_path):
    from revertible.episodes import build_episodes


    panel, _ = generate_market(n_assets=6, n_bars=24 * 150, seed=3)
    cfg = config_from_mapping({"data": {"path": str(tmp_path)},
                               "universe": {"min_history_days": 30, "min_abs_corr": 0.3,
                                            "coint_window_days": 20},
                               "sizing": {"min_abs_corr_exit": 0.3},
                               "features": {"use_spread_models": True}})
    eps = build_episodes(panel, cfg)
    feats = build_features(panel, eps, cfg)
    assert list(MODEL_FEATURES) == feature_names(cfg)[-len(MODEL_FEATURES):]
    assert "coint_pvalue" not in feature_names(cfg.model_copy(update={
        "features": cfg.features.model_copy(update={"use_spread_models": False})}))
    assert feats["ou_half_life_hours"].notna().mean() > 0.8
    p = feats["coint_pvalue"]
    assert p.notna().mean() > 0.5 and ((p >= 0) & (p <= 1) | p.isna()).all()


def test_kalman_runs_features_read_the_kalman_z(tmp_path):
    from revertible.episodes import build_episodes, kalman_config

    panel, _ = generate_market(n_assets=6, n_bars=24 * 120, seed=5)
    cfg = kalman_config(config_from_mapping({
        "data": {"path": str(tmp_path)}, "universe": {"min_history_days": 20,
                                                      "min_abs_corr": 0.3},
        "sizing": {"min_abs_corr_exit": 0.3}}))
    eps = build_episodes(panel, cfg)
    feats = build_features(panel, eps, cfg)
    # z_velocity_k = sign(z_t) (z_t - z_(t-k)) / k with the z that opened the episode: at k = 1
    # the previous bar was below the entry threshold, so the velocity is positive
    v = feats["z_velocity_1"].dropna()
    assert len(v) > 20 and (v > 0).all()
