"""The feature table: point in time on real data, shape, dtypes, NaN policy, groups, config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revertible.config import config_from_mapping, load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes
from revertible.features import (
    FEATURE_DESCRIPTIONS,
    FEATURE_GROUPS,
    build_features,
    feature_groups,
    feature_names,
)
from revertible.synthetic import generate_market

from .support import make_episodes, make_panel

REPO = Path(__file__).resolve().parents[2]


# the spot assets with perpetual funding data (BTC ... XRP) and 18 others, one listed in April
REAL_ASSETS = [
    f"{a}/USDT"
    for a in (
        "BTC ETH SOL DOGE XRP TON TRX AVAX LINK LTC BCH ATOM NEAR OP ARB APT SUI INJ FET "
        "MATIC ETC DYDX SHIB PEPE ENA"
    ).split()
]


CUTS = ["2024-05-15 00:00", "2024-07-01 13:00", "2024-08-20 07:00"]


@pytest.mark.realdata
@pytest.mark.slow
def test_point_in_time_on_real_data(spot_dir, monkeypatch):
    """Features of every episode entered by T are bit-identical on the full and the cut panel."""
    monkeypatch.setenv("REVERTIBLE_DATA", str(spot_dir.parent))  # also locates funding_path
    cfg = load_config(
        REPO / "configs" / "binance-spot-1h.yaml",
        overrides=[f"data.assets=[{','.join(REAL_ASSETS)}]"],
        data=str(spot_dir),
    )
    assert cfg.data.funding_path is not None and cfg.features.use_funding
    panel = load_panel(cfg.data)
    assert np.isfinite(panel.funding).any(axis=0).sum() >= 5
    episodes = build_episodes(panel, cfg)
    full = build_features(panel, episodes, cfg)
    assert list(full.columns) == feature_names(cfg)
    # the 30-day correlation is the eligibility correlation of the episode kernel, bit for bit
    np.testing.assert_array_equal(full["corr_30d"], episodes["corr_entry"])
    for name in full.columns:  # every feature is computed somewhere
        assert full[name].notna().any(), name
    key = ["asset_a", "asset_b", "entry_time"]
    for cut in CUTS:
        until = pd.Timestamp(cut, tz="UTC")
        past = panel.cut(until)
        assert past.n_bars < panel.n_bars
        ep_cut = build_episodes(past, cfg)
        feat_cut = build_features(past, ep_cut, cfg)
        before = (episodes["entry_time"] <= until).to_numpy()
        before_cut = (ep_cut["entry_time"] <= until).to_numpy()
        assert before.sum() > 1000 and before_cut.all()
        pd.testing.assert_frame_equal(
            episodes.loc[before, key].reset_index(drop=True),
            ep_cut.loc[before_cut, key].reset_index(drop=True),
        )
        assert feat_cut["funding_diff"].notna().sum() > 50  # the funding group is exercised
        np.testing.assert_array_equal(
            full.to_numpy()[before], feat_cut.to_numpy()[before_cut], err_msg=f"cut at {cut}"
        )


def test_shape_order_dtypes_and_nan_policy(cfg):
    panel, _ = generate_market(n_assets=8, n_bars=24 * 200, seed=3)
    eps = build_episodes(panel, cfg)
    assert len(eps) > 100
    f = build_features(panel, eps, cfg)
    assert list(f.columns) == feature_names(cfg)
    assert (f.dtypes == np.float64).all() and f.index.equals(eps.index)
    # rows do not depend on the table's order or index
    shuffled = eps.sample(frac=1.0, random_state=1)
    shuffled.index = shuffled.index + 1000
    g = build_features(panel, shuffled, cfg)
    assert g.index.equals(shuffled.index)
    np.testing.assert_array_equal(g.to_numpy(), f.loc[shuffled.index - 1000].to_numpy())
    # missing is NaN, never 0: no funding data, first episode of a pair, unfilled windows
    assert f[FEATURE_GROUPS["funding"]].isna().all().all()
    first = eps.groupby(["asset_a", "asset_b"]).head(1).index
    assert f.loc[first, "bars_since_prev_episode"].isna().all()
    assert f.loc[first, "pair_n_prev"].eq(0).all()
    assert not np.isinf(f.to_numpy()).any()
    np.testing.assert_array_equal(f["abs_z_entry"], eps["z_entry"].abs())
    np.testing.assert_array_equal(f["hour"], eps["entry_time"].dt.hour)
    assert (f["z_velocity_1"] > 0).all()  # an entry crosses the threshold outward
    empty = build_features(panel, eps.iloc[:0], cfg)
    assert empty.shape == (0, len(feature_names(cfg)))


def test_feature_groups_are_complete_and_unique(cfg):
    names = feature_names(cfg)
    assert len(names) == len(set(names)) == len(FEATURE_DESCRIPTIONS)
    assert set(FEATURE_GROUPS) == {
        "divergence", "spread", "relationship", "regime", "liquidity", "funding", "flow",
        "calendar", "history",
    }
    assert names == [n for g in FEATURE_GROUPS.values() for n in g]


def test_tunable_windows_come_from_the_config():
    """Windows and lags in FeatureConfig change the columns, and every column gets values."""
    panel, _ = generate_market(n_assets=6, n_bars=24 * 120, seed=4)
    base = load_config("configs/demo.yaml", data="unused")
    eps = build_episodes(panel, base)
    over = {"short_bars": 96, "z_lags": (2, 12), "vr_lags": (4,), "corr_days": (20, 45),
            "corr_short_days": 5, "flow_lags": (3, 12), "prior_strength": 5.0,
            "market_min_assets": 4}
    cfg = base.model_copy(update={"features": base.features.model_copy(update=over)})
    f = build_features(panel, eps, cfg)
    names = feature_names(cfg)
    assert list(f.columns) == names
    for col in ("spread_z_96", "beta_std_96", "z_velocity_12", "spread_vr4_long", "corr_20d",
                "corr_45d", "corr_shift_5d", "move_a_3", "idio_a_12"):
        assert col in names and f[col].notna().any(), col
    assert "spread_z_168" not in names and "z_velocity_1" not in names
    assert names == [n for g in feature_groups(cfg).values() for n in g]
    # a setting that does not rename a column still changes its values
    g = build_features(panel, eps, base)
    assert not np.allclose(f["pair_revert_rate_shrunk"], g["pair_revert_rate_shrunk"],
                           equal_nan=True)
    # the shared columns with unchanged definitions are unchanged
    np.testing.assert_array_equal(f["spread_z_long"], g["spread_z_long"])


def test_feature_config_rejects_bad_lags():
    with pytest.raises(Exception, match="distinct positive"):
        config_from_mapping({"data": {"path": "."}, "features": {"z_lags": [6, 6]}})
    with pytest.raises(Exception, match="flow_lags"):
        config_from_mapping({"data": {"path": "."}, "features": {"flow_lags": [6]}})


def test_bad_input_names_the_rule(rng, cfg):
    panel = make_panel(np.exp(np.cumsum(rng.normal(0, 0.01, (300, 2)), axis=0)))
    eps = make_episodes(panel, [(0, 1, 100, np.nan, None)])
    with pytest.raises(ValueError, match="missing column.*z_entry"):
        build_features(panel, eps.drop(columns="z_entry"), cfg)
    late = eps.assign(entry_time=panel.times[-1] + pd.Timedelta(hours=5))
    with pytest.raises(ValueError, match="not a bar of the panel"):
        build_features(panel, late, cfg)
    other = eps.assign(asset_b="ZZZ/USDT")
    with pytest.raises(ValueError, match="'ZZZ/USDT' is not an asset"):
        build_features(panel, other, cfg)


def test_features_do_not_depend_on_the_series_block(cfg, monkeypatch):
    """Pair series in blocks of one pair give the same features as one block of all pairs."""
    import revertible.features._relationship as rel

    panel, _ = generate_market(n_assets=7, n_bars=24 * 150, seed=4)
    eps = build_episodes(panel, cfg)
    assert eps[["asset_a", "asset_b"]].drop_duplicates().shape[0] >= 10
    whole = build_features(panel, eps, cfg)
    monkeypatch.setattr(rel, "SERIES_BLOCK_BYTES", 1)
    seen = []
    one = build_features(panel, eps, cfg, progress=lambda done, total: seen.append(done))
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 10
    pd.testing.assert_frame_equal(whole, one, check_exact=True)
