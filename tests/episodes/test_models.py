"""Episodes under the Kalman hedge ratio and the cointegration filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import config_from_mapping
from revertible.data import load_panel
from revertible.episodes import build_episodes, pair_coint_pvalues, pair_episodes
from revertible.spread import SpreadSeries, kalman_series, pair_series
from revertible.universe import asset_eligibility, universe_pairs

pytestmark = [pytest.mark.realdata]
ASSETS = ["BTC/USDT", "ETH/USDT", "LTC/USDT", "BCH/USDT", "DOGE/USDT", "STRK/USDT"]


@pytest.fixture(scope="module")
def setup(spot_dir):
    base = {"data": {"path": str(spot_dir), "assets": ASSETS},
            "universe": {"min_abs_corr": 0.3}, "sizing": {"min_abs_corr_exit": 0.3}}
    panel = load_panel(config_from_mapping(base).data)
    return base, panel


def _cfg(base, **sections):
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in sections.items():
        merged.setdefault(k, {}).update(v)
    return config_from_mapping(merged)


def test_kalman_episodes_follow_the_detector_on_kalman_series(setup):
    base, panel = setup
    cfg = _cfg(base, spread={"beta_model": "kalman"})
    eps = build_episodes(panel, cfg)
    ols = build_episodes(panel, _cfg(base))
    assert len(eps) > 100 and not np.allclose(eps["beta"].median(), ols["beta"].median())
    elig = asset_eligibility(panel, cfg.universe)
    logp = panel.log_close()
    ia, ib = universe_pairs(panel.assets)
    ks = kalman_series(logp, ia, ib, 720, 72, 0.9, 1e-6, 1e-4)
    corr = pair_series(logp, ia, ib, corr_window=720)[:, 5]
    for p in range(len(ia)):
        i, j = ia[p], ib[p]
        mask = elig[:, i] & elig[:, j] & (np.abs(np.nan_to_num(corr[p])) >= 0.3)
        ref = pair_episodes(logp[:, i], logp[:, j], SpreadSeries(*ks[p, :5]), mask)
        got = eps[(eps["asset_a"] == panel.assets[i]) & (eps["asset_b"] == panel.assets[j])]
        assert len(got) == len(ref)
        np.testing.assert_array_equal(panel.times[ref["entry_idx"]], got["entry_time"].to_numpy())
        np.testing.assert_array_equal(ref["beta"].to_numpy(), got["beta"].to_numpy())
        np.testing.assert_array_equal(ref["exit_reason"].to_numpy(), got["exit_reason"].to_numpy())
    # point in time: episodes entered and closed before T are the same on the data cut at T
    cut_t = panel.times[4000]
    early = build_episodes(panel.cut(cut_t), cfg)
    closed = eps[(eps["exit_time"] <= cut_t) & (eps["exit_reason"] != "open")]
    mine = early[early["exit_reason"] != "open"]
    key = ["asset_a", "asset_b", "entry_time"]
    pd.testing.assert_frame_equal(closed[key + ["beta", "label"]].reset_index(drop=True),
                                  mine[mine["exit_time"] <= cut_t][key + ["beta", "label"]]
                                  .reset_index(drop=True))


def test_coint_filter_keeps_only_cointegrated_entries(setup):
    base, panel = setup
    allep = build_episodes(panel, _cfg(base))
    cfg = _cfg(base, universe={"max_coint_pvalue": 0.2})
    kept = build_episodes(panel, cfg)
    assert 0 < len(kept) < len(allep)
    key = ["asset_a", "asset_b", "entry_time"]
    both = kept.merge(allep, on=key, suffixes=("", "_all"))
    assert len(both) == len(kept)  # a subset: the filter decides what is kept, not detection
    np.testing.assert_array_equal(both["label"].to_numpy(float, na_value=np.nan),
                                  both["label_all"].to_numpy(float, na_value=np.nan))
    col = {a: k for k, a in enumerate(panel.assets)}
    ia = kept["asset_a"].map(col).to_numpy()
    ib = kept["asset_b"].map(col).to_numpy()
    t = panel.times.searchsorted(kept["entry_time"])
    pv = pair_coint_pvalues(panel, cfg, ia, ib)
    assert (pv[np.arange(len(kept)), t] <= 0.2).all()
