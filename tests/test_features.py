"""Point-in-time features: look-ahead on real data, known answers on generated data, NaN policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revertible.config import config_from_mapping, load_config
from revertible.data import Panel, load_panel
from revertible.episodes import build_episodes
from revertible.features import (
    FEATURE_DESCRIPTIONS,
    FEATURE_GROUPS,
    build_features,
    feature_groups,
    feature_names,
)
from revertible.spread import pair_spread
from revertible.synthetic import generate_market, simulate_ou_pair, simulate_random_walk_pair

REPO = Path(__file__).resolve().parents[1]
# the spot assets with perpetual funding data (BTC ... XRP) and 18 others, one listed in April
REAL_ASSETS = [
    f"{a}/USDT"
    for a in (
        "BTC ETH SOL DOGE XRP TON TRX AVAX LINK LTC BCH ATOM NEAR OP ARB APT SUI INJ FET "
        "MATIC ETC DYDX SHIB PEPE ENA"
    ).split()
]
CUTS = ["2024-05-15 00:00", "2024-07-01 13:00", "2024-08-20 07:00"]


@pytest.fixture
def cfg():
    return config_from_mapping({"data": {"path": "."}})


def make_panel(close, quote_volume=None, funding=None, start="2024-01-01"):
    close = np.asfortranarray(close, dtype=float)
    n, m = close.shape
    qv = np.full((n, m), 1e6) if quote_volume is None else quote_volume
    return Panel(
        times=pd.date_range(start, periods=n, freq="h", tz="UTC", unit="ns"),
        assets=tuple(f"A{i:02d}/USDT" for i in range(m)),
        open=close, high=close, low=close, close=close,
        volume=np.ones((n, m), order="F"), quote_volume=np.asfortranarray(qv, dtype=float),
        funding=None if funding is None else np.asfortranarray(funding, dtype=float),
    )


def make_episodes(panel, rows):
    """Episodes from ``(ia, ib, entry_bar, label, exit_bar)``; beta/z/std from the spread kernel."""
    logp = panel.log_close()
    out = []
    for ia, ib, t, label, exit_bar in rows:
        sp = pair_spread(logp[:, ia], logp[:, ib])
        out.append(
            {
                "asset_a": panel.assets[ia],
                "asset_b": panel.assets[ib],
                "entry_time": panel.times[t],
                "z_entry": sp.z[t] if np.isfinite(sp.z[t]) else 2.0,
                "beta": sp.beta[t] if np.isfinite(sp.beta[t]) else 1.0,
                "spread_mean": sp.mean[t],
                "spread_std": sp.std[t],
                "label": label,
                "exit_time": panel.times[exit_bar] if exit_bar is not None else pd.NaT,
            }
        )
    df = pd.DataFrame(out)
    df["label"] = df["label"].astype("Float64")
    df["exit_time"] = pd.to_datetime(df["exit_time"], utc=True)
    return df


# ---------------------------------------------------------------------------------- acceptance


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


# ---------------------------------------------------------------------------------- families


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


def test_funding_differential_carries_forward_only_and_stays_missing(rng, cfg):
    n = 600
    panel_prices = np.exp(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0))
    funding = np.full((n, 3), np.nan)
    ev_a = np.arange(96, 401, 8)  # leg A: events at 96, 104, ..., 400
    ev_b = np.arange(50, n, 8)  # leg B: events to the end; asset 2 has no funding at all
    funding[ev_a, 0] = rng.normal(1e-4, 5e-5, len(ev_a))
    funding[ev_b, 1] = rng.normal(-1e-4, 5e-5, len(ev_b))
    panel = make_panel(panel_prices, funding=funding)
    rows = [(0, 1, 90, np.nan, None), (0, 1, 205, np.nan, None), (0, 1, 424, np.nan, None),
            (0, 1, 425, np.nan, None), (0, 2, 205, np.nan, None), (0, 1, 96, np.nan, None)]
    eps = make_episodes(panel, rows)
    f = build_features(panel, eps, cfg)
    fa, fb = funding[:, 0], funding[:, 1]
    assert np.isnan(f["funding_diff"].iloc[0])  # A has no funding history yet at bar 90
    assert f["funding_diff"].iloc[1] == fa[200] - fb[202]
    assert f["funding_diff_mean3"].iloc[1] == pytest.approx(
        fa[[184, 192, 200]].mean() - fb[[186, 194, 202]].mean(), rel=1e-12
    )
    sgn, beta = np.sign(eps["z_entry"].iloc[1]), eps["beta"].iloc[1]
    assert f["funding_carry"].iloc[1] == pytest.approx(sgn * (fa[200] - beta * fb[202]))
    assert f["funding_diff"].iloc[2] == fa[400] - fb[418]  # 24 h old: still known
    assert np.isnan(f["funding_diff"].iloc[3])  # 25 h old: stale, unknown
    assert f[["funding_diff", "funding_diff_mean3", "funding_carry"]].iloc[4].isna().all()
    assert f["funding_diff"].iloc[5] == fa[96] - fb[90]  # an event at the entry bar counts
    assert np.isnan(f["funding_diff_mean3"].iloc[5])  # one event of A: no 3-event mean

    no_folder = make_panel(panel_prices)  # funding=None: the group exists, all unknown
    g = build_features(no_folder, eps, cfg)
    assert g[FEATURE_GROUPS["funding"]].isna().all().all()
    off = config_from_mapping({"data": {"path": "."}, "features": {"use_funding": False}})
    h = build_features(panel, eps, off)
    assert not set(FEATURE_GROUPS["funding"]) & set(h.columns)
    pd.testing.assert_frame_equal(h, f[h.columns])


def test_pair_history_counts_only_settled_labels(rng, cfg):
    panel = make_panel(np.exp(np.cumsum(rng.normal(0, 0.01, (400, 4)), axis=0)))
    rows = [
        (0, 1, 100, 1.0, 120),  # 0: settled before every later entry
        (0, 1, 130, 0.0, 200),  # 1: still running at the entry of row 3
        (0, 1, 140, np.nan, None),  # 2: open, never contributes a label
        (0, 1, 150, 1.0, 160),  # 3
        (0, 1, 210, np.nan, None),  # 4
        (2, 3, 50, 0.0, 90),  # 5: another pair, only in the global prior
        (2, 3, 300, 1.0, 301),  # 6
    ]
    eps = make_episodes(panel, rows)
    f = build_features(panel, eps, cfg)
    m = 20.0  # PRIOR_STRENGTH
    np.testing.assert_array_equal(f["pair_n_prev"], [0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(f["pair_n_resolved"], [0, 1, 1, 1, 3, 0, 1])
    np.testing.assert_array_equal(
        f["pair_revert_rate"], [np.nan, 1.0, 1.0, 1.0, 2 / 3, np.nan, 0.0]
    )
    np.testing.assert_array_equal(
        f["bars_since_prev_episode"], [np.nan, 30, 10, 10, 60, np.nan, 250]
    )
    # prior at 150: rows 0 (1) and 5 (0) settled -> 0.5; at 100: row 5 only -> 0.0
    assert f["pair_revert_rate_shrunk"].iloc[3] == pytest.approx((1 + m * 0.5) / (1 + m))
    assert f["pair_revert_rate_shrunk"].iloc[0] == pytest.approx(0.0)
    assert np.isnan(f["pair_revert_rate_shrunk"].iloc[5])  # nothing settled anywhere yet
    # scoring a subset with the full history gives the same row
    open_rows = eps[eps["label"].isna()]
    g = build_features(panel, open_rows, cfg, history=eps)
    pd.testing.assert_frame_equal(g, f.loc[open_rows.index])
    # a label settling later than the entry does not change the entry's features
    later = eps.copy()
    later.loc[2, "label"] = 0.0
    later.loc[2, "exit_time"] = panel.times[399]
    pd.testing.assert_frame_equal(build_features(panel, later, cfg), f)


# ---------------------------------------------------------------------------------- contract


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


# ---------------------------------------------------------------------------------- fast paths


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
