"""Baskets: planted clusters recovered, band and sizes held, stress and book risk by hand,
point in time on real data, regime triggers, sectors, and bad input at the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from revertible.baskets import (
    abs_return_z,
    basket_regime,
    basket_table,
    basket_weights,
    book_risk,
    cap_scale,
    corr_matrix,
    regime_events,
    rolling_pair_corr,
    sector_pairs,
    stress_covariance,
    stress_losses,
    trailing_covariance,
    within_book_cap,
)
from revertible.cli import app
from revertible.config import config_from_mapping
from revertible.errors import ConfigError
from revertible.synthetic import generate_cluster_market, write_market
from revertible.universe import DEFAULT_SECTORS, sector_assets, sector_map

runner = CliRunner()


@pytest.fixture(scope="module")
def clusters():
    return generate_cluster_market(n_clusters=4, cluster_size=4, n_noise=4, n_bars=24 * 120,
                                   seed=3)


@pytest.fixture(scope="module")
def cfg():
    return config_from_mapping({"data": {"path": "."}})


@pytest.fixture(scope="module")
def table(clusters, cfg):
    return basket_table(clusters[0], cfg)


# ---------------------------------------------------------------------------------------------
# known answer


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


# ---------------------------------------------------------------------------------------------
# weights, stress and book risk by hand


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


def _cov3():
    idx = ["A", "B", "C"]
    sd = np.array([0.01, 0.02, 0.03])
    c = np.array([[1, .5, .2], [.5, 1, .4], [.2, .4, 1.]])
    return pd.DataFrame(c * np.outer(sd, sd), index=idx, columns=idx)


def test_book_risk_by_hand_three_assets():
    cov = _cov3()
    # dollar vols y = x * sd = 1, 2, -1.5
    r = book_risk({"A": 100.0, "B": 100.0, "C": -50.0}, cov)
    assert r["book_var"] == pytest.approx(1 + 4 + 2.25 + 2 * (1 * 2 * .5 - 1.5 * .2 - 3 * .4))
    assert r["stress_var"] == pytest.approx(7.25 + 2 * .95 * (2 - 1.5 - 3))
    assert r["book_sd"] == pytest.approx(2.5) and r["stress_sd"] == pytest.approx(np.sqrt(2.5))
    assert r["decorr_var"] == pytest.approx(7.25)  # legs decoupled: sum of (x_i sd_i)^2
    # an all-long book is riskier under the stress, a hedged one less
    long = book_risk({"A": 100.0, "B": 100.0, "C": 50.0}, cov)
    assert long["stress_var"] > long["book_var"]
    assert book_risk({}, cov)["book_var"] == 0.0
    s95 = stress_covariance(cov)
    np.testing.assert_allclose(np.diag(s95), np.diag(cov.to_numpy()))
    assert s95[0, 1] == pytest.approx(0.95 * 0.01 * 0.02)


def test_book_cap_and_scale():
    cov = _cov3()
    book = {"A": 100.0}
    trade = {"B": 100.0, "C": 100.0}
    assert within_book_cap(book_risk(book, cov), capital=1000.0, cap=None)
    assert not within_book_cap(book_risk({"A": 1e6}, cov), capital=1000.0, cap=0.01)
    s = cap_scale(book, trade, cov, capital=1000.0, cap=0.005)  # stressed sd <= 5
    after = book_risk({"A": 100.0, "B": 100.0 * s, "C": 100.0 * s}, cov)
    assert 0 < s < 1 and after["stress_sd"] == pytest.approx(5.0)
    assert cap_scale(book, trade, cov, 1000.0, None) == 1.0
    assert cap_scale({"A": 1e6}, trade, cov, 1000.0, 0.005) == 0.0


def test_trailing_covariance_matches_numpy(clusters):
    panel, _ = clusters
    t = panel.n_bars - 1
    cov = trailing_covariance(panel, t, 30)
    r = np.diff(np.log(panel.close), axis=0)[-720:]
    np.testing.assert_allclose(cov.to_numpy(), np.cov(r.T) * 24, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# correlation and regime kernels


def test_corr_matrix_matches_pandas_with_gaps(rng):
    x = rng.standard_normal((300, 5))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:200, 4] = np.nan
    got = corr_matrix(x, min_obs=150)
    want = pd.DataFrame(x).corr(min_periods=150).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)


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


# ---------------------------------------------------------------------------------------------
# point in time on the real data


@pytest.fixture(scope="module")
def real(spot_dir):
    from revertible.data import load_panel

    c = config_from_mapping({"data": {"path": str(spot_dir)}})
    return load_panel(c.data), c


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


# ---------------------------------------------------------------------------------------------
# sectors


def test_sector_map_default_and_user():
    assert sector_map(["FET/USDT", "XYZ/USDT"]) == {"FET/USDT": "ai"}
    assert DEFAULT_SECTORS["PEPE/USDT"] == "memecoins"
    with pytest.raises(ConfigError, match=r"not in the data: NOPE/USDT"):
        sector_map(["BTC/USDT"], {"BTC/USDT": "l1", "NOPE/USDT": "l1"})
    with pytest.raises(ConfigError, match="known sectors: l1"):
        sector_assets({"BTC/USDT": "l1"}, "ai")


def test_sector_pairs_with_funding(real, futures_dir, spot_dir):
    from revertible.data import load_panel

    c = config_from_mapping({"data": {"path": str(spot_dir), "funding_path": str(futures_dir),
                                      "assets": ["BTC/USDT", "ETH/USDT", "SOL/USDT",
                                                 "AVAX/USDT"]}})
    panel = load_panel(c.data)
    df = sector_pairs(panel, c, "l1", "2024-06-01")
    assert len(df) == 6
    with_f = df.dropna(subset=["funding_diff"])
    # BTC, ETH, SOL have perpetuals in the shared data; AVAX does not
    assert set(with_f["asset_a"]) | set(with_f["asset_b"]) == {"BTC/USDT", "ETH/USDT",
                                                                "SOL/USDT"}
    np.testing.assert_allclose(with_f["funding_diff"], with_f["funding_a"] - with_f["funding_b"])
    assert df["corr_30d"].between(0.3, 1.0).all()


# ---------------------------------------------------------------------------------------------
# CLI


@pytest.fixture(scope="module")
def market(tmp_path_factory, clusters) -> Path:
    folder = tmp_path_factory.mktemp("clusters") / "data"
    write_market(folder, clusters[0])
    return folder


def _cfg(tmp_path: Path, market: Path, extra: str = "") -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(f"data: {{path: {market}}}\n{extra}")
    return p


def test_cli_baskets_writes_table_and_plots(tmp_path, market):
    out = tmp_path / "b.parquet"
    res = runner.invoke(app, ["baskets", str(_cfg(tmp_path, market)), "--out", str(out),
                              "--heatmap", str(tmp_path / "h.png"),
                              "--regime-out", str(tmp_path / "r.csv"),
                              "--regime-plot", str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert {"basket", "asset", "weight", "mean_corr", "stress_loss_095", "trigger"} <= set(df)
    assert df["basket"].nunique() == 4
    for f in ("h.png", "r.png"):
        assert (tmp_path / f).read_bytes()[:4] == b"\x89PNG"
    assert set(pd.read_csv(tmp_path / "r.csv").columns) == {"time", "basket", "trigger", "value"}


@pytest.mark.parametrize("extra, msg", [
    ("baskets: {corr_band: [0.6, 1.2]}", "within [-1, 1]"),
    ("baskets: {corr_band: [-1.5, 0.9]}", "within [-1, 1]"),
    ("baskets: {corr_band: [0.9, 0.6]}", "inverted"),
    ("baskets: {min_size: 1}", "min_size"),
    ("baskets: {sectors: {'NOPE/USDT': ai}}", "not in the data: NOPE/USDT"),
])
def test_cli_bad_input_one_line_exit_2(tmp_path, market, extra, msg):
    out = tmp_path / "b.csv"
    res = runner.invoke(app, ["baskets", str(_cfg(tmp_path, market, extra)), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert msg in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output
    assert not out.exists()


def test_cli_sectors(tmp_path, market):
    names = [p.name.split("_")[0] for p in sorted(market.glob("*.feather"))][:4]
    extra = "baskets: {sectors: {" + ", ".join(f"'{n}/USDT': demo" for n in names) + "}}\n"
    cfg = _cfg(tmp_path, market, extra)
    res = runner.invoke(app, ["sectors", str(cfg)])
    assert res.exit_code == 0 and "demo (4)" in res.output
    res = runner.invoke(app, ["sectors", str(cfg), "--sector", "demo", "--out",
                              str(tmp_path / "s.csv"), "--heatmap", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 6
    res = runner.invoke(app, ["sectors", str(cfg), "--sector", "nope"])
    assert res.exit_code == 2 and "known sectors: demo" in res.output
    # the same view from the correlation engine's command
    res = runner.invoke(app, ["pairs", str(cfg), "--sector", "demo", "--out",
                              str(tmp_path / "p.csv"), "--heatmap", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "s.csv"))
    assert (tmp_path / "p.png").stat().st_size > 0


# ---------------------------------------------------------------------------------------------
# regime-trigger features (features/_regime.py)


def test_trigger_features_point_in_time_and_by_hand(clusters):
    from revertible.features import feature_names
    from revertible.features._triggers import TRIGGER_FEATURES, regime_trigger_features

    panel, _ = clusters
    c = config_from_mapping({"data": {"path": "."}, "features": {"use_regime": True}})
    assert feature_names(c)[-len(TRIGGER_FEATURES):] == list(TRIGGER_FEATURES)
    assert not set(TRIGGER_FEATURES) & set(feature_names(config_from_mapping(
        {"data": {"path": "."}})))
    t = np.array([800, 1500, panel.n_bars - 1, 100])
    ia, ib = np.array([0, 1, 2, 0]), np.array([3, 4, 5, 1])
    full = regime_trigger_features(panel, t, ia, ib, c)
    for k in range(3):
        cut = regime_trigger_features(panel.slice_bars(0, t[k] + 1), t[k:k + 1], ia[k:k + 1],
                                      ib[k:k + 1], c)
        for name in TRIGGER_FEATURES:
            np.testing.assert_allclose(cut[name], full[name][k:k + 1], rtol=1e-9, atol=1e-12)
    r = np.diff(np.log(panel.close), axis=0)  # r[j - 1] is the return of bar j
    k = 1
    x = r[t[k] - 72:t[k], [ia[k], ib[k]]]
    y = r[t[k] - 720:t[k], [ia[k], ib[k]]]
    want = np.corrcoef(x.T)[0, 1] - np.corrcoef(y.T)[0, 1]
    assert full["trig_corr_shift"][k] == pytest.approx(want, rel=1e-9)
    assert np.isnan(full["trig_corr_shift"][3])  # bar 100: no 30-day baseline yet
    assert set(np.unique(full["trig_vol_on"][:3])) <= {0.0, 1.0}


def test_cli_at_before_data_and_too_little_history(tmp_path, market):
    cfg = _cfg(tmp_path, market)
    res = runner.invoke(app, ["baskets", str(cfg), "--at", "2000-01-01"])
    assert res.exit_code == 2 and "before the first bar" in res.output
    # 30 days in: no asset has the 90 days of history a basket needs -> an empty table, exit 0
    out = tmp_path / "e.csv"
    res = runner.invoke(app, ["baskets", str(cfg), "--at", "2024-01-31", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "0 baskets" in res.output and len(pd.read_csv(out)) == 0
