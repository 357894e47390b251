"""Backtest statistics against known answers: bootstrap interval, PSR and deflated Sharpe."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from revertible.backtest import (
    bootstrap_mean_ci,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    sharpe_by_period,
)


def test_bootstrap_interval_of_iid_trades_matches_the_normal_interval(rng):
    mu, sd, n, days = 5.0, 50.0, 4000, 400
    v = rng.normal(mu, sd, n)
    day = rng.integers(0, days, n)
    mean, lo, hi = bootstrap_mean_ci(v, day, n_samples=4000, seed=1)
    half = sps.norm.ppf(0.95) * sd / math.sqrt(n)  # 90% two-sided
    assert mean == pytest.approx(v.mean())
    assert hi - lo == pytest.approx(2 * half, rel=0.12)
    assert lo < mu < hi
    assert (lo + hi) / 2 == pytest.approx(mean, abs=0.2 * half)


def test_day_blocks_widen_the_interval_of_correlated_trades(rng):
    # trades within a day share a day shock: the day-block interval must see it
    days, per_day = 200, 20
    shock = rng.normal(0, 20.0, days)
    v = (shock[:, None] + rng.normal(0, 20.0, (days, per_day))).ravel()
    day = np.repeat(np.arange(days), per_day)
    _, lo, hi = bootstrap_mean_ci(v, day, n_samples=3000, seed=2)
    _, lo_iid, hi_iid = bootstrap_mean_ci(v, np.arange(len(v)), n_samples=3000, seed=2)
    # true std of the mean: sqrt(20^2 / days + 20^2 / (days * per_day))
    want = 2 * sps.norm.ppf(0.95) * math.sqrt(400 / days + 400 / (days * per_day))
    assert hi - lo == pytest.approx(want, rel=0.15)
    assert hi - lo > 2.5 * (hi_iid - lo_iid)


def test_bootstrap_edge_cases():
    assert all(math.isnan(x) for x in bootstrap_mean_ci(np.array([]), np.array([])))
    # one block (every trade exited on one day): the mean, no interval (it was [2, 2], a
    # zero-width 90% interval from one day's trades)
    mean, lo, hi = bootstrap_mean_ci(np.array([1.0, 3.0]), np.array([0, 0]))
    assert mean == 2.0 and math.isnan(lo) and math.isnan(hi)
    # two blocks: an interval that has a width
    _, lo, hi = bootstrap_mean_ci(np.array([1.0, 3.0]), np.array([0, 1]))
    assert lo < 2.0 < hi


def test_probabilistic_sharpe_of_normal_returns_matches_the_formula(rng):
    mu, sd, t = 0.001, 0.01, 20_000  # a true per-period Sharpe of 0.1
    r = rng.normal(mu, sd, t)
    psr = probabilistic_sharpe(r, 0.09)
    # normal returns: skew 0, kurtosis 3: PSR = Z((SR - SR*) sqrt(T-1) / sqrt(1 + SR^2 / 2))
    sr = r.mean() / r.std(ddof=1)
    want = sps.norm.cdf((sr - 0.09) * math.sqrt(t - 1) / math.sqrt(1 + sr**2 / 2))
    assert psr == pytest.approx(want, abs=0.02)
    assert abs(sr - 0.1) < 4 / math.sqrt(t)  # the sample is what we think it is


def test_deflated_sharpe_is_calibrated_under_selection(rng):
    # 300 searches, each picking the best of 20 unskilled strategies (true Sharpe 0)
    n_search, n_trials, t = 300, 20, 250
    best_psr, best_dsr = [], []
    for _ in range(n_search):
        r = rng.normal(0.0, 0.01, (n_trials, t))
        k = int(np.argmax(r.mean(1) / r.std(1, ddof=1)))
        best_psr.append(probabilistic_sharpe(r[k]))
        best_dsr.append(deflated_sharpe(r[k], n_trials))
    best_psr, best_dsr = np.array(best_psr), np.array(best_dsr)
    # without deflation the best of 20 looks significant most of the time
    assert np.mean(best_psr > 0.95) > 0.4
    # deflated: a false discovery at the 5% level about 5% of the time
    assert 0.0 <= np.mean(best_dsr > 0.95) < 0.12
    assert 0.3 < np.median(best_dsr) < 0.7  # roughly uniform under the null


def test_deflated_sharpe_falls_as_trials_grow(rng):
    r = rng.normal(0.002, 0.01, 500)  # a real edge
    dsr = [deflated_sharpe(r, n) for n in (1, 2, 5, 10, 100, 1000)]
    assert dsr[0] == pytest.approx(probabilistic_sharpe(r))
    assert all(a > b for a, b in zip(dsr, dsr[1:], strict=False))
    assert dsr[0] > 0.99 and dsr[-1] < dsr[0]
    assert expected_max_sharpe(1, 0.1) == 0.0
    # the expected maximum of N standard normals (known values: N=10 -> 1.54, N=100 -> 2.51)
    assert expected_max_sharpe(10, 1.0) == pytest.approx(1.54, abs=0.05)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(2.51, abs=0.05)
    assert math.isnan(deflated_sharpe(np.array([0.01, 0.01]), 3))


def test_sharpe_by_quarter():
    idx = pd.date_range("2024-01-01", "2024-06-30 23:00", freq="h", tz="UTC")
    r = np.where(idx.month <= 3, np.tile([0.002, 0.0], len(idx))[: len(idx)],
                 np.tile([-0.001, 0.001], len(idx))[: len(idx)])  # fmt: skip
    eq = pd.Series(100 * np.cumprod(1 + r), index=idx)
    out = sharpe_by_period(eq, 24 * 365)
    assert set(out) == {"2024q1", "2024q2"}
    assert out["2024q1"] > 10 and abs(out["2024q2"]) < 1
