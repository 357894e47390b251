"""Spread series: the compiled kernel against the plain reference, on gappy data."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.spread import pair_series, pair_spread, reference_series, rolling_corr
from revertible.synthetic import generate_market


@pytest.fixture(scope="module")
def gappy():
    panel, _ = generate_market(
        n_assets=6, n_bars=24 * 60, seed=11, n_late=2, missing_frac=0.05, gap_bars=40
    )
    logp = panel.log_close().copy(order="F")
    logp[-200:, 1] = np.nan  # a delisting
    return logp


WINDOWS = dict(beta_window=240, z_window=48, min_obs_frac=0.8, corr_window=120,
               corr_min_obs_frac=0.8)


def test_kernel_series_match_reference_on_gappy_data(gappy):
    logp = gappy
    n = logp.shape[1]
    ia = np.array([i for i in range(n) for j in range(i + 1, n)])
    ib = np.array([j for i in range(n) for j in range(i + 1, n)])
    got = pair_series(logp, ia, ib, **WINDOWS)
    finite_z = 0
    for p, (i, j) in enumerate(zip(ia, ib, strict=True)):
        ref = reference_series(logp[:, i], logp[:, j], **WINDOWS)
        for k, name in enumerate(["beta", "spread", "mean", "std", "z", "corr"]):
            np.testing.assert_array_equal(np.isnan(got[p, k]), np.isnan(ref[k]),
                                          err_msg=f"NaN pattern of {name}, pair {i}-{j}")
            np.testing.assert_allclose(got[p, k], ref[k], rtol=1e-7, atol=1e-9,
                                       err_msg=f"{name}, pair {i}-{j}")
        finite_z += int(np.isfinite(ref[4]).sum())
    assert finite_z > 5_000
    # the gaps and late listings matter: windows with missing bars produce values
    assert np.isnan(logp).mean() > 0.05


def test_single_pair_apis_are_the_kernel(gappy):
    a, b = gappy[:, 2], gappy[:, 3]
    sp = pair_spread(a, b, 240, 48, 0.8)
    ref = reference_series(a, b, 240, 48, 0.8)
    np.testing.assert_allclose(sp.z, ref[4], rtol=1e-7, atol=1e-9)
    corr = rolling_corr(a, b, 120, 0.8)
    np.testing.assert_array_equal(
        corr, pair_series(gappy, [2], [3], corr_window=120, corr_min_obs_frac=0.8)[0, 5]
    )
    np.testing.assert_allclose(corr, reference_series(a, b, 240, 48, 0.8, 120, 0.8)[5],
                               rtol=1e-7, atol=1e-9)
