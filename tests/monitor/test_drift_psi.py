"""Quantile sketch and PSI: known answers on drawn samples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from revertible.monitor import make_reference, psi, psi_noise, quantile_sketch


def test_sketch_is_small_json_and_has_equal_frequency_bins(rng):
    ref = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.exponential(size=5000)})
    ref.loc[:99, "y"] = np.nan
    sk = quantile_sketch(ref, bins=10)
    assert json.loads(json.dumps(sk)) == sk  # plain JSON: storable with the model
    assert sk["n"] == 5000 and len(sk["columns"]["x"]["edges"]) == 9
    assert np.allclose(sk["columns"]["x"]["shares"], 0.1, atol=0.002)
    assert sk["columns"]["y"]["missing"] == 0.02


def test_psi_near_zero_for_the_same_distribution_and_large_for_a_shift(rng):
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    sk = quantile_sketch(ref)
    same = psi(sk, pd.DataFrame({"x": rng.normal(size=2000)}))["x"]
    moved = psi(sk, pd.DataFrame({"x": rng.normal(0.5, 1.0, size=2000)}))["x"]
    assert same < 0.02
    assert 0.15 < moved < 0.4  # a half-sigma mean shift: PSI about 0.25
    assert np.isnan(psi(sk, pd.DataFrame({"z": [1.0]}))["x"])  # column absent: unknown


def test_psi_noise_level_bounds_same_distribution_samples(rng):
    ref_rows = rng.normal(size=2000)
    ref = make_reference(np.zeros(2000), pd.DataFrame({"probability": ref_rows}))
    noise = psi_noise(ref, 100)
    draws = [psi(ref.sketch, pd.DataFrame({"probability": rng.normal(size=100)}))["probability"]
             for _ in range(200)]
    assert np.mean(np.array(draws) > noise) <= 0.02  # alpha 0.001 (+ the chi-square approx.)
    assert noise > 0.25  # 100 rows: a PSI of 0.25 alone would be noise
    assert psi_noise(ref, 10_000) < 0.05


def test_return_deciles_known_answer(rng):
    from revertible.monitor import return_deciles

    e = rng.normal(0, 0.01, size=1000)
    done = pd.DataFrame({"expected_revert": e, "realised_revert": e + rng.normal(0, 0.002, 1000)})
    table = return_deciles(done)
    assert list(table["n"]) == [100] * 10
    assert table.attrs["rank_ic"] > 0.9 and table["realised"].is_monotonic_increasing
    assert return_deciles(done.drop(columns="expected_revert")).empty


def test_return_deciles_of_a_constant_expected_return_have_no_rank_correlation(rng):
    import warnings

    from revertible.monitor import return_deciles

    done = pd.DataFrame({"expected_revert": np.full(200, -0.002),
                         "realised_revert": rng.normal(0, 0.01, 200)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning reached the user's terminal
        table = return_deciles(done)
    assert np.isnan(table.attrs["rank_ic"]) and table["n"].sum() == 200


def test_return_deciles_of_expected_returns_apart_by_float_noise_have_no_rank_correlation(rng):
    from revertible.monitor import return_deciles

    # the shared spot data: every expected return -24 bp up to float rounding (the calibrator's
    # common level), the rounding following the probability's bins, which rank realised
    # returns a little; the monitor reported their "rank correlation 0.060" over 69,301 rows
    p = rng.random(5000)
    done = pd.DataFrame({"expected_revert": -0.0024 + np.round(p, 1) * 1e-12,
                         "realised_revert": rng.normal(0, 0.01, 5000) + 0.02 * p})
    assert np.ptp(done["expected_revert"]) > 0
    table = return_deciles(done)
    assert np.isnan(table.attrs["rank_ic"]) and table["n"].sum() == 5000
    # 0.01 bp apart is a ranking
    done["expected_revert"] = -0.0024 + np.round(p, 1) * 1e-6
    assert return_deciles(done).attrs["rank_ic"] > 0.3


def test_psi_noise_grows_with_the_design_effect(rng):
    import dataclasses

    ref = make_reference(np.ones(5000), pd.DataFrame({"probability": rng.random(5000)}))
    assert ref.design_effect == 1.0
    dep = dataclasses.replace(ref, design_effect=9.0)
    assert psi_noise(dep, 20_000) == pytest.approx(9 * psi_noise(ref, 20_000))
    # 2,000 rows at design effect 9 weigh like 222: below 1,000 the level is drawn, and it is
    # above the chi-square approximation's there
    assert psi_noise(dep, 2000) > 9 * psi_noise(ref, 2000)


def test_small_samples_keep_the_psi_noise_level_s_false_alarm_rate(rng):
    # the chi-square approximation's 1% level at 50 rows was exceeded by about 4% of samples
    # drawn from the reference itself (an empty bin, floored at 1e-4, adds about 0.69 alone)
    from scipy.stats import chi2

    ref = make_reference(np.zeros(5000), pd.DataFrame({"probability": rng.normal(size=5000)}))

    def same(n):
        return np.array([psi(ref.sketch, pd.DataFrame({"probability": rng.normal(size=n)}))[
            "probability"] for _ in range(2000)])

    small = same(50)
    assert np.mean(small > psi_noise(ref, 50, alpha=0.01)) <= 0.02  # 1% (+ the edges' noise)
    assert np.mean(small > chi2.ppf(0.99, 9) * (1 / 50 + 1 / 5000)) > 0.025  # the old level
    assert np.mean(same(120) > psi_noise(ref, 120, alpha=0.01)) <= 0.02


def test_return_deciles_rank_a_dense_range_of_expected_returns(rng):
    from revertible.decision import tied_levels
    from revertible.monitor import return_deciles

    # 100,000 expected returns 5e-5 bp apart: ties chained gap by gap merged them into one
    # level, so the rank correlation came out NaN
    e = np.linspace(-26, -21, 100_000) * 1e-4
    done = pd.DataFrame({"expected_revert": e,
                         "realised_revert": 3 * e + rng.normal(0, 0.0005, len(e))})
    table = return_deciles(done)
    assert 0.5 < table.attrs["rank_ic"] < 0.8  # plain Spearman: 0.66
    assert len(np.unique(tied_levels(e * 1e4))) > 40_000  # cells of 1e-4 bp


def test_the_drawn_level_uses_the_reference_s_own_shares(rng):
    # an isotonic calibrator's ties leave fewer, unequal bins (the demo's model: 7 bins with
    # shares 0.04-0.27, where 10 equal shares gave 0.328 at 100 rows against 0.353 from its
    # own): the level is drawn from the sketch's shares and keeps its rate there
    values, weights = np.array([0.2, 0.35, 0.5, 0.65, 0.8]), np.array([0.05, 0.1, 0.2, 0.3, 0.35])
    ref = make_reference(np.zeros(5000), pd.DataFrame(
        {"probability": rng.choice(values, 5000, p=weights)}))
    assert len(ref.sketch["columns"]["probability"]["edges"]) < 9
    level = psi_noise(ref, 60, alpha=0.01)
    draws = np.array([psi(ref.sketch, pd.DataFrame({"probability": rng.choice(
        values, 60, p=weights)}))["probability"] for _ in range(2000)])
    assert np.mean(draws > level) <= 0.02
