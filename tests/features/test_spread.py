"""Spread features: planted half-lives and stationarity, unit invariance, the fused kernel."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.features import (
    FEATURE_GROUPS,
    build_features,
)
from revertible.synthetic import generate_market, simulate_ou_pair, simulate_random_walk_pair

from .support import make_episodes, make_panel


def test_half_life_and_stationarity_recover_planted_ou(cfg):
    n, beta = 6000, 0.8
    a, b = simulate_ou_pair(n, half_life=12, beta=beta, sigma_spread=0.003, seed=3)
    ra, rb = simulate_random_walk_pair(n, beta=beta, sigma_spread=0.003, seed=4)
    panel = make_panel(np.exp(np.column_stack([a, b, ra, rb])))
    entries = range(800, n, 100)
    rows = [(0, 1, t, np.nan, None) for t in entries] + [(2, 3, t, np.nan, None) for t in entries]
    f = build_features(panel, make_episodes(panel, rows), cfg)
    ou, rw = f.iloc[: len(entries)], f.iloc[len(entries) :]
    assert abs(ou["spread_half_life_long"].median() - 12) < 2.0
    assert abs(ou["spread_ar1_long"].median() - 0.5 ** (1 / 12)) < 0.01
    assert ou["spread_half_life_long"].between(6, 24).all()
    assert ou["spread_adf_t_long"].median() < -3.5 and rw["spread_adf_t_long"].median() > -2.5
    phi = 0.5 ** (1 / 12)  # OU: VR(q) = (1 - phi**q) / (q * (1 - phi))
    for q in (6, 24):
        assert abs(ou[f"spread_vr{q}_long"].median() - (1 - phi**q) / (q * (1 - phi))) < 0.06
    assert 0.7 < rw["spread_vr24_long"].median() < 1.3
    # half-lives are clipped at the window and NaN when the fitted AR(1) is not mean-reverting
    hl = rw["spread_half_life_long"]
    assert (hl.dropna() <= cfg.features.trailing_bars).all()
    assert hl.isna().equals(rw["spread_ar1_long"] >= 1)


def test_spread_and_pair_features_are_unit_invariant(cfg):
    a, b = simulate_ou_pair(3000, half_life=8, beta=1.3, seed=5)
    rows = [(0, 1, t, np.nan, None) for t in range(2200, 3000, 37)]
    base = make_panel(np.exp(np.column_stack([a, b])))
    scaled = make_panel(np.exp(np.column_stack([a, b])) * [1000.0, 0.01])
    f1 = build_features(base, make_episodes(base, rows), cfg)
    f2 = build_features(scaled, make_episodes(scaled, rows), cfg)
    cols = [c for g in ("divergence", "spread", "relationship") for c in FEATURE_GROUPS[g]]
    cols = [c for c in cols if c != "bars_since_prev_episode"] + ["vol_ratio_a", "spikes_b"]
    assert f1[cols].notna().all().all()
    np.testing.assert_allclose(f2[cols], f1[cols], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("windows", [(720, 168, (6, 24)), (100, 300, (2, 5, 50))])
def test_fused_spread_kernel_equals_the_direct_form(windows, rng):
    """The spread family's fused passes give the direct two-pass sums bit for bit."""
    from revertible.features._spread import _spread_kernel, _spread_kernel_reference
    from revertible.spread import min_obs

    long, short, lags = windows
    panel, _ = generate_market(n_assets=8, n_bars=24 * 120, seed=5, missing_frac=0.01)
    logp = panel.log_close()
    assert np.isnan(logp).any()  # late listings and missing bars inside the windows
    n = 4000
    ia = rng.integers(0, 8, n)
    ib = (ia + rng.integers(1, 8, n)) % 8
    t = rng.integers(0, panel.n_bars, n)
    t[:50] = np.arange(50)  # windows cut by the first bar
    beta = rng.normal(0.8, 0.5, n)
    sgn = rng.choice([-1.0, 1.0], n)
    args = (logp, ia, ib, t, beta, sgn, long, min_obs(long, 0.9), short, min_obs(short, 0.9),
            np.asarray(lags, np.int64), 0.5)
    k = 5 + len(lags)
    fast, ref = np.empty((n, 2 * k)), np.empty((n, 2 * k))
    _spread_kernel(*args, fast)
    _spread_kernel_reference(*args, ref)
    assert np.isfinite(ref).mean() > 0.5 and np.isnan(ref).any()
    np.testing.assert_array_equal(fast, ref)
