"""Generated markets: layout, determinism, planted pairs and breaks, listings, gaps, bars, files."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from revertible.synthetic import (
    DEFAULT_PAIRS,
    TRUTH_COLUMNS,
    PairSpec,
    generate_market,
    ou_phi,
    write_market,
)

from .support import _ar1, _half_life

FIELDS = ("open", "high", "low", "close", "volume", "quote_volume")


@pytest.fixture(scope="module")
def market():
    return generate_market(seed=0)


@pytest.fixture(scope="module")
def long_market():
    """600 days and 14 assets: every default pair, long enough for tight half-life estimates."""
    return generate_market(n_assets=14, n_bars=24 * 600, seed=7)


def _legs(panel, row):
    logp = panel.log_close()
    return logp[:, panel.asset_index(row.asset_a)], logp[:, panel.asset_index(row.asset_b)]


def _ols_beta(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.polyfit(b[ok], a[ok], 1)[0])


def test_panel_layout(market):
    panel, truth = market
    assert panel.n_bars == 24 * 240 and panel.n_assets == 12
    assert panel.assets[:3] == ("AAA/USDT", "BBB/USDT", "CCC/USDT")
    assert str(panel.times.tz) == "UTC" and panel.times[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert (np.diff(panel.times.asi8) == 3_600 * 10**9).all()
    for f in FIELDS:
        x = getattr(panel, f)
        assert x.shape == (panel.n_bars, panel.n_assets) and x.dtype == np.float64
        assert x.flags.f_contiguous
    assert panel.funding is None and panel.source == "synthetic"
    assert list(truth.columns) == TRUTH_COLUMNS
    assert list(truth["kind"]) == ["ou", "ou", "ou", "ou", "random_walk", "break"]
    assert list(truth["half_life_bars"].iloc[:4]) == [6.0, 12.0, 24.0, 48.0]
    assert truth["break_bar"].iloc[5] == 24 * 120 and truth["break_bar"].iloc[:5].isna().all()
    assert panel.meta["truth"] is truth


def test_deterministic_for_a_seed(market):
    panel, truth = market
    again, truth2 = generate_market(seed=0)
    assert again.fingerprint() == panel.fingerprint()
    pd.testing.assert_frame_equal(truth, truth2)
    other, _ = generate_market(seed=1)
    assert other.fingerprint() != panel.fingerprint()


def test_fast():
    best = min(_timed(generate_market) for _ in range(3))
    assert best < 0.5, f"generate_market() took {best:.3f}s"


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="2 \\* len\\(pairs\\) <= n_assets"):
        generate_market(n_assets=4, pairs=DEFAULT_PAIRS[:3])
    with pytest.raises(ValueError, match="kind"):
        PairSpec("cointegrated", half_life=5)
    with pytest.raises(ValueError, match="half_life > 0"):
        PairSpec("ou")
    with pytest.raises(ValueError, match="n_late \\+ n_illiquid"):
        generate_market(n_assets=4, n_late=3, n_illiquid=2)


def test_planted_ou_half_lives(long_market):
    """AR(1) on the true spread recovers phi = 0.5**(1/h) within 4 standard errors."""
    panel, truth = long_market
    for row in truth[truth["kind"] == "ou"].itertuples():
        a, b = _legs(panel, row)
        phi_hat, n = _ar1(a - row.beta * b - row.intercept)
        phi = ou_phi(row.half_life_bars)
        tol = 4 * math.sqrt((1 - phi**2) / n) + 5.0 / n  # sampling error + small-sample bias
        assert abs(phi_hat - phi) <= tol, (row.half_life_bars, _half_life(phi_hat))
        # the hedge ratio is recoverable from prices alone
        assert abs(_ols_beta(a, b) - row.beta) < 0.03


def test_random_walk_pair_is_not_mean_reverting(long_market):
    panel, truth = long_market
    row = next(truth[truth["kind"] == "random_walk"].itertuples())
    a, b = _legs(panel, row)
    phi_hat, _ = _ar1(a - row.beta * b - row.intercept)
    assert _half_life(phi_hat) > 300


def test_breaks(long_market):
    panel, truth = long_market
    breaks = truth[truth["kind"] == "break"]
    assert len(breaks) == 2
    # 1. the OU spread turns into a random walk at the break
    row = next(breaks[breaks["beta_after"] == breaks["beta"]].itertuples())
    a, b = _legs(panel, row)
    s = a - row.beta * b - row.intercept
    before, _ = _ar1(s[: row.break_bar])
    after, _ = _ar1(s[row.break_bar :])
    assert abs(_half_life(before) - row.half_life_bars) < 0.25 * row.half_life_bars
    assert _half_life(after) > 150
    # 2. the hedge ratio shifts at the break
    row = next(breaks[breaks["beta_after"] != breaks["beta"]].itertuples())
    a, b = _legs(panel, row)
    k = row.break_bar
    assert abs(_ols_beta(a[:k], b[:k]) - row.beta) < 0.05
    assert abs(_ols_beta(a[k:], b[k:]) - row.beta_after) < 0.05


def test_inverse_relationships(market):
    panel, truth = market
    r = np.diff(panel.log_close(), axis=0)
    corr = pd.DataFrame(r, columns=panel.assets).corr().to_numpy()
    row = next(truth[truth["beta"] < 0].itertuples())
    ia, ib = panel.asset_index(row.asset_a), panel.asset_index(row.asset_b)
    assert corr[ia, ib] < -0.5
    planted = {frozenset((panel.asset_index(x), panel.asset_index(y)))
               for x, y in zip(truth["asset_a"], truth["asset_b"], strict=True)}
    others = [corr[i, j] for i in range(12) for j in range(i) if frozenset((i, j)) not in planted]
    assert min(others) < -0.3  # the factor structure has inverse pairs too
    assert max(others) > 0.3


def test_late_listings_are_nan_before_listing(market):
    panel, _ = market
    listing = panel.meta["listing_bar"]
    late = [name for name, bar in listing.items() if bar > 0]
    assert len(late) == 2
    for name in late:
        j, k = panel.asset_index(name), listing[name]
        for f in FIELDS:
            x = getattr(panel, f)[:, j]
            assert np.isnan(x[:k]).all() and np.isfinite(x[k])
    for name, bar in listing.items():
        assert bar == 0 or name in late


def test_missing_bars(market):
    panel, _ = market
    nan = np.isnan(panel.close)
    for f in FIELDS:
        assert (np.isnan(getattr(panel, f)) == nan).all()  # a bar is missing in every field
    assert np.isfinite(panel.close[-1]).all()
    total = 0
    for name, count in panel.meta["missing"].items():
        j = panel.asset_index(name)
        assert nan[panel.meta["listing_bar"][name] :, j].sum() == count
        total += count
    assert 5 <= total <= 100  # "a few"
    # ... including one run of 6 consecutive missing bars after a listing
    listing = panel.meta["listing_bar"]
    runs = [_longest_run(nan[listing[a] :, j]) for j, a in enumerate(panel.assets)]
    assert max(runs) >= 6


def _longest_run(mask):
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def test_ohlc_invariants(market):
    panel, _ = market
    ok = np.isfinite(panel.close)
    o, h, lo, c = (getattr(panel, f)[ok] for f in ("open", "high", "low", "close"))
    assert (o > 0).all() and (lo > 0).all()
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert (h > lo).all()
    # open is the previous close up to a tiny gap
    prev = panel.close[:-1]
    both = np.isfinite(prev) & np.isfinite(panel.open[1:])
    assert np.median(np.abs(np.log(panel.open[1:][both] / prev[both]))) < 1e-3


def test_volume_liquidity_filter(market):
    panel, _ = market
    assert (panel.volume[np.isfinite(panel.volume)] > 0).all()
    np.testing.assert_allclose(panel.quote_volume, panel.volume * panel.close, rtol=1e-12)
    daily = panel.frame("quote_volume").resample("D").sum(min_count=20).median()
    illiquid = set(panel.meta["illiquid"])
    assert len(illiquid) == 1
    for name, med in daily.items():
        assert (med < 1e6) == (name in illiquid), (name, med)


def test_write_market_round_trip(market, tmp_path):
    panel, truth = market
    paths = write_market(tmp_path / "data", panel)
    assert [p.name for p in paths[:2]] == ["AAA_USDT-1h.feather", "BBB_USDT-1h.feather"]
    assert paths[-1].name == "truth.csv" and len(paths) == panel.n_assets + 1
    for j, path in enumerate(paths[:-1]):
        df = pd.read_feather(path)
        assert list(df.columns) == ["date", "open", "high", "low", "close", "volume"]
        assert str(df["date"].dtype) == "datetime64[ns, UTC]"
        ok = np.isfinite(panel.close[:, j])
        assert len(df) == ok.sum() and df["date"].is_monotonic_increasing
        pd.testing.assert_index_equal(pd.DatetimeIndex(df["date"]), panel.times[ok],
                                      check_names=False)
        np.testing.assert_array_equal(df["close"].to_numpy(), panel.close[ok, j])
        np.testing.assert_array_equal(df["volume"].to_numpy(), panel.volume[ok, j])
    back = pd.read_csv(paths[-1])
    assert list(back.columns) == TRUTH_COLUMNS
    assert list(back["kind"]) == list(truth["kind"])
    assert list(back["asset_a"]) == list(truth["asset_a"])
    np.testing.assert_allclose(back["beta"], truth["beta"])
    assert back["break_bar"].iloc[5] == truth["break_bar"].iloc[5]


def test_write_market_without_truth(tmp_path):
    panel, _ = generate_market(n_assets=4, n_bars=100, seed=3, n_late=0, n_illiquid=0)
    bare = type(panel)(**{**panel.__dict__, "meta": {}})
    paths = write_market(tmp_path, bare)
    assert [p.suffix for p in paths] == [".feather"] * 4
    assert not (tmp_path / "truth.csv").exists()


def test_factor_returns_are_the_unplanted_assets_log_returns():
    """The factor model replayed from the seed gives every placebo asset's log returns."""
    from revertible.synthetic import factor_returns

    panel, _ = generate_market(n_assets=16, n_bars=24 * 30, seed=101, pairs=[])
    f = factor_returns(np.random.default_rng(101), panel.n_bars, 16)
    observed = np.diff(np.log(panel.close), axis=0)
    seen = np.isfinite(observed)  # late listings and missing bars
    assert seen.mean() > 0.8
    np.testing.assert_allclose(observed[seen], f.returns[1:][seen], rtol=0, atol=1e-12)
    assert (f.variance > 0).all() and np.abs(f.drift).max() < 1e-4
