"""Kalman hedge ratio against its plain reference, Engle-Granger p-values against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.config import config_from_mapping
from revertible.data import load_panel
from revertible.spread import (
    coint_pvalues,
    engle_granger,
    kalman_beta,
    kalman_reference,
    kalman_series,
    mackinnon_p,
    reference_series,
)

ASSETS = ["BTC/USDT", "ETH/USDT", "LTC/USDT", "BCH/USDT", "DOGE/USDT", "STRK/USDT", "WIF/USDT"]


@pytest.fixture(scope="module")
def real(spot_dir):
    cfg = config_from_mapping({"data": {"path": str(spot_dir), "assets": ASSETS}})
    return load_panel(cfg.data)


def _gappy(rng, n=3000):
    b = np.cumsum(rng.normal(0, 0.01, n)) + 3.0
    a = 0.7 * b + 0.002 * np.cumsum(rng.normal(0, 1, n)) * 0.1 + rng.normal(0, 0.004, n) + 1.0
    a[:40] = np.nan  # late listing
    a[500:530] = np.nan  # gap in one leg
    b[900] = np.nan
    return a, b


@pytest.mark.parametrize(("q", "r", "warm"), [(1e-6, 1e-4, 1), (1e-4, 1e-3, 50), (1e-8, 1e-5, 648)])
def test_kalman_equals_plain_reference(rng, q, r, warm):
    a, b = _gappy(rng)
    got = kalman_beta(a, b, q, r, warm)
    ref = kalman_reference(a, b, q, r, warm)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    assert np.isnan(got[:, : 40 + warm - 1]).all()  # nothing before the listing and warm-up
    assert np.isnan(got[0, 500:530]).all()  # no value at a bar missing a price
    assert np.isfinite(got[0, -100:]).all()


def test_kalman_on_real_pairs_and_cut_at_t(real):
    logp = real.log_close()
    for i, j in [(0, 1), (2, 3), (4, 5), (1, 6)]:
        a, b = logp[:, i], logp[:, j]
        got = kalman_beta(a, b, 1e-6, 1e-4, 648)
        np.testing.assert_allclose(got, kalman_reference(a, b, 1e-6, 1e-4, 648), rtol=0,
                                   atol=1e-9)
        for cut in (1000, 4321):  # the data cut at T: every value up to T unchanged, bit for bit
            np.testing.assert_array_equal(kalman_beta(a[:cut], b[:cut], 1e-6, 1e-4, 648),
                                          got[:, :cut])
    ser = kalman_series(logp, np.array([0, 2]), np.array([1, 3]), 720, 72, 0.9, 1e-6, 1e-4)
    cut = kalman_series(logp[:3000], np.array([0, 2]), np.array([1, 3]), 720, 72, 0.9, 1e-6, 1e-4)
    np.testing.assert_array_equal(cut, ser[:, :, :3000])


def test_kalman_z_follows_the_ols_definitions(real):
    """z from the Kalman beta follows the OLS path's definitions, beta_t frozen at t."""
    logp = real.log_close()
    a, b = logp[:, 0], logp[:, 1]
    ks = kalman_series(logp, np.array([0]), np.array([1]), 720, 72, 0.9, 1e-6, 1e-4)[0]
    beta = ks[0]
    t = np.flatnonzero(np.isfinite(ks[4]))[::997]
    assert len(t) > 5
    for k in t:
        s = a[k - 71 : k + 1] - beta[k] * b[k - 71 : k + 1]
        s = s[np.isfinite(s)]
        assert ks[2, k] == pytest.approx(s.mean(), abs=1e-12)
        assert ks[3, k] == pytest.approx(s.std(ddof=1), rel=1e-9)
        assert ks[4, k] == pytest.approx((a[k] - beta[k] * b[k] - s.mean()) / s.std(ddof=1),
                                         rel=1e-7)
    # the OLS reference of the same pair agrees on what is NaN before the windows fill
    ols = reference_series(a, b)
    assert np.isnan(ks[0, :647]).all() and np.isfinite(ols[0, 719])


def test_kalman_beta_tracks_a_moving_hedge_ratio(rng):
    n = 6000
    b = np.cumsum(rng.normal(0, 0.01, n))
    true = np.r_[np.full(n // 2, 0.5), np.full(n - n // 2, 1.2)]
    a = true * b + rng.normal(0, 0.003, n)
    k = kalman_beta(a, b, 1e-5, 1e-5, 1)[0]
    assert abs(k[n // 2 - 1] - 0.5) < 0.1 and abs(k[-1] - 1.2) < 0.1


@pytest.mark.parametrize("lags", [0, 1, 3])
def test_engle_granger_equals_statsmodels(real, lags):
    coint = pytest.importorskip("statsmodels.tsa.stattools").coint
    logp = real.log_close()
    checked, small = 0, 0
    for i, j in [(0, 1), (2, 3), (0, 2), (1, 4), (3, 4), (5, 6)]:
        for end in (2000, 4000, 6000):
            a, b = logp[end - 720 : end, i], logp[end - 720 : end, j]
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 600:
                continue
            want = coint(a[ok], b[ok], trend="c", maxlag=lags, autolag=None)
            stat, p = engle_granger(a, b, lags)
            assert stat == pytest.approx(want[0], rel=1e-9, abs=1e-9)
            assert abs(p - want[1]) < 1e-6
            checked += 1
            small += want[1] < 0.1
    assert checked >= 12 and small >= 1  # real pairs, some of them cointegrated at 10%


def test_mackinnon_p_is_monotone_and_bounded():
    stats = np.linspace(-25, 3, 500)
    p = np.array([mackinnon_p(s) for s in stats])
    assert (np.diff(p) >= -1e-12).all() and p[0] == 0.0 and p[-1] == 1.0
    # the 5% critical value of MacKinnon (2010) for N=2 with a constant, large samples: -3.34
    assert mackinnon_p(-3.34) == pytest.approx(0.05, abs=0.003)


def test_coint_schedule_point_in_time(real):
    logp = real.log_close()
    ia, ib = np.array([0, 2]), np.array([1, 3])
    pv = coint_pvalues(logp, ia, ib, window=720, lags=1, every=24)
    # computed at the last bar of each day from the 720 bars ending there, constant in between
    for d in (1007, 4799, 5999):
        stat, p = engle_granger(logp[d - 719 : d + 1, 0], logp[d - 719 : d + 1, 1], 1)
        assert pv[0, d] == pytest.approx(p, abs=1e-12)
        assert (pv[0, d : d + 24] == pv[0, d]).all()
    assert np.isnan(pv[:, :647]).all()
    cut = coint_pvalues(logp[:5000], ia, ib, window=720, lags=1, every=24)
    np.testing.assert_array_equal(cut, pv[:, :5000])
