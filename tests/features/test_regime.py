"""Regime and liquidity features against a pandas reference; spikes flagged per leg."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revertible.features import (
    build_features,
)

from .support import make_episodes, make_panel


def test_regime_and_liquidity_match_pandas_reference(rng, cfg):
    n, m = 2000, 5
    logp = np.cumsum(rng.normal(0, 0.01, (n, m)), axis=0)
    logp[:300, 4] = np.nan  # a late listing
    logp[1200:1205, 2] = np.nan  # a gap
    qv = np.where(np.isfinite(logp), np.exp(rng.normal(13, 1, (n, m))), np.nan)
    panel = make_panel(np.exp(logp), quote_volume=qv)
    rows = [(0, 1, t, np.nan, None) for t in (500, 1000, 1500, 1999)]
    rows += [(2, 4, t, np.nan, None) for t in (700, 1203, 1210)]
    f = build_features(panel, make_episodes(panel, rows), cfg)

    fc = cfg.features
    s, lg = fc.regime_short_bars, fc.regime_long_bars
    r = pd.DataFrame(logp).diff()
    vol = r.rolling(s, min_periods=int(np.ceil(0.9 * s))).std() / r.rolling(
        lg, min_periods=int(np.ceil(0.9 * lg))
    ).std()
    ret_s = pd.DataFrame(logp).diff(s)
    q = pd.DataFrame(qv)
    qs = q.rolling(s, min_periods=int(np.ceil(0.9 * s))).mean()
    ql = q.rolling(lg, min_periods=int(np.ceil(0.9 * lg))).mean()
    for k, (ia, ib, t, _, _) in enumerate(rows):
        np.testing.assert_allclose(f["vol_ratio_a"].iloc[k], vol.iloc[t, ia], rtol=1e-7)
        np.testing.assert_allclose(f["vol_ratio_b"].iloc[k], vol.iloc[t, ib], rtol=1e-7)
        np.testing.assert_allclose(f["mkt_vol_ratio"].iloc[k], vol.iloc[t].median(), rtol=1e-7)
        np.testing.assert_allclose(f["mkt_dispersion"].iloc[k], ret_s.iloc[t].std(), rtol=1e-7)
        np.testing.assert_allclose(f["qv_ratio_a"].iloc[k], qs.iloc[t, ia] / ql.iloc[t, ia])
        np.testing.assert_allclose(f["log_qv_a"].iloc[k], np.log1p(s * qs.iloc[t, ia]))
        np.testing.assert_allclose(f["log_qv_b"].iloc[k], np.log1p(s * qs.iloc[t, ib]))
    np.testing.assert_array_equal(f["log_qv_min"], np.minimum(f["log_qv_a"], f["log_qv_b"]))
    assert np.isnan(f["log_qv_a"].iloc[5])  # leg A inside its gap: its 24-bar window is short
    # the late-listed leg has no 30-day norm before 300 + 648 bars: unknown, not 0
    assert np.isnan(f["vol_ratio_b"].iloc[4]) and np.isnan(f["qv_ratio_b"].iloc[4])
    assert np.isfinite(f["vol_ratio_b"].iloc[6])


def test_spike_is_flagged_for_its_leg_only(cfg):
    rng = np.random.default_rng(7)
    n, jump = 2000, 1500
    logp = np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0)
    logp[jump:, 0] += 0.08  # an 8-sigma one-bar move of leg A
    panel = make_panel(np.exp(logp))
    rows = [(0, 1, t, np.nan, None) for t in (jump - 1, jump, jump + 5, jump + 23, jump + 24)]
    f = build_features(panel, make_episodes(panel, rows), cfg)
    # without the jump this seed has no 3-sigma bar in any of these windows
    np.testing.assert_array_equal(f["spikes_a"], [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(f["spikes_b"], [0, 0, 0, 0, 0])
    assert f["vol_ratio_a"].iloc[2] > 1.5 > f["vol_ratio_a"].iloc[0]
    assert np.isnan(f["mkt_vol_ratio"]).all()  # two assets: no market cross-section
